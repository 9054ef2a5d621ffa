"""The names the deployed stack and the local site share: one definition, read by both sides.

The template renderer (``wp_lambda/render.py`` into ``template.yaml.j2``), the build, ``serve``
and its gateway, and the handler all take these names from here, so a path pattern, a variable
name or a layer path cannot drift apart between what is deployed and what runs on this machine
(``tests/integration/template/test_template_contract.py`` checks the rendered template against this module).
Standard library only: it ships in the Lambda layer with the rest of ``wp_lambda.runtime``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

# -- environment variables the function reads (set by the template, or by serve locally) ----------
SECRETS_ENV = "WPLAMBDA_SECRETS"
ROLE_ENV = "WPLAMBDA_ROLE"
CONSOLE_ROLE = "console"  # the value of ROLE_ENV in the console function
SITE_HOST_ENV = "WPLAMBDA_SITE_HOST"
PHP_LAYOUT_ENV = "WPLAMBDA_PHP_LAYOUT"
PHP_PREFIX_ENV = "WPLAMBDA_PHP_PREFIX"
VERSIONED_MAX_AGE_ENV = "WPLAMBDA_VERSIONED_MAX_AGE"
DEFAULT_MAX_AGE_ENV = "WPLAMBDA_DEFAULT_MAX_AGE"
WARM_PATHS_ENV = "WPLAMBDA_WARM_PATHS"
CONTENT_DIR_ENV = "WPLAMBDA_CONTENT_DIR"
WP_CLI_ENV = "WPLAMBDA_WP_CLI"
UPLOADS_DIR_ENV = "WPLAMBDA_UPLOADS_DIR"
LOCAL_ENV = "WPLAMBDA_LOCAL"  # "1" under `wplambda serve`
# Where PHP and the site are when no layer layout says (serve and the tests name them one by one;
# runtime/layout.py).
DOCUMENT_ROOT_ENV = "WPLAMBDA_DOCUMENT_ROOT"
PHP_FPM_ENV = "WPLAMBDA_PHP_FPM"
PHP_CLI_ENV = "WPLAMBDA_PHP"
PHP_INI_ENV = "WPLAMBDA_PHP_INI"
FPM_CONF_ENV = "WPLAMBDA_FPM_CONF"
FPM_WORKERS_ENV = "WPLAMBDA_FPM_WORKERS"
SALT_ENV = "WORDPRESS_SALT"
DB_HOST_ENV = "WORDPRESS_DB_HOST"
DB_PORT_ENV = "WORDPRESS_DB_PORT"
DB_NAME_ENV = "WORDPRESS_DB_NAME"
DB_USER_ENV = "WORDPRESS_DB_USERNAME"
DB_PASSWORD_ENV = "WORDPRESS_DB_PASSWORD"
# WPLAMBDA_SECRETS loads every key of the database secret under this prefix (WORDPRESS_DB_password...).
DB_SECRET_PREFIX = "WORDPRESS_DB_"
# The header CloudFront adds to every request to the function (the distribution's origin custom
# header) and the variable holding its value. When the value is set, the handler answers 403 to
# every HTTP event that lacks it; serve sets none (it has no CloudFront).
ORIGIN_SECRET_HEADER = "X-Wplambda-Origin-Secret"
ORIGIN_SECRET_ENV = "WPLAMBDA_ORIGIN_SECRET"
S3_UPLOADS_BUCKET_ENV = "S3_UPLOADS_BUCKET"
S3_UPLOADS_REGION_ENV = "S3_UPLOADS_REGION"
# Values only the runtime reads: never in php-fpm's environment (which PHP sees, clear_env = no)
# nor in a php/wp command's, so no plugin, phpinfo() or child process can read them.
RUNTIME_ONLY_ENV = frozenset({ORIGIN_SECRET_ENV})


def php_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment PHP may run with (php-fpm, ``php``, ``wp``): ``environ`` less RUNTIME_ONLY_ENV."""
    return {name: value for name, value in environ.items() if name not in RUNTIME_ONLY_ENV}


# -- limits -------------------------------------------------------------------------------------
# Lambda's payload quota for a synchronous invocation's request: 6 MB
# (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). Every HTTP request
# becomes one, so serve's gateway and its invoke endpoint refuse a larger body before reading it.
# Deployed, the body travels base64-encoded inside the event, so a binary body fails from ~4.5 MB.
LAMBDA_REQUEST_LIMIT = 6 * 1024 * 1024

# -- paths in the layers and mounts ------------------------------------------------------------
# Where Lambda mounts layers.
LAYER_ROOT = "/opt"
# The wp-cli phar, relative to the runtime layer's root (the build puts it there).
WP_CLI_IN_LAYER = "wplambda/wp-cli.phar"
WP_CLI_PATH = f"{LAYER_ROOT}/{WP_CLI_IN_LAYER}"
# storage.mode = "efs": where Lambda mounts the access point (Lambda requires a path under /mnt/).
EFS_MOUNT = "/mnt/wp-content"

