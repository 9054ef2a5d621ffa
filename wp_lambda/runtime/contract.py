"""The names the deployed stack and the local site share: one definition, read by both sides.

The template renderer (``wp_lambda/render.py`` into ``template.yaml.j2``), the build, ``serve``
and its gateway, and the handler all take these names from here, so a path pattern, a variable
name or a layer path cannot drift apart between what is deployed and what runs on this machine
(``tests/integration/template/test_template_contract.py`` checks the rendered template against this module).
Standard library only: it ships in the Lambda layer with the rest of ``wp_lambda.runtime``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from urllib.parse import unquote_plus

# -- environment variables the function reads (set by the template, or by serve locally) ----------
SECRETS_ENV = "WPLAMBDA_SECRETS"
ROLE_ENV = "WPLAMBDA_ROLE"
CONSOLE_ROLE = "console"  # the value of ROLE_ENV in the console function
SITE_HOST_ENV = "WPLAMBDA_SITE_HOST"
# The site's address for runs without a Host (the console function: wp-cli, cron, import): wp-config.php
# defines WP_HOME from it, and S3 Uploads' URL (S3_UPLOADS_BUCKET_URL) from WP_HOME. Without it S3
# Uploads would link to https://BUCKET.s3.amazonaws.com/..., which a private bucket answers 403.
HOME_ENV = "WP_HOME"
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
# `wplambda deploy --rotate-origin-secret` (docs/guides/security.md): Secrets Manager keeps the old
# value as AWSPREVIOUS, and the handler accepts it too (in this variable) while CloudFront switches.
ORIGIN_SECRET_PREVIOUS_ENV = "WPLAMBDA_ORIGIN_SECRET_PREVIOUS"
# A warm instance whose values do not match a request's header reads the secret again, at most this
# often (wrong guesses cannot become a flood of Secrets Manager calls); the deploy waits this long
# between storing a new value and pointing CloudFront at it, so every instance can pick it up.
ORIGIN_SECRET_REREAD_SECONDS = 60.0
# Headers only the distribution's viewer-request function (ForwardedHostFunction) sets: it writes
# them on every request from what CloudFront itself saw, replacing or deleting a viewer's copy, and
# the runtime believes them only on requests that carry the origin secret (never passing them to
# PHP as they are). The viewer's Authorization goes in a copy because CloudFront forwards
# Authorization only when a cache policy keys on it, and the function's behaviours use
# CachingDisabled; an origin request policy may not name it
# (https://aws.amazon.com/premiumsupport/knowledge-center/cloudfront-authorization-header/).
# The viewer's address is the function's event.viewer.ip
# (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-event-structure.html),
# which needs no origin request policy to reach the function.
AUTHORIZATION_COPY_HEADER = "X-Wplambda-Authorization"
VIEWER_ADDRESS_HEADER = "X-Wplambda-Viewer-Address"
# A database password rotated under a warm instance (wp_lambda/runtime/rotation.py): PHP answers
# the header, with the value of the FastCGI parameter the runtime sent for that one request, when
# WordPress's first connection was refused with MySQL's 1045 (access denied); the runtime then
# reads the secrets again and retries the request once on a fresh php-fpm. Both names are rendered
# into wp-config.php; the header never leaves the runtime.
DB_DENIED_HEADER = "X-Wplambda-Db-Denied"
DB_DENIED_TOKEN_PARAM = "WPLAMBDA_DB_DENIED_TOKEN"
# The secrets are read again when the last read is older than this, before a request to PHP, so a
# rotation is usually picked up before any connection fails. RDS and Aurora rotate the secrets
# they manage every 7 days by default
# (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-secrets-manager.html): a read
# each 15 minutes is under 100 GetSecretValue calls a day per instance.
DB_SECRET_TTL_SECONDS = 900.0
# A refused connection reads the secrets again at most this often per instance: a wrong password
# that stays wrong must not turn every request into Secrets Manager calls and a php-fpm restart.
# Managed rotation typically completes within a minute, and until it does a read may return the
# previous value (https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_managed.html),
# so a refused read is tried again soon after, not only at the TTL.
DB_SECRET_REREAD_SECONDS = 15.0
# A re-read (the database secret's, the origin secret's) runs on a visitor's request: each connect
# and read may take this long, with no retry.
# boto3's defaults (60 s each, with retries) would let an unreachable Secrets Manager (a NAT down)
# hold every warm instance's next due request until the function's timeout, where the instance
# that kept serving with the values it has is the better outcome; the next due request tries again.
SECRETS_REREAD_TIMEOUT = 2.0
S3_UPLOADS_BUCKET_ENV = "S3_UPLOADS_BUCKET"
S3_UPLOADS_REGION_ENV = "S3_UPLOADS_REGION"

# -- mail: wp_mail() through Amazon SES, or into serve's mailbox (issue 25) ------------------------
# The kit's mu-plugin (wordpress/mu-plugins/wplambda-mail.php) reads these. MAIL_ENV says where
# mail goes: MAIL_SES deployed with mail.enabled, MAIL_LOCAL under serve (an .eml file per
# message in MAIL_DIR_ENV, LOCAL_MAIL_DIR under the local state), empty for WordPress's own mail().
MAIL_ENV = "WPLAMBDA_MAIL"
MAIL_SES = "ses"
MAIL_LOCAL = "local"
MAIL_FROM_ENV = "WPLAMBDA_MAIL_FROM"
MAIL_FROM_NAME_ENV = "WPLAMBDA_MAIL_FROM_NAME"
MAIL_REGION_ENV = "WPLAMBDA_MAIL_REGION"
MAIL_DIR_ENV = "WPLAMBDA_MAIL_DIR"
LOCAL_MAIL_DIR = "mail"
# serve's page of its mailbox, on the gateway's own address; it answers only with the per-run
# token the banner prints (LOCAL_MAIL_TOKEN_PARAM in the query string).
LOCAL_MAIL_PATH = "/_wplambda/mail"
LOCAL_MAIL_TOKEN_PARAM = "token"

# -- purge: taking changed pages out of the cache (issue 24, item 2) ------------------------------
# The kit's mu-plugin computes the paths a change affects and hands them to the runtime, which
# sends one batched invalidation per request: to CloudFront on AWS, to serve's own page cache
# locally. Paths use CloudFront's invalidation syntax (a leading "/", "*" as a wildcard).
# Under serve the runtime POSTs {"paths": [...]} as JSON to LOCAL_PURGE_PATH on serve's own
# address, with "Authorization: Bearer TOKEN"; both values reach only the runtime (RUNTIME_ONLY_ENV).
LOCAL_PURGE_PATH = "/_wplambda/purge"
LOCAL_PURGE_URL_ENV = "WPLAMBDA_LOCAL_PURGE_URL"
LOCAL_PURGE_TOKEN_ENV = "WPLAMBDA_LOCAL_PURGE_TOKEN"
# How PHP hands the paths to the runtime (wordpress/mu-plugins/wplambda-purge.php, wp_lambda/runtime/purge.py):
# on a web request, this private response header, space-separated; the runtime removes every copy
# from every PHP response, so no visitor ever sees it. Under the PHP CLI (wp-cli, cron, `php`), the
# runtime makes one 0600 file per command and names it in PURGE_FILE_ENV; PHP appends one path per
# line, and the runtime reads the file after the command and deletes it.
PURGE_HEADER = "X-Wplambda-Purge"
PURGE_FILE_ENV = "WPLAMBDA_PURGE_FILE"
# The distribution to invalidate. The site's function cannot name it in the template (the
# distribution's origin depends on that function: a cycle), so the viewer-request function writes
# the distribution's own id (event.context.distributionId,
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-event-structure.html)
# into this request header, replacing any viewer copy; the runtime believes it only on a request
# carrying the origin secret, and PHP never sees it. The console function gets the id as a variable.
DISTRIBUTION_HEADER = "X-Wplambda-Distribution"
DISTRIBUTION_ID_ENV = "WPLAMBDA_DISTRIBUTION_ID"
# A distribution id's shape (upper-case letters and digits, e.g. E2QWRUHAPOMQZL): anything else in
# the header or the variable is refused before it reaches an API call or a log line.
DISTRIBUTION_ID_PATTERN = r"^[A-Z0-9]{8,32}$"
# CloudFront's invalidation paths
# (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/invalidation-specifying-objects.html):
# each begins with "/", is at most 4,000 characters, and may end with "*" (zero or more characters,
# the query string included: "/hello/*" takes "/hello/?utm=x" too); a "*" anywhere else is refused.
# Paths are case-sensitive and must be URL-encoded beyond ASCII. A cached page's key holds its
# query string, so only a wildcard reaches every variant of a path.
PURGE_PATH_MAX_LENGTH = 4000
PURGE_ALL = "/*"
# At most this many paths in one invalidation, else it becomes PURGE_ALL: a wildcard path costs the
# same as an exact one, each path past the account's first 1,000 a month is billed
# (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Invalidation.html#PayingForInvalidation),
# and at most 15 wildcard paths may be in progress per distribution at once
# (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/InvalidationLimits.html);
# past that CloudFront answers TooManyInvalidationsInProgress, and the runtime sends the list without
# its wildcards (purge.exact), which count against a limit of their own. 14: a post's update that
# changes its slug and category (11 paths before, 2 after: the home page is "/" and "/?*") still
# goes as a list, and any list is below the 15 wildcards, so alone it is always accepted.
PURGE_MAX_PATHS = 14
# CloudFront's limit on wildcard paths in progress on one distribution (the limits page above): a
# single invalidation with more can never succeed, so `wplambda purge` refuses it.
PURGE_WILDCARDS_IN_PROGRESS = 15
# A long list of wildcards is not sent as PURGE_ALL below that length, though "/*" would be one
# billed path and one wildcard in progress: it empties the whole cache, so in a spike every page
# would miss at once, the load the cache is there to keep from the origin and the database.
# A path this instance sent to CloudFront less than this many seconds ago is not sent again (nor one
# under a wildcard it sent). The block editor with a classic meta box saves a post twice in a row
# (post.php?meta-box-loader after the REST save), each naming the same ~9 wildcard paths: the second
# would find CloudFront's 15 wildcard paths in progress used up and fall back to billed exact paths.
# Short, not the minute an invalidation may take: a real second edit after the first purge finished
# and a visitor re-cached the page must purge again, or that page stays old until cache.ttl.
PURGE_REPEAT_SECONDS = 10.0
# The paths one publish typically purges (the mu-plugin's list for a post in one category with one
# tag: the permalink, home and its ?query variants, its pagination, feeds, category, tag, author,
# date archive, sitemaps, REST API), for `wplambda cost`'s invalidation line;
# tests/integration/runtime/test_runtime_purge.py counts the real list against it. Once per change:
# the block editor's second save sends nothing more (PURGE_REPEAT_SECONDS).
PURGE_PATHS_PER_PUBLISH = 11

# Values only the runtime reads: never in php-fpm's environment (which PHP sees, clear_env = no)
# nor in a php/wp command's, so no plugin, phpinfo() or child process can read them.
RUNTIME_ONLY_ENV = frozenset({ORIGIN_SECRET_ENV, ORIGIN_SECRET_PREVIOUS_ENV, LOCAL_PURGE_TOKEN_ENV})


def php_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment PHP may run with (php-fpm, ``php``, ``wp``): ``environ`` less RUNTIME_ONLY_ENV."""
    return {name: value for name, value in environ.items() if name not in RUNTIME_ONLY_ENV}


