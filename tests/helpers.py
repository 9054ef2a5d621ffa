"""Helpers for tests in every area (importable because pytest puts tests/ on sys.path)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from moto.server import ThreadedMotoServer

REPO = Path(__file__).resolve().parents[1]
DEBIAN_WORDPRESS = Path("/usr/share/wordpress")


def wplambda_cmd() -> list[str]:
    """The real console script of the environment running the tests."""
    script = Path(sys.executable).with_name("wplambda")
    return [str(script)] if script.exists() else [sys.executable, "-m", "wp_lambda"]


def run_wplambda(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                 timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real ``wplambda`` console script in a subprocess."""
    return subprocess.run([*wplambda_cmd(), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, check=False)


def copy_wordpress(dest: Path) -> Path:
    """Copy Debian's WordPress with symlinks dereferenced, without Debian's own config files."""
    shutil.copytree(DEBIAN_WORDPRESS, dest, symlinks=False)
    for name in ("wp-config.php", ".htaccess"):
        (dest / name).unlink(missing_ok=True)
    return dest


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's server on localhost on a random port; yields its endpoint URL.

    Servers in one process share moto's backends, so the state is reset when it stops and the
    next test module starts empty.
    """
    server = ThreadedMotoServer(ip_address="localhost", port=0, verbose=False)
    server.start()
    endpoint = f"http://localhost:{server._server.server_port}"  # type: ignore[union-attr]
    try:
        yield endpoint
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
        server.stop()
