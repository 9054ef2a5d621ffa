"""Step 4: the PHP runtime layer, and the check that PHP has what WordPress needs.

Source ``bref``: the function also gets Bref's published layer (pinned ARN); ours adds only the
config and the Python runtime. Source ``dir``: php-fpm, php, the shared libraries they need
(found with ``ldd``, glibc excluded because Lambda's base image provides it) and the loaded
extensions are copied into the layer, with an ini file that loads them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wp_lambda import bref_layers
from wp_lambda.bundle.tree import EXEC_MODE, FILE_MODE, copy_file, stat_signature
from wp_lambda.common.errors import UserError
from wp_lambda.config import Config
from wp_lambda.local import php as local_php

# What WordPress needs: every entry is one requirement; a tuple is "any of".
REQUIRED: tuple[str | tuple[str, ...], ...] = ("mysqli", "opcache", "mbstring", "xml", "curl", "zip", "intl",
                                               ("gd", "imagick"))
# Without these WordPress cannot serve a page at all; the rest degrade features.
FATAL = frozenset({"mysqli"})
DEBIAN_PACKAGES = {"mysqli": "php{v}-mysql", "opcache": "php{v}-opcache", "mbstring": "php{v}-mbstring",
                   "xml": "php{v}-xml", "curl": "php{v}-curl", "zip": "php{v}-zip", "intl": "php{v}-intl",
                   "gd": "php{v}-gd", "imagick": "php{v}-imagick"}
# glibc comes with every Lambda runtime; shipping Debian's would clash with the system loader.
GLIBC = re.compile(r"^(linux-vdso|linux-gate|ld-linux[^/]*|libc|libm|libdl|libpthread|librt|libresolv|libutil|"
                   r"libnsl|libanl)\.so")
# Extensions others depend on load first (Debian's conf.d priorities).
EXTENSION_PRIORITY = {"opcache": 0, "mysqlnd": 1, "pdo": 1, "xml": 2}
SEARCH = {"fpm": ("sbin/php-fpm", "bin/php-fpm", "php-fpm", "sbin/php-fpm{v}", "bin/php-fpm{v}"),
          "cli": ("bin/php", "php", "bin/php{v}")}


@dataclass(frozen=True)
class PhpSource:
    """Where the PHP binaries come from. ``bref``: only ``layer_arn``; ``dir``: the binaries."""

    kind: str
    version: str
    fpm: Path | None = None
    cli: Path | None = None
    layer_arn: str | None = None
    extensions: tuple[str, ...] = field(default=())

    def fingerprint(self) -> str:
        if self.kind == "bref":
            return f"bref:{self.layer_arn}"
        assert self.fpm and self.cli
        ext_dir = extension_dir(self.cli)
        return ":".join([self.kind, stat_signature(self.fpm), stat_signature(self.cli),
                         stat_signature(ext_dir) if ext_dir else "-"])


def _find(root: Path, role: str, version: str) -> Path | None:
    for pattern in SEARCH[role]:
        candidate = root / pattern.format(v=version)
        if candidate.is_file():
            return candidate
    return None


def from_dir(root: Path, version: str) -> PhpSource:
    """A ``dir`` source: php-fpm and php found under ``root`` (bin/, sbin/ or top level)."""
    fpm, cli = _find(root, "fpm", version), _find(root, "cli", version)
    if fpm is None or cli is None:
        missing = "php-fpm" if fpm is None else "php"
        raise UserError(f"php.dir: no {missing} binary under {root} (looked in bin/, sbin/ and the top level)",
                        "point php.dir at a directory holding bin/php and sbin/php-fpm (or bin/php-fpm)")
    return PhpSource("dir", version, fpm=fpm, cli=cli, extensions=loaded_extensions(cli))


def debian_php_source(version: str = "8.2") -> PhpSource:
    """Debian's PHP (``/usr/sbin/php-fpm8.2``, ``/usr/bin/php8.2``): what ``serve`` and the tests use."""
    fpm, cli = Path(f"/usr/sbin/php-fpm{version}"), Path(f"/usr/bin/php{version}")
    if not fpm.is_file() or not cli.is_file():
        raise UserError(f"Debian's PHP {version} is not installed ({fpm}, {cli})",
                        f"apt-get install php{version}-fpm php{version}-cli (or run `make setup`)")
    return PhpSource("dir", version, fpm=fpm, cli=cli, extensions=loaded_extensions(cli))


def local_php_source(preferred: str) -> PhpSource:
    """The PHP found on this machine for running locally (:func:`wp_lambda.local.php.find`):
    ``preferred`` if installed, else the newest 8.x; Debian's packages on Debian.

    Any 8.x runs the site locally; the caller warns when the version differs from the configured one.
    """
    found = local_php.find(preferred)
    return PhpSource("dir", found.version, fpm=found.fpm, cli=found.cli, extensions=loaded_extensions(found.cli))


def from_config(config: Config) -> PhpSource:
    """The PHP source ``wplambda.toml`` asks for."""
    if config.php.source == "bref":
        arn = config.php.layer_arn or bref_layers.require_layer_arn(config.aws.region, config.php.version,
                                                                    config.aws.architecture)
        # The extra layers' ini files enable their extensions in Bref's conf.d (runtime/layout.py).
        return PhpSource("bref", config.php.version, layer_arn=arn,
                         extensions=tuple(sorted({*bref_layers.EXTENSIONS, *config.php.extensions})))
    root = Path(config.php.dir).expanduser()
    return from_dir(root if root.is_absolute() else config.root / root, config.php.version)