# -- limits -------------------------------------------------------------------------------------
# Lambda's payload quota for a synchronous invocation's request: 6 MB
# (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). Every HTTP request
# becomes one, so serve's gateway and its invoke endpoint refuse a larger body before reading it.
# Deployed, the body travels base64-encoded inside the event, so a binary body fails from ~4.5 MB.
LAMBDA_REQUEST_LIMIT = 6 * 1024 * 1024

# -- hardening: the walls in front of WordPress ------------------------------------------------
# The walls that are up ([security] in wplambda.toml): a comma-separated list of the
# names below, e.g. "xmlrpc,user-enumeration,http-cron,core-files,login-throttle:5,same-site-cookies".
# The runtime refuses the closed files before PHP (runtime/hardening.py); the mu-plugin
# wplambda-hardening.php reads the rest. Unset or empty: every wall is down.
HARDENING_ENV = "WPLAMBDA_HARDENING"
WALL_XMLRPC = "xmlrpc"  # xmlrpc.php refused (403)
WALL_USER_ENUMERATION = "user-enumeration"  # anonymous REST users, ?author=N, author sitemaps
WALL_HTTP_CRON = "http-cron"  # wp-cron.php refused over HTTP (403); the schedule's direct invocation runs it
WALL_CORE_FILES = "core-files"  # readme.html (404); wp-admin/install.php once installed
WALL_LOGIN_THROTTLE = "login-throttle"  # "login-throttle:N": N failed logins are free, then back-off
WALL_SAME_SITE = "same-site-cookies"  # SameSite=Lax on WordPress's auth cookies

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


