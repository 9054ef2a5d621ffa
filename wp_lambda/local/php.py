"""Which PHP runs the site on this machine (``serve``, ``wp --local``, the tests): found, not assumed.

Debian's packages (``/usr/sbin/php-fpm8.2`` with ``/usr/bin/php8.2``) are what the kit is tested
with and what is found first on Debian, but any layout works: ``WPLAMBDA_LOCAL_PHP_FPM`` and
``WPLAMBDA_LOCAL_PHP`` name the two binaries outright; otherwise php-fpm is looked for on PATH and
in the sbin folders a user's PATH often lacks (versioned ``php-fpm8.3`` first, the preferred
version before the newest, then a plain ``php-fpm``), and php beside it under the same version.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from wp_lambda.common.errors import UserError

FPM_ENV = "WPLAMBDA_LOCAL_PHP_FPM"
CLI_ENV = "WPLAMBDA_LOCAL_PHP"
# Looked in after PATH: where distributions put php-fpm (Debian's /usr/sbin is not on a user's PATH).
SBIN = ("/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin")
INSTALL_HINT = ("apt-get install php-fpm php-cli php-mysql php-xml php-mbstring php-curl php-zip php-intl "
                f"php-gd (or run `make setup`), or name the binaries in {FPM_ENV} and {CLI_ENV}")


@dataclass(frozen=True)
class LocalPhp:
    """The php-fpm and php binaries of one local PHP, and its ``major.minor`` version."""

    fpm: Path
    cli: Path
    version: str


def _dirs(path: str | None) -> list[Path]:
    """PATH then SBIN, each folder once (resolved: /sbin is /usr/sbin on a merged-/usr system)."""
    entries = (os.environ.get("PATH", "") if path is None else path).split(os.pathsep)
    return list(dict.fromkeys(Path(p).resolve() for p in [*entries, *SBIN] if p))


def _version_of(cli: Path) -> str | None:
    try:
        result = subprocess.run([str(cli), "-r", "echo PHP_MAJOR_VERSION, '.', PHP_MINOR_VERSION;"],
                                capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 and re.fullmatch(r"\d+\.\d+", result.stdout.strip()) \
        else None


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in version.split(".") if n.isdigit())


def find(preferred: str, *, environ: Mapping[str, str] | None = None, path: str | None = None) -> LocalPhp:
    """The local PHP: the override variables, else ``preferred`` if installed, else the newest 8.x.

    Raises UserError naming what was looked for, and how to install or name it.
    """
    env = os.environ if environ is None else environ
    fpm_override, cli_override = env.get(FPM_ENV), env.get(CLI_ENV)
    if fpm_override or cli_override:
        if not (fpm_override and cli_override):
            raise UserError(f"{FPM_ENV} and {CLI_ENV} go together: set both or neither",
                            f"export {CLI_ENV}=/path/to/php alongside {FPM_ENV}=/path/to/php-fpm")
        fpm, cli = Path(fpm_override), Path(cli_override)
        version = _version_of(cli) if fpm.is_file() else None
        if version is None:
            raise UserError(f"{FPM_ENV}={fpm} / {CLI_ENV}={cli}: not a working php-fpm and php",
                            f"point {FPM_ENV} and {CLI_ENV} at existing binaries, or unset both")
        return LocalPhp(fpm, cli, version)
    dirs = _dirs(path)
    search = os.pathsep.join(map(str, dirs))
    versioned = {match[1]: found for d in dirs if d.is_dir() for found in sorted(d.glob("php-fpm[0-9]*"))
                 if (match := re.fullmatch(r"php-fpm(\d+\.\d+)", found.name)) and os.access(found, os.X_OK)}
    order = sorted(versioned, key=_key, reverse=True)
    for version in ([preferred] if preferred in versioned else []) + order:
        found_cli = shutil.which(f"php{version}", path=search)
        if found_cli is not None:
            return LocalPhp(versioned[version], Path(found_cli), version)
    plain_fpm, plain_cli = shutil.which("php-fpm", path=search), shutil.which("php", path=search)
    if plain_fpm and plain_cli and (version := _version_of(Path(plain_cli))):
        return LocalPhp(Path(plain_fpm), Path(plain_cli), version)
    raise UserError(f"no local php-fpm found (looked for php-fpm8.x with php8.x, then php-fpm with php, on PATH "
                    f"and in {', '.join(SBIN)})", INSTALL_HINT)
