"""Helpers for tests in every area (importable because pytest puts tests/ on sys.path)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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