# -- response security headers: the distribution's response headers policy, and serve's gateway --
@dataclass(frozen=True)
class SecurityHeader:
    """A header the edge adds to every response. ``override``: replace what the origin sent (the
    edge's value is the site's policy), or add it only when the origin sent none (WordPress or a
    plugin knows better for that page, e.g. a stricter ``X-Frame-Options: DENY``)."""

    name: str
    value: str
    override: bool


# Two years, the max-age hstspreload.org recommends; without includeSubDomains and preload, which
# only the domain's owner can decide (docs/guides/security.md).
HSTS_MAX_AGE = 63072000
STRICT_TRANSPORT_SECURITY = SecurityHeader("Strict-Transport-Security", f"max-age={HSTS_MAX_AGE}", override=True)
# WordPress sends nosniff itself on wp-admin and REST answers: the same value, so the edge's wins everywhere.
CONTENT_TYPE_OPTIONS = SecurityHeader("X-Content-Type-Options", "nosniff", override=True)
# WordPress sends SAMEORIGIN on wp-admin and wp-login.php; a plugin that sends DENY keeps it.
FRAME_OPTIONS = SecurityHeader("X-Frame-Options", "SAMEORIGIN", override=False)
# WordPress sends this value on wp-admin and wp-login.php; a site that chose a stricter one keeps it.
REFERRER_POLICY = SecurityHeader("Referrer-Policy", "strict-origin-when-cross-origin", override=False)


