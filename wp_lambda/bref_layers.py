"""Bref's published PHP layers: a pinned table, so a deploy never picks up a new PHP build by surprise.

Data only (plus one lookup): the numbers are the ``php-82-fpm`` layer versions Bref 2 published
in its ``layers.json``. Combinations without a pinned version (other PHP versions, arm64) are
refused with the fix (``php.layer_arn``) instead of guessed, because a wrong ARN only fails at
deploy time, minutes later.
"""

from __future__ import annotations

from wp_lambda.errors import UserError

BREF_ACCOUNT = "534081306603"

# (php version, architecture) -> Bref layer name and its pinned version per region.
LAYERS: dict[tuple[str, str], tuple[str, dict[str, int]]] = {
    ("8.2", "x86_64"): ("php-82-fpm", {
        "af-south-1": 25, "ap-east-1": 25, "ap-northeast-1": 25, "ap-northeast-2": 25,
        "ap-northeast-3": 25, "ap-south-1": 25, "ap-southeast-1": 25, "ap-southeast-2": 25,
        "ca-central-1": 26, "eu-central-1": 25, "eu-north-1": 25, "eu-south-1": 25, "eu-south-2": 15,
        "eu-west-1": 25, "eu-west-2": 25, "eu-west-3": 25, "me-south-1": 25, "sa-east-1": 25,
        "us-east-1": 25, "us-east-2": 25, "us-west-1": 25, "us-west-2": 25,
    }),
}

# What Bref 2's PHP layers load by default (its documented list); intl is installed but must be
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


def layer_arn(region: str, arch: str, php_version: str) -> str:
    """The pinned Bref layer ARN for this region, architecture and PHP version."""
    entry = LAYERS.get((php_version, arch))
    if entry is None or region not in entry[1]:
        pinned = ", ".join(f"PHP {v} {a}" for v, a in sorted(LAYERS))
        raise UserError(f"no pinned Bref layer for PHP {php_version} on {arch} in {region} (pinned: {pinned})",
                        "set php.layer_arn in wplambda.toml to the Bref layer ARN you want")
    name, versions = entry
    return f"arn:aws:lambda:{region}:{BREF_ACCOUNT}:layer:{name}:{versions[region]}"


def table() -> list[tuple[str, str, str, str]]:
    """Every pinned (php version, architecture, region, ARN), for `wplambda layers`."""
    return [(php, arch, region, layer_arn(region, arch, php))
            for (php, arch), (_, versions) in sorted(LAYERS.items()) for region in sorted(versions)]
