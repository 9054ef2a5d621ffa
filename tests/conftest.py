"""Shared fixtures, the tiers and each xdist worker's temp dir.

Real services run on loopback or unix sockets, started per session and stopped by PID. Every test
sits in one tier folder, which marks it (``-m unit`` etc. select a tier across folders):

- ``tests/unit``: no service and no subprocess of php, MariaDB or moto; each test well under a second.
- ``tests/integration``: real MariaDB, php-fpm, moto's server, wp-cli, the CLI as a subprocess.
- ``tests/e2e``: `wplambda serve` with Chromium, whole flows.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.helpers import DEBIAN_WORDPRESS, pinned_wp_cli_env
from wp_lambda.local.mariadb import MariaDB

TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "integration", "e2e")
_WORKER_TMP = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """Builds find the pinned wp-cli offline (``pinned_wp_cli_env``), and an xdist worker gets a
    temp dir of its own as TMPDIR, for itself and every process it starts.

    Code that uses a fixed name under the temp dir (the runtime's wp-cli home, for one) would
    otherwise be shared by the workers running at the same time. pytest's own ``tmp_path`` dirs
    are per worker already.
    """
    # init writes build.wp_cli = "pinned": every build here must find wp-cli without the internet.
    os.environ.update(pinned_wp_cli_env())
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        path = tempfile.mkdtemp(prefix=f"wplambda-tests-{worker}-")
        os.environ["TMPDIR"] = path
        tempfile.tempdir = None  # gettempdir() reads TMPDIR again
        config.stash[_WORKER_TMP] = path


def pytest_unconfigure(config: pytest.Config) -> None:
    path = config.stash.get(_WORKER_TMP, None)
    if path:
        shutil.rmtree(path, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier, the first folder under tests/; a test outside them is an error,
    so that `make test-fast` cannot miss a new unit test by its location."""
    for item in items:
        parts = item.path.resolve().relative_to(TESTS).parts
        if len(parts) < 2 or parts[0] not in TIERS:
            raise pytest.UsageError(f"{item.path} is in no tier folder: move it under tests/unit, "
                                    "tests/integration or tests/e2e (tests/conftest.py says which is which)")
        item.add_marker(getattr(pytest.mark, parts[0]))


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    """One private MariaDB for the test session (about 1 s to start; one per xdist worker)."""
    server = MariaDB.start(tmp_path_factory.mktemp("mariadb") / "data")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def debian_wordpress() -> Path:
    """Debian's WordPress tree (the `wordpress` package); the tests that need it say so."""
    if not (DEBIAN_WORDPRESS / "wp-settings.php").exists():
        pytest.fail("Debian's wordpress package is missing: run `make setup`")
    return DEBIAN_WORDPRESS
