"""Pinned Bref PHP-FPM layer versions, per PHP version, architecture and region.

The function runs on AWS's python3.13 runtime; with ``php.source = "bref"`` its PHP binaries
(``/opt/bin/php-fpm``, ``/opt/bin/php`` and the extensions) come from Bref's published FPM
layer. Layer versions differ by region and move with every Bref release, so they are pinned
here: a deploy is reproducible and an upgrade is a reviewed change to this table. Layers live in
Bref's AWS account and can only be attached in the region they were published in.

This is plain data plus one lookup so other commands (and people) can print the ARN a config
resolves to; ``php.layer_arn`` in ``wplambda.toml`` overrides the table.
"""

from __future__ import annotations

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