def loaded_extensions(cli: Path) -> tuple[str, ...]:
    """The extensions ``php -m`` reports (lowercase, "Zend OPcache" as "opcache")."""
    result = subprocess.run([str(cli), "-m"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise UserError(f"{cli} -m failed: {result.stderr.strip() or result.stdout.strip()}",
                        "check the PHP binaries in php.dir")
    names = {line.strip().lower() for line in result.stdout.splitlines()
             if line.strip() and not line.startswith("[")}
    if "zend opcache" in names:
        names.discard("zend opcache")
        names.add("opcache")
    return tuple(sorted(names))


def extension_dir(cli: Path) -> Path | None:
    result = subprocess.run([str(cli), "-r", "echo ini_get('extension_dir');"], capture_output=True, text=True,
                            check=False)
    path = Path(result.stdout.strip()) if result.returncode == 0 and result.stdout.strip() else None
    return path if path and path.is_dir() else None


def check_extensions(source: PhpSource) -> tuple[list[str], list[str]]:
    """(fatal problems, warnings) for missing extensions, each naming how to add it."""
    have = set(source.extensions)
    fatal: list[str] = []
    warnings: list[str] = []
    for requirement in REQUIRED:
        options = requirement if isinstance(requirement, tuple) else (requirement,)
        if have.intersection(options):
            continue
        if source.kind == "bref":
            fix = " or ".join(bref_layers.EXTENSION_FIXES.get(name, f"a Bref layer providing {name}")
                              for name in options)
        else:
            packages = " or ".join(DEBIAN_PACKAGES[name].format(v=source.version) for name in options)
            fix = f"on Debian/Ubuntu: apt-get install {packages}; otherwise build PHP with it"
        message = f"PHP extension {' or '.join(options)} is missing ({fix})"
        (fatal if FATAL.intersection(options) else warnings).append(message)
    return fatal, warnings


def _needed_libraries(binaries: list[Path]) -> dict[str, Path]:
    """soname -> resolved path of every non-glibc library the binaries load."""
    if shutil.which("ldd") is None:
        raise UserError("ldd is not installed; the dir PHP source needs it to find shared libraries",
                        "apt-get install libc-bin (Debian) or use php.source = \"bref\"")
    libs: dict[str, Path] = {}
    for binary in binaries:
        result = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
        for line in result.stdout.splitlines():
            match = re.match(r"^\s*(\S+)\s+=>\s+(/\S+)", line)
            if match and not GLIBC.match(match.group(1)):
                libs[match.group(1)] = Path(match.group(2))
            elif "not found" in line:
                raise UserError(f"{binary} needs {line.split()[0]}, which is not installed",
                                "install the library, or use another php.dir")
    return dict(sorted(libs.items()))


def copy_binaries(source: PhpSource, layer: Path) -> dict[str, Any]:
    """Copy php-fpm, php, their libraries and the loaded extensions into ``layer``."""
    assert source.fpm and source.cli
    copy_file(source.fpm, layer / "bin" / "php-fpm", mode=EXEC_MODE)
    copy_file(source.cli, layer / "bin" / "php", mode=EXEC_MODE)
    ext_dir = extension_dir(source.cli)
    extensions = []
    if ext_dir is not None:
        for name in source.extensions:
            so = ext_dir / f"{name}.so"
            if so.is_file():
                copy_file(so, layer / "lib" / "php" / "extensions" / so.name, mode=FILE_MODE)
                extensions.append(name)
    libs = _needed_libraries([source.fpm, source.cli, *sorted((layer / "lib/php/extensions").glob("*.so"))])
    for soname, path in libs.items():
        copy_file(path, layer / "lib" / soname, mode=FILE_MODE)
    ordered = sorted(extensions, key=lambda n: (EXTENSION_PRIORITY.get(n, 5), n))
    lines = ["; Loads the extensions copied into lib/php/extensions; the runtime starts PHP with",
             "; -d extension_dir=<layer>/lib/php/extensions and PHP_INI_SCAN_DIR=<layer>/wplambda/conf.d."]
    lines += [f"{'zend_extension' if n == 'opcache' else 'extension'}={n}" for n in ordered]
    conf = layer / "wplambda" / "conf.d" / "10-extensions.ini"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text("\n".join(lines) + "\n")
    conf.chmod(FILE_MODE)
    return {"extensions": ordered, "libraries": list(libs)}


def describe(source: PhpSource) -> dict[str, Any]:
    """The manifest entry: no build-machine paths, only what identifies the PHP build."""
    entry: dict[str, Any] = {"source": source.kind, "version": source.version, "extensions": list(source.extensions)}
    if source.kind == "bref":
        entry["layer_arn"] = source.layer_arn
    elif source.cli:
        result = subprocess.run([str(source.cli), "-r", "echo PHP_VERSION;"], capture_output=True, text=True,
                                check=False)
        entry["php_version"] = result.stdout.strip()
    return entry