# The uploads bucket's keys, under which S3 Uploads writes (wp-config.php) and CloudFront reads.
UPLOADS_KEY_PREFIX = "wp-content/uploads/"

# -- export/import: the dump between the CLI and the console function ---------------------------
# The dump is staged in the artifact bucket (wp_lambda/dbio/staging.py); the console function
# reaches it only through URLs the CLI presigns, so its role has no permission there.
# The type the presigned PUT signs and the function sends.
DUMP_CONTENT_TYPE = "application/gzip"
# A presigned URL made with ExpectedBucketOwner signs this header: whoever uses the URL must send it
# (db-export/db-import events carry it in "headers").
EXPECTED_BUCKET_OWNER_HEADER = "x-amz-expected-bucket-owner"
DBIO_HEADERS_KEY = "headers"

# -- direct invocations: {"wplambda": KEY, ...}; never reachable from HTTP ----------------------
DIRECT_KEY = "wplambda"
WARMER = "warmer"
CRON = "cron"
PHP = "php"
WP = "wp"
CONTENT = "content"
DB_EXPORT = "db-export"
DB_IMPORT = "db-import"
DB_STATUS = "db-status"
DB_DROP_BACKUPS = "db-drop-backups"
DB_REVERT = "db-revert"
DIRECT_INVOCATIONS = (WARMER, CRON, PHP, WP, CONTENT, DB_EXPORT, DB_IMPORT, DB_STATUS, DB_DROP_BACKUPS, DB_REVERT)

# -- CloudFront: origins and behaviours ----------------------------------------------------------
FUNCTION_ORIGIN = "function"
ASSETS_ORIGIN = "assets"
UPLOADS_ORIGIN = "uploads"
# storage.mode = "efs": the origin group that tries the assets bucket, then the function.
ASSETS_THEN_FUNCTION = "assets-then-function"
# What the bucket answers for a key it lacks (403 or 404 behind OAC): the origin group fails over.
FAILOVER_STATUSES = (403, 404)


@dataclass(frozen=True)
class Behaviour:
    """One CloudFront cache behaviour: requests whose path matches ``pattern`` go to ``origin``."""

    pattern: str
    origin: str
    efs_only: bool = False

    @property
    def cached(self) -> bool:
        """Static behaviours are cached on ``ver``; the function's never are."""
        return self.origin != FUNCTION_ORIGIN


# In CloudFront's order: the first match wins, so *.php reaches the function even under a static
# prefix (wp-admin/load-scripts.php, wp-includes/js/tinymce/wp-tinymce.php). A path no pattern
# matches takes the default behaviour, DEFAULT_ORIGIN (pretty permalinks, /wp-admin/, feeds).
BEHAVIOURS = (
    Behaviour("*.php", FUNCTION_ORIGIN),
    Behaviour(f"/{UPLOADS_KEY_PREFIX}*", UPLOADS_ORIGIN),
    Behaviour("/wp-content/plugins/*", ASSETS_THEN_FUNCTION, efs_only=True),
    Behaviour("/wp-content/themes/*", ASSETS_THEN_FUNCTION, efs_only=True),
    Behaviour("/wp-content/*", ASSETS_ORIGIN),
    Behaviour("/wp-includes/*", ASSETS_ORIGIN),
    Behaviour("/wp-admin/css/*", ASSETS_ORIGIN),
    Behaviour("/wp-admin/js/*", ASSETS_ORIGIN),
    Behaviour("/wp-admin/images/*", ASSETS_ORIGIN),
)
DEFAULT_ORIGIN = FUNCTION_ORIGIN


def behaviours(efs: bool) -> tuple[Behaviour, ...]:
    """The distribution's cache behaviours, in order (the EFS origin group's only with ``efs``)."""
    return tuple(b for b in BEHAVIOURS if efs or not b.efs_only)


def origin_for(path: str, efs: bool = False) -> str:
    """The origin CloudFront sends ``path`` to: the first behaviour whose pattern matches, else
    the default behaviour's."""
    for behaviour in behaviours(efs):
        if _matcher(behaviour.pattern)(path):
            return behaviour.origin
    return DEFAULT_ORIGIN


@cache
def _matcher(pattern: str) -> Callable[[str], re.Match[str] | None]:
    """CloudFront's path pattern as a predicate: ``*`` is any run of characters (``/`` included),
    ``?`` exactly one, everything else literal and case-sensitive, and a leading ``/`` optional
    (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/DownloadDistValuesCacheBehavior.html#DownloadDistValuesPathPattern)."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.removeprefix("/"))
    return re.compile(f"/?{body}", re.DOTALL).fullmatch
