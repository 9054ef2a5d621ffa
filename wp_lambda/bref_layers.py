"""Bref's published PHP layers, per PHP version, architecture and region, read from Bref's own lists.

The function runs on AWS's python3.13 runtime; with ``php.source = "bref"`` its PHP binaries
(``/opt/bin/php-fpm``, ``/opt/bin/php`` and the extensions) come from Bref's published layer. Layer
versions differ by region and move with every Bref release, so they are pinned: a deploy is
reproducible and an upgrade is a reviewed change. The pin is not a hand-written table (one was
wrong: Bref v2 names in the wrong account) but Bref's ``layers.json`` files themselves, packaged in
``wp_lambda/data/bref/`` and refreshed with ``scripts/refresh_bref_layers.py``; ``metadata.json``
beside them says which Bref release, commit and date they are.

Bref v3 ships one layer per PHP version (``php-84``; ``arm-php-84`` for arm64) in account
873528684822, built for Amazon Linux 2023 like the python3.13 runtime. GD, Imagick and the other
extra extensions are separate layers (``gd-php-84``) in account 403367587399, x86_64 only. A layer
can only be attached in the region it was published in. ``php.layer_arn`` in ``wplambda.toml``
overrides the base layer; callers check it before asking here.

``php-versions.json`` says which PHP patch release each runtime layer carries (``php-84`` ->
``8.4.23``), from Bref's release data too: a layer's name only says the branch, and whether the
PHP in it has a security fix depends on the patch (:mod:`wp_lambda.php_security` judges it).

``WPLAMBDA_BREF_DATA`` names a directory whose files replace the packaged ones of the same name
(the others stay packaged). It exists for the kit's tests, which point it at a fixture of patched
layers so that every deploy test is not refused by the PHP security check; it is not a way to
accept a vulnerable PHP (``php.accept_vulnerable_php`` is).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from wp_lambda.common.errors import UserError

ARCHITECTURES = ("x86_64", "arm64")
_BASE_FILE, _EXTRA_FILE = "layers.json", "extra-php-extensions-layers.json"
PHP_VERSIONS_FILE = "php-versions.json"
DATA_ENV = "WPLAMBDA_BREF_DATA"
_BASE_NAME = re.compile(r"^(arm-)?php-(\d)(\d+)$")


def _read(name: str) -> Any:
    """One data file: the PHP releases from ``WPLAMBDA_BREF_DATA`` when that directory has them (a
    test's patched fixture; the ARNs and the metadata always come from the kit), else the packaged one
    (through importlib.resources so it works from a wheel or a zip too). Read on each call, cached
    by its text's location, so a test that changes the variable is answered from the new place."""
    override = os.environ.get(DATA_ENV)
    if override and name == PHP_VERSIONS_FILE and os.path.isfile(os.path.join(override, name)):
        return _parse(os.path.join(override, name))
    return _parse(name)


@cache
def _parse(where: str) -> Any:
    """``where``: a path from ``WPLAMBDA_BREF_DATA``, or a bare name of a packaged file."""
    if os.sep in where:
        with open(where, encoding="utf-8") as fh:
            return json.load(fh)
    return json.loads(resources.files("wp_lambda").joinpath("data", "bref", where).read_text())


@dataclass(frozen=True)
class Source:
    """Where the packaged lists come from, for ``wplambda layers`` and for people reviewing a pin."""

    release: str
    base_commit: str | None
    base_date: str | None
    extensions_tag: str | None
    extensions_commit: str | None
    extensions_date: str | None

    def describe(self) -> str:
        """One line: the release, and each list's commit and date where they are known."""
        def one(repo: str, tag: str | None, commit: str | None, date: str | None) -> str:
            where = f"{repo} {tag}" + (f" ({commit[:12]}" if commit else " (commit unknown")
            return where + (f", {date})" if date else ", date not recorded)")
        return (f"Bref {self.release}: runtime layers from "
                + one("brefphp/bref", self.release, self.base_commit, self.base_date)
                + "; extra extensions from "
                + one("brefphp/extra-php-extensions", self.extensions_tag, self.extensions_commit,
                      self.extensions_date))

    def to_dict(self) -> dict[str, str | None]:
        return {"release": self.release, "bref_commit": self.base_commit, "bref_date": self.base_date,
                "extensions_tag": self.extensions_tag, "extensions_commit": self.extensions_commit,
                "extensions_date": self.extensions_date}


def _metadata() -> dict[str, Any]:
    return _read("metadata.json")


def base_layers() -> dict[str, dict[str, int]]:
    """Bref's runtime layers: ``{"php-84": {"eu-west-1": 21, ...}, "arm-php-84": {...}}``."""
    return _read(_BASE_FILE)


def extension_layers() -> dict[str, dict[str, int]]:
    """Bref's extra-extension layers: ``{"gd-php-84": {"eu-west-1": 8, ...}, ...}``."""
    return _read(_EXTRA_FILE)


def layer_php_release(php_version: str, architecture: str) -> str | None:
    """The PHP patch release (``8.4.23``) in Bref's pinned runtime layer for this branch and
    architecture, from ``php-versions.json``; None when Bref's data does not record it."""
    found = _read(PHP_VERSIONS_FILE).get(layer_name(php_version, architecture))
    return str(found) if found else None


def pinned_or_older(arn: str) -> tuple[str, str] | None:
    """For an ARN of one of Bref's runtime layers at or below the version the kit pins in its region
    (``php.layer_arn`` set to Bref's own layer): its branch and the pinned layer's PHP release, which
    an older layer version's release cannot exceed. None for any other layer, or a newer version,
    whose release the data does not know."""
    parts = arn.split(":")
    if len(parts) != 8 or parts[4] != base_account() or parts[5] != "layer" or not parts[7].isdigit():
        return None
    region, name, version = parts[3], parts[6], int(parts[7])
    pinned = base_layers().get(name, {}).get(region)
    if pinned is None or version > pinned or not _BASE_NAME.match(name):
        return None
    found = _read(PHP_VERSIONS_FILE).get(name)
    return (_php_of(name), str(found)) if found else None


def php_releases_source() -> dict[str, Any]:
    """Where ``php-versions.json`` came from (its entry in ``metadata.json``), and the directory it
    was read from when ``WPLAMBDA_BREF_DATA`` replaces it."""
    entry = dict(_metadata()["files"].get(PHP_VERSIONS_FILE, {}))
    override = os.environ.get(DATA_ENV)
    if override and os.path.isfile(os.path.join(override, PHP_VERSIONS_FILE)):
        entry["read_from"] = os.path.join(override, PHP_VERSIONS_FILE)
    return entry


def source() -> Source:
    """The Bref release and the commits and dates the packaged lists were taken at."""
    meta = _metadata()
    base, extra = meta["files"][_BASE_FILE], meta["files"][_EXTRA_FILE]
    return Source(meta["bref_release"], base.get("commit"), base.get("date"), extra.get("tag"),
                  extra.get("commit"), extra.get("date"))


def base_account() -> str:
    """The AWS account Bref publishes its runtime layers from (873528684822 for v3)."""
    return str(_metadata()["files"][_BASE_FILE]["account"])


def extensions_account() -> str:
    """The AWS account of Bref's extra-extension layers (403367587399)."""
    return str(_metadata()["files"][_EXTRA_FILE]["account"])


def php_versions() -> tuple[str, ...]:
    """The PHP versions Bref publishes a runtime layer for ("8.2" ... "8.5"), oldest first."""
    versions = set()
    for name in base_layers():
        match = _BASE_NAME.match(name)
        if match:
            versions.add((int(match.group(2)), int(match.group(3))))
    return tuple(f"{major}.{minor}" for major, minor in sorted(versions))


def regions() -> tuple[str, ...]:
    """Every region Bref publishes a runtime layer to, sorted (for error messages and the table)."""
    return tuple(sorted({region for table in base_layers().values() for region in table}))


def _suffix(php_version: str) -> str:
    """``8.4`` -> ``84``, the version as Bref writes it in layer names."""
    return php_version.replace(".", "")


def layer_name(php_version: str, architecture: str) -> str:
    """Bref's runtime layer name, e.g. ``php-84`` or ``arm-php-84``."""
    prefix = "arm-" if architecture == "arm64" else ""
    return f"{prefix}php-{_suffix(php_version)}"


def _arn(region: str, account: str, name: str, version: int) -> str:
    return f"arn:aws:lambda:{region}:{account}:layer:{name}:{version}"


def layer_arn(region: str, php_version: str, architecture: str) -> str | None:
    """The pinned runtime layer ARN, or None when Bref publishes no such layer in ``region``
    (config validation turns that into a problem of its own; :func:`require_layer_arn` raises)."""
    name = layer_name(php_version, architecture)
    version = base_layers().get(name, {}).get(region)
    return None if version is None else _arn(region, base_account(), name, version)


def require_layer_arn(region: str, php_version: str, architecture: str) -> str:
    """The pinned runtime layer ARN; anything Bref does not publish is the user's to fix, so a
    :class:`UserError` (exit 2) names what Bref does publish."""
    _check_architecture(architecture)
    if php_version not in php_versions():
        raise UserError(f"Bref {source().release} publishes no PHP {php_version} layer "
                        f"(it publishes PHP {', '.join(php_versions())})",
                        "set php.version in wplambda.toml to one of those")
    arn = layer_arn(region, php_version, architecture)
    if arn is None:
        raise UserError(f"Bref publishes no PHP {php_version} layer for {architecture} in {region}; "
                        f"it publishes to: {', '.join(published_regions(php_version, architecture))}",
                        "use one of those regions (aws.region), or set php.layer_arn in wplambda.toml "
                        "to a PHP layer published in your region")
    return arn


def published_regions(php_version: str, architecture: str) -> list[str]:
    """The regions Bref publishes this PHP layer to (every region it publishes to, if none)."""
    return sorted(base_layers().get(layer_name(php_version, architecture), {})) or list(regions())


def _check_architecture(architecture: str) -> None:
    if architecture not in ARCHITECTURES:
        raise UserError(f"unknown architecture {architecture!r}", f"use one of {', '.join(ARCHITECTURES)}")


def extension_names(php_version: str) -> tuple[str, ...]:
    """The extra extensions Bref publishes for ``php_version`` (``gd``, ``imagick``, ...)."""
    suffix = f"-php-{_suffix(php_version)}"
    return tuple(sorted(name.removesuffix(suffix) for name in extension_layers() if name.endswith(suffix)))


def extension_layer_arn(extension: str, region: str, php_version: str, architecture: str) -> str:
    """The pinned ARN of Bref's ``extension`` layer (``gd``, ``imagick``...) for this PHP and region.

    Bref builds its extra extensions for x86_64 only: on arm64 the extension would be missing at
    run time, so that is refused here, before a deploy, with the way out named.
    """
    _check_architecture(architecture)
    if architecture == "arm64":
        raise UserError(f"Bref publishes no arm64 extra-extension layers, so there is no {extension} layer "
                        "for arm64 (brefphp/extra-php-extensions is built for x86_64 only)",
                        "set aws.architecture = \"x86_64\" in wplambda.toml to use the "
                        f"{extension} layer, or do without {extension}")
    name = f"{extension}-php-{_suffix(php_version)}"
    table = extension_layers().get(name)
    if table is None:
        available = extension_names(php_version)
        raise UserError(f"Bref {source().release} publishes no {extension} layer for PHP {php_version}"
                        + (f" (it has: {', '.join(available)})" if available else ""),
                        "pick a published extension, or another php.version")
    version = table.get(region)
    if version is None:
        raise UserError(f"Bref publishes no {name} layer in {region}; it publishes to: {', '.join(sorted(table))}",
                        "use one of those regions (aws.region)")
    return _arn(region, extensions_account(), name, version)


def _php_of(name: str) -> str:
    """``arm-php-84`` -> ``8.4``."""
    match = _BASE_NAME.match(name)
    assert match, name
    return f"{match.group(2)}.{match.group(3)}"


def table() -> list[tuple[str, str, str, str]]:
    """Every pinned (php version, architecture, region, ARN), for `wplambda layers`."""
    rows: list[tuple[str, str, str, str]] = []
    for name, versions in base_layers().items():
        if not _BASE_NAME.match(name):
            continue
        arch = "arm64" if name.startswith("arm-") else "x86_64"
        rows.extend((_php_of(name), arch, region, _arn(region, base_account(), name, version))
                    for region, version in versions.items())
    return sorted(rows, key=lambda row: (tuple(int(p) for p in row[0].split(".")), row[1] != "x86_64", row[2]))


# What Bref v3's runtime layers load with no ini of the site's own, lowercase as `php -m` prints them
# (brefphp/aws-lambda-layers: the php-8X/Dockerfile configure flags, src/php.ini, and the extension
# list tests/test_2_extensions.php asserts). intl, soap, apcu and redis are built but disabled: they
# need `extension=<name>`; gd and imagick come only from Bref's extra-extension layers (php.extensions).
EXTENSIONS = (
    "bcmath", "core", "ctype", "curl", "date", "dom", "exif", "ffi", "fileinfo", "filter", "ftp", "gettext",
    "hash", "iconv", "json", "libxml", "mbstring", "mysqli", "mysqlnd", "opcache", "openssl", "pcntl", "pcre",
    "pdo", "pdo_mysql", "pdo_pgsql", "pdo_sqlite", "phar", "posix", "random", "readline", "reflection",
    "session", "simplexml", "sockets", "sodium", "spl", "sqlite3", "standard", "tokenizer", "xml", "xmlreader",
    "xmlwriter", "xsl", "zip", "zlib",
)
EXTENSION_FIXES = {
    "intl": "add `extension = \"intl\"` under [php.ini] in wplambda.toml (Bref ships it disabled)",
    "gd": "keep \"gd\" in php.extensions (Bref's gd layer, x86_64 only), or add \"imagick\"",
    "imagick": "add \"imagick\" to php.extensions (Bref's imagick layer, x86_64 only)",
}