def security_headers(own_domain: bool) -> tuple[SecurityHeader, ...]:
    """The headers every response gets. HSTS only for a site on its own domain: on the shared
    ``*.cloudfront.net`` name (and on serve's plain HTTP) it would pin nothing the site owns."""
    always = (CONTENT_TYPE_OPTIONS, FRAME_OPTIONS, REFERRER_POLICY)
    return (STRICT_TRANSPORT_SECURITY, *always) if own_domain else always


def add_security_headers(headers: list[tuple[str, str]], added: tuple[SecurityHeader, ...]) -> list[tuple[str, str]]:
    """``headers`` as the response headers policy leaves them: an ``override`` header replaces the
    origin's (names compare without case), any other is added only when the origin sent none."""
    sent = {name.lower() for name, _ in headers}
    replaced = {h.name.lower() for h in added if h.override}
    out = [(name, value) for name, value in headers if name.lower() not in replaced]
    out += [(h.name, h.value) for h in added if h.override or h.name.lower() not in sent]
    return out


# -- the page cache: which requests go around CloudFront's cache ([cache] in wplambda.toml) ------
# One definition, read in three places so they cannot drift: the distribution's viewer-request
# function (rendered from these values into template.yaml.j2), the runtime, which answers every
# such request `private, no-store` whatever PHP said (wp_lambda/runtime/page_cache.py), and serve.
# WordPress's kit mu-plugin (wplambda-page-cache.php) decides the rest: what may be shared.
#
# Cookies whose presence means the page may be made for this visitor: WordPress's login
# (wordpress_logged_in_HASH, and wordpress_sec_HASH/wordpress_HASH on wp-admin paths), a
# post password typed (wp-postpass_HASH), a commenter's name remembered (comment_author_HASH,
# comment_author_email_HASH, comment_author_url_HASH), WooCommerce's cart and session. Compared
# as name prefixes, so "wordpress_" covers the auth cookies whatever the site's hash.
# PHPSESSID: a plugin's PHP session (flash messages, form state) sent its cookie once, then builds
# pages from it; woocommerce_recently_viewed feeds WooCommerce's Recently Viewed widget.
BYPASS_COOKIE_PREFIXES = ("wordpress_", "wp-postpass_", "comment_author_", "woocommerce_cart_hash",
                          "woocommerce_items_in_cart", "wp_woocommerce_session_", "woocommerce_recently_viewed",
                          "PHPSESSID")
