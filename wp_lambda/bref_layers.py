"""Pinned Bref PHP-FPM layer versions, per PHP version, architecture and region.

The function runs on AWS's python3.13 runtime; with ``php.source = "bref"`` its PHP binaries
(``/opt/bin/php-fpm``, ``/opt/bin/php`` and the extensions) come from Bref's published FPM
layer. Layer versions differ by region and move with every Bref release, so they are pinned
here: a deploy is reproducible and an upgrade is a reviewed change to this table. Layers live in
Bref's AWS account and can only be attached in the region they were published in.

This is plain data plus lookups so other commands (and people) can print the ARN a config
resolves to; ``php.layer_arn`` in ``wplambda.toml`` overrides the table. The version numbers are
a snapshot that could not be checked against AWS from the machine this was written on: review
them (``wplambda layers``) before relying on them.
"""

from __future__ import annotations

from wp_lambda.errors import UserError

BREF_ACCOUNT = "534081306603"

# Bref v2 FPM layers; the arm64 builds carry an ``arm-`` prefix. Snapshot of the published
# versions; Bref publishes every region in the same release, so most regions share a number.
_COMMON_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "eu-south-1",
    "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-southeast-1", "ap-southeast-2", "af-south-1", "me-south-1",
)
_RELEASE: dict[str, int] = {
    "php-82-fpm": 72, "php-83-fpm": 72, "php-84-fpm": 36,
    "arm-php-82-fpm": 72, "arm-php-83-fpm": 72, "arm-php-84-fpm": 36,
}
LAYER_VERSIONS: dict[str, dict[str, int]] = {
    layer: dict.fromkeys(_COMMON_REGIONS, version) for layer, version in _RELEASE.items()
}


def layer_name(php_version: str, architecture: str) -> str:
    """Bref's layer name, e.g. ``php-82-fpm`` or ``arm-php-83-fpm``."""
    prefix = "arm-" if architecture == "arm64" else ""
    return f"{prefix}php-{php_version.replace('.', '')}-fpm"


def layer_arn(region: str, php_version: str, architecture: str) -> str | None:
    """The pinned layer ARN, or None when Bref publishes no such layer in ``region``."""
    name = layer_name(php_version, architecture)
    version = LAYER_VERSIONS.get(name, {}).get(region)
    if version is None:
        return None
    return f"arn:aws:lambda:{region}:{BREF_ACCOUNT}:layer:{name}:{version}"


def regions() -> list[str]:
    """Regions that have every pinned layer (for error messages)."""
    return sorted(set.intersection(*(set(table) for table in LAYER_VERSIONS.values())))


def require_layer_arn(region: str, php_version: str, architecture: str) -> str:
    """Like :func:`layer_arn`, but a missing layer is the user's to fix, with the fix named."""
    arn = layer_arn(region, php_version, architecture)
    if arn is None:
        raise UserError(f"no pinned Bref layer for PHP {php_version} on {architecture} in {region} "
                        f"(pinned regions: {', '.join(regions())})",
                        "set php.layer_arn in wplambda.toml to the Bref layer ARN you want")
    return arn


def table() -> list[tuple[str, str, str, str]]:
    """Every pinned (php version, architecture, region, ARN), for `wplambda layers`."""
    rows = []
    for name, versions in sorted(LAYER_VERSIONS.items()):
        arch = "arm64" if name.startswith("arm-") else "x86_64"
        php = name.removeprefix("arm-").split("-")[1]
        php_version = f"{php[0]}.{php[1:]}"
        rows.extend((php_version, arch, region, f"arn:aws:lambda:{region}:{BREF_ACCOUNT}:layer:{name}:{version}")
                    for region, version in sorted(versions.items()))
    return rows


# What Bref's PHP layers load by default (its documented list); intl is installed but must be
# enabled with `extension=intl`, gd and imagick come from Bref's separate extra-extensions layers.
EXTENSIONS = (
    "core", "ctype", "curl", "date", "dom", "exif", "fileinfo", "filter", "ftp", "gettext", "hash",
    "iconv", "json", "libxml", "mbstring", "mysqli", "mysqlnd", "opcache", "openssl", "pcntl", "pcre",
    "pdo", "pdo_mysql", "pdo_sqlite", "phar", "posix", "readline", "reflection", "session", "simplexml",
    "sockets", "sodium", "spl", "sqlite3", "standard", "tokenizer", "xml", "xmlreader", "xmlwriter",
    "xsl", "zip", "zlib",
)
EXTENSION_FIXES = {
    "intl": "add `extension = \"intl\"` under [php.ini] in wplambda.toml (Bref ships it disabled)",
    "gd": "add Bref's extra-php-extensions gd layer (or imagick) to the function",
    "imagick": "add Bref's extra-php-extensions imagick layer to the function",
}
