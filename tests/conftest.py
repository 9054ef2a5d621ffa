"""Shared fixtures: real services on loopback, started per session and stopped by PID."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from wp_lambda.local.mariadb import MariaDB

REPO = Path(__file__).resolve().parents[1]
DEBIAN_WORDPRESS = Path("/usr/share/wordpress")


def wplambda_cmd() -> list[str]:
    """The real console script of the environment running the tests."""
    script = Path(sys.executable).with_name("wplambda")
    return [str(script)] if script.exists() else [sys.executable, "-m", "wp_lambda"]


def run_wplambda(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                 timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*wplambda_cmd(), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, check=False)


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


def copy_wordpress(dest: Path) -> Path:
    """Copy Debian's WordPress with symlinks dereferenced, without Debian's own config files."""
    shutil.copytree(DEBIAN_WORDPRESS, dest, symlinks=False)
    for name in ("wp-config.php", ".htaccess"):
        (dest / name).unlink(missing_ok=True)
    return dest
