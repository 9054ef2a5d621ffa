"""Finding a local PHP (Debian's php-fpm and php) for ``serve`` and the tests.

Lambda gets PHP from Bref's layer; a laptop has its distribution's PHP. Any 8.x works for a
local run, but a version that differs from the configured one is worth a warning: code that runs
here may still fail on the deployed version.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from wp_lambda.errors import UserError

INSTALL_HINT = "install it with: sudo apt-get install php-fpm php-cli php-mysql php-xml php-mbstring " \
               "php-curl php-zip php-intl php-gd (or run `make setup`)"


@dataclass(frozen=True)
class LocalPhp:
    fpm: Path
    cli: Path
    version: str  # "8.2"


def _version_of(binary: Path) -> str:
    result = subprocess.run([str(binary), "-v"], capture_output=True, text=True, check=False)
    match = re.search(r"PHP (\d+\.\d+)", result.stdout)
    return match.group(1) if match else "unknown"


def find_local_php(preferred: str | None = None) -> LocalPhp:
    """php-fpm and php CLI of one version: ``WPLAMBDA_PHP_FPM``/``WPLAMBDA_PHP``, else the
    distribution's, the ``preferred`` version first."""
    env_fpm, env_cli = os.environ.get("WPLAMBDA_PHP_FPM"), os.environ.get("WPLAMBDA_PHP")
    if env_fpm:
        fpm = Path(env_fpm)
        cli = Path(env_cli or shutil.which("php") or "php")
        return LocalPhp(fpm, cli, _version_of(fpm))
    candidates: list[tuple[Path, Path]] = []
    sbin = Path("/usr/sbin")
    versions = sorted({p.name.removeprefix("php-fpm") for p in sbin.glob("php-fpm[0-9]*")}, reverse=True)
    if preferred in versions:
        versions.remove(preferred)
        versions.insert(0, preferred)
    for version in versions:
        cli = Path(f"/usr/bin/php{version}")
        candidates.append((sbin / f"php-fpm{version}", cli if cli.exists() else Path(shutil.which("php") or cli)))
    plain = shutil.which("php-fpm")
    if plain:
        candidates.append((Path(plain), Path(shutil.which("php") or "php")))
    for fpm, cli in candidates:
        if fpm.exists() and cli.exists():
            return LocalPhp(fpm, cli, _version_of(fpm))
    raise UserError("php-fpm was not found (looked in /usr/sbin and on PATH)", INSTALL_HINT)