# Query parameters that ask for a preview (?preview=true, &preview_id=N, &preview_nonce=...), or
# for a page showing one commenter their comment awaiting moderation (WordPress redirects there,
# ?unapproved=ID&moderation-hash=..., when the commenter did not let it set cookies).
# _method: the REST API's method override in the query (WordPress reads it before the
# X-HTTP-Method-Override header), so a GET that carries it may write. add-to-cart: WooCommerce's
# links (?add-to-cart=ID, common in campaign mail) start a cart session on a GET, and CloudFront may
# answer simultaneous requests for one key with one origin response (the traffic-spike collapsing
# cited at the viewer-request function), which would hand one visitor's new cart to others.
BYPASS_QUERY_KEYS = ("preview", "preview_id", "preview_nonce", "unapproved", "moderation-hash", "_method",
                     "add-to-cart")
# Paths that are never shared: the dashboard (a prefix, so /wp-admin and /wp-admin/... alike) and
# the scripts named here wherever they sit (a subdirectory install's /blog/wp-login.php too).
BYPASS_PATH_PREFIXES = ("/wp-admin",)
BYPASS_SCRIPTS = ("wp-login.php", "wp-cron.php", "wp-signup.php", "wp-activate.php", "wp-comments-post.php",
                  "xmlrpc.php")
# The methods CloudFront may answer from its cache (the behaviours' CachedMethods).
CACHED_METHODS = ("GET", "HEAD")
# The header the viewer-request function sets on a bypass request, to the request's own id. A
# viewer-request function runs before CloudFront looks in its cache, so what it writes is part of
# the key (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/function-code-choose-purpose.html,
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/understanding-the-cache-key.html):
# the page cache policy keys on it, so a bypass request can never share a cache entry with another
# request, even one CloudFront stored by mistake (CloudFront's default 10 s caching of an error,
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/custom-error-pages-expiration.html).
# The function deletes a viewer's copy on every other request, so no one can pick an entry's key.
CACHE_BYPASS_HEADER = "X-Wplambda-Cache-Bypass"
# What a response that must never be stored says (any cache, CloudFront or the browser's).
NOT_SHARED = "private, no-store"
# The mu-plugin's settings: "TTL,STALE_TTL" ([cache] ttl and stale_ttl), empty when cache.pages is
# off (then every PHP response says NOT_SHARED, and the behaviours keep CachingDisabled).
PAGE_CACHE_ENV = "WPLAMBDA_PAGE_CACHE"
# BYPASS_COOKIE_PREFIXES for the mu-plugin, comma-separated: it checks them against $_COOKIE, PHP's
# own reading of the names (PHP turns ".", " " and "[" in a name into "_", so "wordpress.logged_in_H"
# is a login cookie to WordPress while the edge sees another name). Without it, any cookie at all
# keeps a page private.
PAGE_CACHE_COOKIES_ENV = "WPLAMBDA_PAGE_CACHE_COOKIES"


@dataclass(frozen=True)
class PageCacheTTLs:
    """The page cache policy's TTLs in seconds, rendered into PageCachePolicy and applied by serve's
    gateway (wp_lambda/local/edge_cache.py), so a page lives as long in one as in the other."""

    min: int
    default: int
    max: int


def page_cache_ttls(ttl: int) -> PageCacheTTLs:
    """The TTLs for ``cache.ttl``: MinTTL 0, so ``private``, ``no-store`` and ``no-cache`` are
    honoured (a MinTTL above 0 caches despite them,
    https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CachePolicyConfig.html);
    DefaultTTL 0, so a response without ``Cache-Control`` or ``Expires`` is not stored; MaxTTL
    ``ttl``, which caps whatever ``s-maxage`` a plugin sends
    (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Expiration.html)."""
    return PageCacheTTLs(min=0, default=0, max=ttl)


# The characters PHP drops from the start of a cookie's name (C's isspace()); the viewer-request
# function drops the same ones (template.yaml.j2 renders it from here).
PHP_COOKIE_NAME_SPACE = " \t\n\v\f\r"


