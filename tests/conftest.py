"""Shared fixtures: real services on loopback, started per session and stopped by PID."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import DEBIAN_WORDPRESS

from wp_lambda.local.mariadb import MariaDB


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    """One private MariaDB for the test session (about 1 s to start)."""
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