def php_cookie_name(name: str) -> str:
    """A cookie name as PHP's $_COOKIE holds it: leading whitespace dropped (PHP's isspace(): space,
    tab, newline, vertical tab, form feed, carriage return), ".", " " and "[" made "_" (PHP's rule for
    variable names from request data; a closed "[...]" is an array key)."""
    name = name.lstrip(PHP_COOKIE_NAME_SPACE)
    bracket = name.find("[")
    if bracket >= 0 and "]" in name[bracket:]:
        name = name[:bracket]
    return name.replace(".", "_").replace(" ", "_").replace("[", "_")


# The 4xx and 5xx codes CloudFront caches as errors, for the error caching minimum TTL (10 s by
# default), whatever private/no-store says on most of them: the ErrorCode values a distribution's
# CustomErrorResponse takes, less 416, which CloudFront never caches
# (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HTTPStatusCodes.html,
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/custom-error-pages-expiration.html,
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-cloudfront-distribution-customerrorresponse.html).
# The mu-plugin marks every one of them private, no-store, and serve never stores a private or
# no-store response (wp_lambda/local/edge_cache.py).
CACHED_ERROR_CODES = (400, 403, 404, 405, 414, 500, 501, 502, 503, 504)
# The ones WordPress answers itself, possibly for one visitor's session (a wp_die, a fatal error, a
# REST refusal): with [cache] pages the template sets their error caching minimum TTL to 0. Not 502,
# 503 and 504: those come from in front of PHP (a throttle, a timeout, a function that crashed), are
# no one's session, and CloudFront's 10 s of error caching keeps a spike on a page without a stale
# copy from retrying the origin on every request; AWS warns a short duration for 5xx "might aggravate
# the problem" (custom-error-pages-expiration.html above).
EDGE_UNCACHED_ERROR_CODES = (400, 403, 404, 405, 414, 500, 501)
# Headers that make WordPress answer a GET as another method (the REST API's method override:
# X-HTTP-Method-Override: HEAD or OPTIONS), while the cache key, made of the path and query, stays
# the GET's. A request carrying one is never shared, at the edge or in the runtime.
METHOD_OVERRIDE_HEADERS = ("x-http-method-override", "x-method-override")


def request_cache_bypass(method: str, path: str, query: str, headers: Iterable[tuple[str, str]]) -> str | None:
    """cache_bypass on a request as PHP will read it, the one decision of the runtime and serve.

    ``headers`` is every header as sent, (name, value), repeated names included: every Cookie
    header reaches PHP, so every one is read, and each cookie name as PHP's $_COOKIE holds it
    (php_cookie_name: "wordpress.logged_in_H" is WordPress's login cookie there). An
    ``Authorization`` or a METHOD_OVERRIDE_HEADERS header sends the request around the cache too.
    """
    names: set[str] = set()
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        names.add(key)
        if key == "cookie":
            cookies.extend(php_cookie_name(pair.split("=", 1)[0].strip()) for pair in value.split(";")
                           if pair.split("=", 1)[0].strip())
    special = "authorization" in names or not names.isdisjoint(METHOD_OVERRIDE_HEADERS)
    return cache_bypass(method, path, query, cookies, special)


def cache_bypass(method: str, path: str, query: str, cookie_names: Iterable[str], authorized: bool) -> str | None:
    """Why a request goes around the page cache (a short reason), or None when it may be shared.

    The viewer-request function applies the same rule in JavaScript (template.yaml.j2, rendered
    from the values above); ``tests/integration/template/test_template_page_cache.py`` runs both on
    the same requests.
    """
    if method.upper() not in CACHED_METHODS:
        return "method"
    if authorized:
        return "authorization"
    if path.startswith(BYPASS_PATH_PREFIXES) or path.rsplit("/", 1)[-1] in BYPASS_SCRIPTS:
        return "path"
    keys = {unquote_plus(part.split("=", 1)[0]) for part in query.split("&") if part}
    if keys & set(BYPASS_QUERY_KEYS):
        return "query"
    if any(name.startswith(BYPASS_COOKIE_PREFIXES) for name in cookie_names):
        return "cookie"
    return None
