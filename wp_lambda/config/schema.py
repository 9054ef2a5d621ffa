"""The schema of ``wplambda.toml``: its tables and keys, their types, defaults and rules.

This module judges shapes and values only. It reads no disk and no packaged data, so what it says
is what the JSON Schema an editor validates with says (``wplambda config schema``). What a config
asks of the world outside the file, Bref's published layers and ``php.dir`` on disk, is checked in
:mod:`wp_lambda.config.checks`; :mod:`wp_lambda.config.loading` turns pydantic's errors into
``file:line: key: message``.

A key's ``description`` is the comment above it in a fresh ``wplambda.toml``, its entry in the
config reference, and what an editor shows on hover. Tables refuse unknown keys, because a typo
that is silently ignored ships a broken site. Values are taken as TOML typed them (``strict``):
``memory = "1024"`` is a mistake to point at, not a number to guess.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)
from pydantic_core import PydanticCustomError, PydanticKnownError

from wp_lambda.config import schedule

CONFIG_FILE = "wplambda.toml"

NetworkMode = Literal["public", "vpc-nat-gateway", "vpc-nat-instance"]
DatabaseMode = Literal["aurora-serverless-v2", "external"]
FrontDoor = Literal["http-api", "function-url"]
Architecture = Literal["x86_64", "arm64"]
PhpSource = Literal["bref", "dir"]
StorageMode = Literal["package", "efs"]
ObjectAcl = Literal["", "private", "public-read", "bucket-owner-full-control"]
# What CloudWatch Logs accepts as a retention period.
LogRetention = Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                       2922, 3288, 3653]
# A rate-based WAF rule counts over one of these windows (seconds), and its limit is at least 10
# requests per window:
# https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-high-level-settings.html
WafWindow = Literal[60, 120, 300, 600]
WAF_MIN_LIMIT = 10
# and at most 2,000,000,000 (the AWS::WAFv2::WebACL resource schema's RateLimit maximum):
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-wafv2-webacl-ratebasedstatement.html
WAF_MAX_LIMIT = 2_000_000_000
# What security.waf's web ACL holds besides the login rate rule: AWS's managed rule groups for
# WordPress sites and for request patterns known to be malicious (Log4j lookups, for example).
# https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-use-case.html
# https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html
WAF_RULE_GROUPS = ("AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesWordPressRuleSet")
# The paths the login rate rule counts POSTs to: the login form and XML-RPC (which takes passwords too).
WAF_LOGIN_PATHS = ("/wp-login.php", "/xmlrpc.php")
# A CloudFront-scope web ACL can only be made in us-east-1, so security.waf's web ACL is the one
# resource of a companion stack there, rendered to this project file (wp_lambda.deploy.waf):
# https://docs.aws.amazon.com/waf/latest/developerguide/how-aws-waf-works-resources.html
WAF_REGION = "us-east-1"
WAF_TEMPLATE = "waf.yaml"
NETWORK_MODES: tuple[str, ...] = get_args(NetworkMode)
DATABASE_MODES: tuple[str, ...] = get_args(DatabaseMode)
FRONT_DOORS: tuple[str, ...] = get_args(FrontDoor)
ARCHITECTURES: tuple[str, ...] = get_args(Architecture)
STORAGE_MODES: tuple[str, ...] = get_args(StorageMode)

# The newest PHP branch both Bref v3 (php-82 ... php-85) and the default WordPress (6.8) support:
# WordPress 6.8 supports PHP 8.3 fully and 8.4 only as "beta support"
# (https://make.wordpress.org/core/handbook/references/php-compatibility-and-wordpress-versions/).
# 8.2 left PHP's security support on 2026-12-31 (https://www.php.net/supported-versions.php); 8.3 has it
# until 2027-12-31.
DEFAULT_PHP_VERSION = "8.3"
DEFAULT_WORDPRESS_VERSION = "6.8.3"
HTTP_API_MAX_TIMEOUT = 30
WARM_PATHS_MAX = 10
# SnapStart "does not support provisioned concurrency, Amazon Elastic File System (Amazon EFS), or
# ephemeral storage greater than 512 MB", and is offered in every commercial region but Asia
# Pacific (New Zealand) and (Taipei): https://docs.aws.amazon.com/lambda/latest/dg/snapstart.html
SNAP_START_MAX_EPHEMERAL_STORAGE = 512
SNAP_START_UNAVAILABLE_REGIONS = ("ap-east-2", "ap-southeast-6")
# function.versions_kept's default: the live version and two to roll back to. At least 2, so that
# `wplambda rollback` always has the previous version (wp_lambda.deploy.versions prunes the rest).
VERSIONS_KEPT = 3

VERSION_TABLES = ("plugins", "themes")
VERSION_RE = r"^[0-9A-Za-z.+_-]+$"
_SLUG_RE = r"^[a-z0-9][a-z0-9._-]*$"
_HOST_RE = r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
_REGION_RE = r"^[a-z]{2}(-gov)?-[a-z]+-\d$"
_PHP_SIZE_RE = r"^\d+[KMG]?$"
_BUCKET_RE = r"^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])?$"


def graviton_instance(instance_type: str) -> bool:
    """Whether an EC2 instance type is Graviton (arm64: t4g, c7gn, a1, ...), from its family's name:
    the NAT instance's AMI follows it, and a change between the two replaces the instance."""
    return re.match(r"^([a-z]+\d+g[a-z]*|a1)\.", instance_type) is not None


def _key(default: Any, description: str, **rules: Any) -> Any:
    """A key of a table: its default, the description people read, and its pydantic rules (``ge``,
    ``le``, ``pattern``...). Typed Any so that type checkers take it as the default it is."""
    return Field(default=default, description=description, **rules)


def _says(message: str) -> WrapValidator:
    """Report a bad value with ``message`` (``{value!r}`` in it is the value) instead of pydantic's
    generic words: for list items and table keys, which have no key of their own to name."""
    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError("wplambda", message.format(value=value)) from None
    return WrapValidator(check)


def _integer(value: Any) -> Any:
    """pydantic takes ``true`` and ``30.0`` for a ``Literal[30]``; TOML's true and 30.0 are not days."""
    if type(value) is not int:
        raise PydanticKnownError("int_type")
    return value


def _at_most_warm_paths(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if isinstance(value, list) and len(value) > WARM_PATHS_MAX:
        raise PydanticCustomError("wplambda", f"{len(value)} paths; at most {WARM_PATHS_MAX} fit the init "
                                  "phase's 10 s")
    return handler(value)


# function.reserved_concurrency: a whole number of instances (strict, so TOML's true or 30.0 is no
# count), "auto" (what the database holds: wp_lambda.config.concurrency) or "off" (no cap).
ReservedConcurrency = Annotated[StrictInt | Literal["auto", "off"],
                                _says("{value!r} is not a reserved concurrency; use a whole number of instances "
                                      "(e.g. 50), \"auto\" (what the database holds) or \"off\" (no cap)")]
Host = Annotated[str, Field(pattern=_HOST_RE),
                 _says("{value!r} is not a valid host name (lowercase, e.g. blog.example.com)")]
SitePath = Annotated[str, Field(pattern=r"^/[^\s,#]*$"),
                     _says("{value!r} is not a site path; use paths such as \"/\" or \"/about/?lang=en\" "
                           "(starting with /, no spaces, commas or #)")]
ExtensionName = Annotated[str, _says("expected a list of extension names such as [\"gd\"]")]
# What php.accept_vulnerable_php may list: the identifiers the PHP security check names
# (wp_lambda.php_security): a CVE, or a branch past its end of life.
AcceptedRisk = Annotated[str, Field(pattern=r"^(CVE-\d{4}-\d{4,}|PHP-\d+\.\d+-EOL)$"),
                         _says("{value!r} is not a risk the PHP security check names; use its identifiers, "
                               "e.g. \"CVE-2026-109618\" or \"PHP-8.2-EOL\"")]
ComposerRepository = Annotated[str | dict[str, Any], _says("expected a list of strings or tables")]
Slug = Annotated[str, Field(pattern=_SLUG_RE), _says("expected a wordpress.org slug (lowercase, digits, dashes)")]
# Relative to the WordPress source: no leading /, no backslash, no .. segment.
SourceGlob = Annotated[str, Field(pattern=r"^(?!/)(?!(.*/)?\.\.(/|$))[^\\]+$"),
                       _says("{value!r} is not a glob relative to the WordPress source; use paths such as "
                             "\"wp-content/updraft/**\" or \"wp-content/plugins/x/tests/*.zip\" (no leading /, "
                             "no .., forward slashes)")]


class Table(BaseModel):
    """One table of ``wplambda.toml``: unknown keys are errors, and TOML's types are kept (strict).
    Patterns run on Python's ``re``, as they always have: the host name one needs look-ahead, which
    pydantic's default engine lacks."""

    model_config = ConfigDict(extra="forbid", strict=True, regex_engine="python-re")


class Site(Table):
    name: str = _key("my-blog", "Stack-friendly name: lowercase letters, digits and dashes.",
                     pattern=r"^[a-z][a-z0-9-]{0,39}$")
    title: str = _key("My Blog", "The site title WordPress is installed with.")
    admin_email: str = _key("admin@example.com", "The administrator's e-mail address.",
                            pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    domains: list[Host] = _key([], "Custom domains (aliases) for CloudFront; the first one is the site's home.")
    certificate_arn: str = _key("", "ACM certificate for the domains; CloudFront needs it in us-east-1.")


class Aws(Table):
    region: str = _key("us-east-1", "AWS region of the stack.", pattern=_REGION_RE)
    profile: str = _key("", "Named profile from ~/.aws/config; empty uses the standard credential chain.")
    architecture: Architecture = _key("x86_64", "Lambda architecture.")
    artifact_bucket: str = _key("", "Bucket for deploy artifacts (zips); empty uses the kit's own bucket "
                                "wplambda-artifacts-ACCOUNT-REGION, created on first deploy.", pattern=_BUCKET_RE)


class Php(Table):
    # Any version string here: which ones exist is Bref's to say (wp_lambda.config.checks).
    version: str = _key(DEFAULT_PHP_VERSION, f"PHP version (branch). The default, {DEFAULT_PHP_VERSION}, is the "
                        "newest branch that both Bref v3 and the default WordPress (6.8) support: WordPress 6.8 "
                        "supports 8.4 only as beta. Deploys refuse a branch past PHP's end of life, or a layer "
                        "whose PHP lacks a security fix (see php.accept_vulnerable_php).")
    source: PhpSource = _key("bref", "Where PHP binaries come from: Bref's published layer, or a local directory.")
    dir: str = _key("", "With source = \"dir\": the directory holding php-fpm, php and their extensions.")
    layer_arn: str = _key("", "Override the pinned Bref layer ARN for this region and architecture.",
                          pattern=r"^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+)?$")
    extensions: list[ExtensionName] = _key(["gd"], "With source = \"bref\": Bref's extra-extension layers to "
                                           "attach (x86_64 only): gd lets WordPress make thumbnails; imagick is "
                                           "the other choice.")
    memory_limit: str = _key("256M", "PHP memory_limit.", pattern=_PHP_SIZE_RE)
    accept_vulnerable_php: list[AcceptedRisk] = _key(
        [], "DANGER: deploy anyway although the site's PHP has these known vulnerabilities: each entry a CVE "
        "(\"CVE-2026-109618\") or an end-of-life branch (\"PHP-8.2-EOL\") exactly as validate, doctor and "
        "deploy name them when they refuse. Every command that checks prints a warning for each accepted "
        "risk; a new vulnerability is refused again until it is listed too. Leave empty.")
    ini: dict[str, Any] = _key({}, "Extra php.ini settings, e.g. { \"max_input_vars\" = \"3000\" }.")


class Wordpress(Table):
    source: str = _key(DEFAULT_WORDPRESS_VERSION, "A version to download, a URL, or a local tarball, zip or "
                       "directory.")
    sha1: str = _key("", "Expected SHA-1 of a URL or tarball source (versions are checked automatically).",
                     pattern=r"^([0-9a-f]{40})?$")


class Function(Table):
    memory: int = _key(1024, "Lambda memory in MB.", ge=128, le=10240)
    timeout: int = _key(28, "Lambda timeout in seconds (HTTP API allows at most 30).", ge=1, le=900)
    ephemeral_storage: int = _key(512, "Size of /tmp in MB.", ge=512, le=10240)
    provisioned_concurrency: int = _key(0, "Provisioned concurrency on the live alias; 0 turns it off.",
                                        ge=0, le=1000)
    reserved_concurrency: ReservedConcurrency = \
        _key("auto", "Most instances of the site's function at once (Lambda reserved concurrency), so a spike "
             "cannot open more database connections than the database holds: \"auto\" derives it from "
             "database.max_acu (Aurora's max_connections, less the console and a margin; no cap with an external "
             "database), a number sets it, \"off\" leaves the function uncapped. Requests beyond it are "
             "throttled, and CloudFront answers them from its cache where it can (docs/guides/deploy.md).")
    front_door: FrontDoor = _key("http-api", "What CloudFront calls: an HTTP API, or a Lambda Function URL.")
    warm_paths: Annotated[list[SitePath], Field(max_length=WARM_PATHS_MAX), WrapValidator(_at_most_warm_paths)] = \
        _key(["/"], "Paths requested during init so the opcache holds WordPress before the first visitor (e.g. "
             "[\"/\", \"/blog/\"]); [] turns the warm-up off.")
    snap_start: bool = _key(False, "Lambda SnapStart for published versions: instances resume from a snapshot "
                            "taken after the warm-up (no provisioned concurrency, EFS or /tmp over 512 MB).")
    versions_kept: int = _key(VERSIONS_KEPT, "Published versions of the site's function a deploy keeps: the "
                              "newest ones (`wplambda rollback` goes back through them) and any an alias points "
                              "at; older ones are deleted, since with snap_start each keeps a billed snapshot.",
                              ge=2, le=100)


class Network(Table):
    mode: NetworkMode = _key("vpc-nat-instance", "public (no VPC), vpc-nat-gateway (~$33/month in us-east-1) or "
                             "vpc-nat-instance; `wplambda cost` compares them.")
    nat_instance_type: str = _key("t4g.nano", "Instance type of the NAT instance.",
                                  pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
    vpc_cidr: str = _key("10.42.0.0/16", "CIDR of the VPC the kit creates.",
                         pattern=r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}/(1[6-9]|2[0-4])$")


class Database(Table):
    mode: DatabaseMode = _key("aurora-serverless-v2", "aurora-serverless-v2 (needs a VPC) or external.")
    min_acu: float = _key(0.0, "Aurora minimum capacity; 0 lets the cluster pause when idle.", ge=0, le=256)
    max_acu: float = _key(2.0, "Aurora maximum capacity.", ge=1, le=256)
    auto_pause_seconds: int = _key(900, "Idle seconds before Aurora pauses (with min_acu = 0).", ge=300, le=86400)
    engine_version: str = _key("", "Aurora MySQL engine version of the cluster the stack creates (e.g. "
                               "\"8.0.mysql_aurora.3.10.4\"); empty: the kit's pin for a new cluster, the version "
                               "it runs for an existing one (another upgrades it in place). min_acu = 0 needs 3.08 "
                               "or newer.",
                               pattern=r"^(\d+\.\d+\.mysql_aurora\.\d+\.\d+\.\d+)?$")
    name: str = _key("wordpress", "Database name.", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    host: str = _key("", "External database host.")
    port: int = _key(3306, "External database port.", ge=1, le=65535)
    user: str = _key("", "External database user.")
    secret_arn: str = _key("", "External database password: ARN of a Secrets Manager secret holding JSON with a "
                           "\"password\" key (like RDS-managed secrets).",
                           pattern=r"^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+)?$")


class Uploads(Table):
    bucket: str = _key("", "Existing uploads bucket; empty creates one in the stack (retained on delete).",
                       pattern=_BUCKET_RE)
    object_acl: ObjectAcl = _key("", "S3 Uploads object ACL; empty because new buckets have ACLs disabled.")
    max_size: int = _key(512, "Largest upload in MB. Files over php.ini's 4 MB go from the browser straight to the "
                         "bucket (a Lambda request carries 6 MB); S3 takes at most 5120 MB in one POST.",
                         ge=1, le=5120)


class Storage(Table):
    mode: StorageMode = _key("package", "Where wp-content's code lives: \"package\" (read-only, installed at "
                             "build) or \"efs\" (plugins, themes and languages on EFS, installable from wp-admin; "
                             "needs a VPC).")


class Assets(Table):
    versioned_max_age: int = _key(31536000, "Cache-Control max-age of files WordPress links with ?ver=.",
                                  ge=0, le=31536000)
    default_max_age: int = _key(3600, "Cache-Control max-age of other static files.", ge=0, le=31536000)


class Cache(Table):
    pages: bool = _key(True, "Cache full pages at CloudFront for anonymous visitors, keyed on path and query string "
                       "(never on cookies). A request with a login, post-password, commenter or cart cookie, a "
                       "preview, wp-admin, wp-login.php, wp-cron.php or a method other than GET/HEAD goes around "
                       "the cache; WordPress marks what may be shared (docs/guides/caching.md).")
    ttl: int = _key(300, "Seconds CloudFront serves a cached page before asking WordPress again (the s-maxage the "
                    "kit's mu-plugin sends, and the cache policy's maximum). At most 12 h, half the life of a "
                    "WordPress nonce, so a nonce in a cached page is still valid when it is served.", ge=1, le=43200)
    stale_ttl: int = _key(86400, "Seconds past ttl during which CloudFront may still answer with the cached page "
                          "while it fetches a fresh one (stale-while-revalidate) or while the function fails "
                          "(stale-if-error). 0: never stale.", ge=0, le=31536000)


class Cron(Table):
    enabled: bool = _key(True, "Run wp-cron on a schedule (WordPress's own cron is disabled).")
    schedule: str = _key("rate(1 hour)", "EventBridge schedule expression. Each run connects to the database, "
                         "so with database.min_acu = 0 the gap between runs must exceed "
                         "database.auto_pause_seconds, or Aurora never pauses (docs/guides/costs.md).",
                         pattern=schedule.EXPRESSION)


class Logs(Table):
    retention_days: Annotated[LogRetention, BeforeValidator(_integer)] = \
        _key(30, "CloudWatch Logs retention in days.")


class Console(Table):
    timeout: int = _key(900, "Timeout in seconds of the console function that runs `wplambda wp` commands (no "
                        "HTTP front door limits it).", ge=1, le=900)


class Build(Table):
    plugin_mirror: str = _key("https://downloads.wordpress.org", "Where plugin and theme zips come from: a URL "
                              "base or a local directory of zips.")
    plugin_api: str = _key("https://api.wordpress.org", "The plugin and theme directory API that `wplambda plugin "
                           "add`/`outdated`/`update` ask for the latest versions (wordpress.org's, or a mirror "
                           "answering the same plugins/info/1.2 and themes/info/1.2 requests).",
                           pattern=r"^https?://[^\s/]+(/\S*)?$")
    s3_uploads_version: str = _key("^3.0", "Composer constraint for humanmade/s3-uploads.")
    composer_repositories: list[ComposerRepository] = _key([], "Composer repositories in Composer's own format.")
    wp_cli: str = _key("pinned", "The wp-cli the runtime layer carries for `wplambda wp`, `console` and `import "
                       "--from-url`, also used to install the plugin and theme zips (against a throwaway MariaDB): "
                       "\"pinned\" (the default) is wp-cli 2.12.0, downloaded once into the cache and checked "
                       "against the sha512 pinned in the kit (WPLAMBDA_WP_CLI_URL: a mirror or a local copy of the "
                       "release; WPLAMBDA_WP_CLI_PHAR: a wp-cli.phar of your own used instead); a path is that "
                       "wp-cli.phar; empty ships no wp-cli (`wplambda wp` cannot run) and installs the zips with "
                       "`wp` on PATH, else unpacks them.")
    opcache_file_cache: bool = _key(False, "Ship WordPress compiled into an opcache file cache (deploy builds with "
                                    "php.source = \"dir\" only): a shorter on-demand cold start, but function.zip "
                                    "is then no longer byte-identical between builds. Needs root or unprivileged "
                                    "user namespaces at build time (the tree is compiled as /var/task).")
    exclude: list[SourceGlob] = _key([], "Globs relative to the WordPress source (`*` within a folder, `**` across "
                                     "folders; a folder excludes everything under it) of files to leave out of "
                                     "the function and the assets. The build refuses a source holding database "
                                     "dumps, archives, backups or copies of wp-config.php; list them here to drop "
                                     "them on purpose, e.g. [\"wp-content/updraft\"].")


class Security(Table):
    """What faces the internet besides WordPress itself: the hardening mu-plugin's parts (each on by
    default) and the optional AWS WAF in front of CloudFront."""

    xmlrpc: bool = _key(False, "Serve xmlrpc.php (false: refused with 403 before PHP runs; true only for a site "
                        "whose apps or plugins still need XML-RPC, e.g. Jetpack).")
    user_enumeration: bool = _key(False, "Let anonymous visitors list users (false: no REST /wp/v2/users, "
                                  "?author=N answers 404, no author sitemaps, one message for any failed login).")
    http_cron: bool = _key(False, "Answer wp-cron.php over HTTP (false: 403; the [cron] schedule runs it "
                           "without HTTP).")
    core_files: bool = _key(False, "Serve readme.html, and wp-admin/install.php on an installed site (false: 404, "
                            "so scanners do not learn the WordPress version; license.txt is never served).")
    login_throttle: bool = _key(True, "Slow password guessing: after login_attempts failures from one address or for "
                                "one account, a wait that doubles with each further failure (30 s, up to 1 h for an "
                                "address and 15 min for an account), counted in the database so every instance "
                                "shares it.")
    login_attempts: int = _key(5, "With login_throttle: failed logins allowed before the back-off starts.",
                               ge=1, le=100)
    same_site_cookies: bool = _key(True, "Add SameSite=Lax to WordPress's login cookies, so no other site's form "
                                   "can post with them.")

    # The optional AWS WAF (a companion stack in us-east-1, wp_lambda.deploy.waf).
    waf: bool = _key(False, "Put an AWS WAF web ACL in front of CloudFront: AWS's managed WordPress and "
                     "known-bad-inputs rule groups, plus a per-IP rate limit on logins (wp-login.php, xmlrpc.php). "
                     "It lives in a companion stack STACK-waf in us-east-1 and costs about $8/month plus $0.60 "
                     "per million requests (`wplambda cost`).")
    waf_login_limit: int = _key(50, "With waf: login attempts (POSTs to wp-login.php or xmlrpc.php) one IP may make "
                                "per waf_login_window before the WAF blocks its further attempts (AWS's minimum is "
                                f"{WAF_MIN_LIMIT}).", ge=WAF_MIN_LIMIT, le=WAF_MAX_LIMIT)
    waf_login_window: Annotated[WafWindow, BeforeValidator(_integer)] = \
        _key(300, "With waf: the window in seconds over which waf_login_limit is counted: 60, 120, 300 or 600.")


# An address in mail.from: one @, no spaces or angle brackets (a display name goes in mail.from_name),
# a host name after the @. Nor $ { } * ?: the template writes the address into the role's policy,
# where ${...} in a !Sub would be substituted and * ? in a resource or StringLike match any sender.
_ADDRESS_RE = r"^[^@\s<>\"(),;:${}*?]+@" + _HOST_RE[1:]
MailFrom = Annotated[str, Field(pattern=f"^$|{_ADDRESS_RE}"),
                     _says("{value!r} is not an e-mail address; use a bare address such as \"wordpress@example.com\" "
                           "(the name goes in mail.from_name), or leave it empty for wordpress@ the first of "
                           "site.domains")]


class Mail(Table):
    """wp_mail(): through Amazon SES with the function's own role deployed, into a local mailbox under serve."""

    enabled: bool = _key(True, "Send WordPress's mail (password resets, notices, form plugins) through Amazon SES; "
                         "false leaves WordPress's own mail(), which fails on Lambda (no sendmail).")
    from_: MailFrom = Field(default="", alias="from", description="The From address of every message, and the "
                            "only one the function may send from (IAM). Empty: wordpress@ the first of site.domains.")
    from_name: str = _key("", "The From name; empty keeps WordPress's own (\"WordPress\", or a plugin's).")
    region: str = _key("", "The region of SES the site sends through (its identity is verified there); empty: "
                       "aws.region.", pattern=f"^$|{_REGION_RE}")
    create_identity: bool = _key(False, "Create the SES domain identity of the first of site.domains in the stack, "
                                 "with Easy DKIM; the deploy prints the DNS records to add (`wplambda mail verify`).")

    def sender(self, domains: list[str]) -> str:
        """The From address: mail.from, else wordpress@ the site's first domain, else empty (WordPress's own)."""
        return self.from_ or (f"wordpress@{domains[0]}" if domains else "")


def _no_default(schema: dict[str, Any]) -> None:
    """TOML has no null, so an editor should not offer ``active = null`` as the default."""
    schema.pop("default", None)


class Pin(Table):
    """A [plugins] or [themes] entry in its long form; slug = "1.2.3" is short for slug = { version = "1.2.3" }."""

    version: str = Field(description="The pinned version.", pattern=VERSION_RE)
    # No null in TOML: the key is present (true/false) or absent (the site keeps its own state).
    active: Annotated[bool | None, WithJsonSchema({"type": "boolean"})] = \
        _key(None, "true: each deploy activates it on the live site; false (plugins only): each deploy "
             "deactivates it; absent: the site's own state is kept.", json_schema_extra=_no_default)


PIN_KEYS: tuple[str, ...] = tuple(Pin.model_fields)


def _pin_entry(value: Any) -> Any:
    """The short form as the long one. A missing or bad version is reported with the entry as the
    user wrote it, unless the entry has an unknown key: then the typo is the problem to name."""
    entry = {"version": value} if isinstance(value, str) else value
    if isinstance(entry, dict) and not set(entry) <= set(PIN_KEYS):
        return entry
    version = entry.get("version") if isinstance(entry, dict) else None
    if not isinstance(version, str) or not re.match(VERSION_RE, version):
        raise PydanticCustomError("wplambda", "expected a pinned version string such as \"1.2.3\" (or { version = "
                                  f"\"1.2.3\", active = true }}), got {value!r}")
    return entry


PinEntry = Annotated[Pin, BeforeValidator(_pin_entry, json_schema_input_type=Annotated[str, Field(
    pattern=VERSION_RE)] | Pin)]


class Sections(Table):
    """The tables every config has (the pins differ between the file and :class:`Config`)."""

    site: Site = Field(default_factory=Site, description="The site: its stack name, title, administrator and "
                       "custom domains.")
    aws: Aws = Field(default_factory=Aws, description="Where the stack goes: region, credentials profile, Lambda "
                     "architecture and artifact bucket.")
    php: Php = Field(default_factory=Php, description="PHP: its version, where its binaries come from, extensions "
                     "and php.ini settings.")
    wordpress: Wordpress = Field(default_factory=Wordpress, description="The WordPress release the build installs.")
    function: Function = Field(default_factory=Function, description="The Lambda function that serves the site: "
                               "memory, timeout, front door, warm-up and SnapStart.")
    network: Network = Field(default_factory=Network, description="Whether the function runs in a VPC, and how "
                             "that VPC reaches the internet.")
    database: Database = Field(default_factory=Database, description="The MySQL database: Aurora Serverless v2 in "
                               "the stack, or an external server.")
    uploads: Uploads = Field(default_factory=Uploads, description="The S3 bucket of the media library.")
    storage: Storage = Field(default_factory=Storage, description="Where wp-content's plugins, themes and languages "
                             "live.")
    assets: Assets = Field(default_factory=Assets, description="How long browsers and CloudFront cache the static "
                           "files.")
    cache: Cache = Field(default_factory=Cache, description="Full pages cached at CloudFront for anonymous "
                         "visitors.")
    cron: Cron = Field(default_factory=Cron, description="wp-cron, run on a schedule.")
    logs: Logs = Field(default_factory=Logs, description="CloudWatch Logs of the functions.")
    build: Build = Field(default_factory=Build, description="Where the build gets plugins, themes, Composer packages "
                         "and wp-cli.")
    console: Console = Field(default_factory=Console, description="The console function that runs `wplambda wp`.")
    security: Security = Field(default_factory=Security, description="The wall in front of WordPress: the hardening "
                               "mu-plugin (xmlrpc, user enumeration, login throttle, cookies) and the optional WAF.")
    mail: Mail = Field(default_factory=Mail, description="wp_mail() through Amazon SES, and serve's local mailbox.")


SECTIONS: dict[str, type[Table]] = {name: info.annotation for name, info in Sections.model_fields.items()
                                    if info.annotation is not None}


class ConfigFile(Sections):
    """``wplambda.toml`` as written: the model ``wplambda config schema`` describes."""

    # additionalProperties: an editor flags a key that is no slug, as `validate` does.
    plugins: dict[Slug, PinEntry] = Field(
        default={}, json_schema_extra={"additionalProperties": False},
        description="Plugins installed at build time: slug = \"pinned version\", or slug = { version = \"...\", "
        "active = true } to have each deploy activate (or, with false, deactivate) it on the live site.")
    themes: dict[Slug, PinEntry] = Field(
        default={}, json_schema_extra={"additionalProperties": False},
        description="Themes installed at build time: slug = \"pinned version\", or slug = { version = \"...\", "
        "active = true } on the one theme each deploy switches the live site to.")

    def to_config(self, root: Path) -> Config:
        """The config the kit works with: pins as slug -> version, declared states apart."""
        sections = {name: getattr(self, name) for name in SECTIONS}
        active = [slug for slug, pin in sorted(self.themes.items()) if pin.active]
        return Config(**sections, root=root,
                      plugins={slug: pin.version for slug, pin in self.plugins.items()},
                      themes={slug: pin.version for slug, pin in self.themes.items()},
                      plugins_active={slug: pin.active for slug, pin in self.plugins.items() if pin.active is not None},
                      active_theme=active[0] if active else "")


class Config(Sections):
    """A validated project config. ``root`` is the project directory (where wplambda.toml lives)."""

    plugins: dict[str, str] = _key({}, "Pinned plugins: slug -> version.")
    themes: dict[str, str] = _key({}, "Pinned themes: slug -> version.")
    # The declared live state, kept apart from the versions so everything that only builds reads
    # ``plugins``/``themes`` as slug -> version whichever form the file uses. Only what the file
    # declares is here: a plugin without ``active`` is left as the site has it.
    plugins_active: dict[str, bool] = _key({}, "The plugins declared active (true) or inactive (false).")
    active_theme: str = _key("", "The theme declared active; empty leaves the site's.")
    root: Path = Field(default_factory=Path.cwd, exclude=True, description="The project directory.")

    @property
    def in_vpc(self) -> bool:
        return self.network.mode != "public"

    @property
    def function_layer_count(self) -> int:
        """Layers the function gets: the PHP layer, the extension layers and the kit's runtime layer."""
        return (1 + len(self.php.extensions) if self.php.source == "bref" else 0) + 1

    @property
    def nat_instance_arm64(self) -> bool:
        """Whether the NAT instance type is Graviton, so it needs the arm64 AMI."""
        return graviton_instance(self.network.nat_instance_type)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for templates and manifests (``root`` is left out: no machine paths)."""
        return self.model_dump()


def declared_active(config: Config, table: str, slug: str) -> bool | None:
    """The ``active`` an entry declares, or None when the file leaves its state to the site."""
    if table == "themes":
        return True if config.active_theme == slug else None
    return config.plugins_active.get(slug)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config: which key, on which line, and how to fix it. ``at`` is the
    (table, key) whose line it points at, when ``key`` does not say: a slug may hold dots, and two
    active themes are one problem of ``themes`` shown at the second."""

    key: str
    message: str
    line: int | None = None
    at: tuple[str, ...] = ()

    def render(self, path: Path | None) -> str:
        where = f"{path}" if path else CONFIG_FILE
        if self.line:
            where += f":{self.line}"
        return f"{where}: {self.key}: {self.message}"


def not_allowed(value: Any, choices: tuple[Any, ...]) -> str:
    """The message for a value outside a fixed set (the empty string, when allowed, goes unnamed)."""
    allowed = ", ".join(repr(c) for c in choices if c != "") or "(empty)"
    return f"{value!r} is not allowed; use one of: {allowed}"


def pin_problems(file: ConfigFile) -> list[Problem]:
    """The themes' ``active``: WordPress runs exactly one theme, so two are a conflict, and ``false``
    means nothing (a theme is switched off only by switching another on)."""
    out = [Problem(f"themes.{slug}.active", "a theme cannot be deactivated on its own; drop `active = false` and "
                   "set `active = true` on the theme the site should use", at=("themes", slug))
           for slug, pin in file.themes.items() if pin.active is False]
    chosen = sorted(slug for slug, pin in file.themes.items() if pin.active)
    if len(chosen) > 1:
        out.append(Problem("themes", f"{len(chosen)} themes are declared active ({', '.join(chosen)}), but a site "
                           "runs one; keep `active = true` on one of them", at=("themes", chosen[1])))
    return out


def cross_checks(c: Config) -> list[Problem]:
    """Combinations that are each valid alone but cannot work together."""
    out: list[Problem] = []

    def add(section: str, key: str, message: str) -> None:
        out.append(Problem(f"{section}.{key}", message))

    if c.database.mode == "aurora-serverless-v2" and not c.in_vpc:
        add("database", "mode", "aurora-serverless-v2 needs a VPC; set network.mode to \"vpc-nat-instance\" "
            "or \"vpc-nat-gateway\", or use database.mode = \"external\"")
    if c.storage.mode == "efs" and not c.in_vpc:
        add("storage", "mode", "storage.mode = \"efs\" needs a VPC (Lambda reaches EFS only through mount "
            "targets in the function's subnets); set network.mode to \"vpc-nat-instance\" or "
            "\"vpc-nat-gateway\", or use storage.mode = \"package\"")
    if c.function.front_door == "http-api" and c.function.timeout > HTTP_API_MAX_TIMEOUT:
        add("function", "timeout", f"{c.function.timeout} s is over the HTTP API's {HTTP_API_MAX_TIMEOUT} s "
            "limit; lower it, or set function.front_door = \"function-url\" (up to 900 s)")
    if c.site.domains and not c.site.certificate_arn:
        add("site", "certificate_arn", "site.domains is set but no certificate is; request an ACM "
            "certificate in us-east-1 for the domains and put its ARN here")
    if c.site.certificate_arn:
        match = re.match(r"^arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate/[0-9a-f-]+$", c.site.certificate_arn)
        if not match:
            add("site", "certificate_arn", f"{c.site.certificate_arn!r} is not an ACM certificate ARN")
        elif match.group(1) != "us-east-1":
            add("site", "certificate_arn", f"the certificate is in {match.group(1)}, but CloudFront only "
                "accepts certificates from us-east-1; request one there")
    if c.database.mode == "external":
        for key in ("host", "user", "secret_arn"):
            if not getattr(c.database, key):
                add("database", key, f"database.mode = \"external\" needs database.{key}")
    if c.database.mode == "aurora-serverless-v2" and c.database.min_acu == 0 and c.cron.enabled:
        # Aurora pauses only after auto_pause_seconds without a connection, and each wp-cron run
        # connects: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html
        gap = schedule.longest_gap(c.cron.schedule)
        if gap is not None and gap <= c.database.auto_pause_seconds:
            add("cron", "schedule", f"{c.cron.schedule} runs wp-cron at least every {gap} s, at or below "
                f"database.auto_pause_seconds = {c.database.auto_pause_seconds}: each run connects to the "
                "database, so with database.min_acu = 0 Aurora never pauses and bills its capacity around "
                "the clock; run cron less often (e.g. \"rate(1 hour)\"), lower database.auto_pause_seconds "
                "below the gap between runs, or set database.min_acu above 0 if the site needs the database awake")
    if c.database.min_acu > c.database.max_acu:
        add("database", "min_acu", f"min_acu {c.database.min_acu} is above max_acu {c.database.max_acu}")
    if c.database.min_acu and c.database.min_acu * 2 != int(c.database.min_acu * 2):
        add("database", "min_acu", "capacity comes in steps of 0.5 ACU")
    if c.php.source == "bref" and c.php.layer_arn and f":lambda:{c.aws.region}:" not in c.php.layer_arn:
        add("php", "layer_arn", f"the layer is not in {c.aws.region}; Lambda only attaches layers from "
            "the function's own region")
    _snap_start_checks(c, add)
    _mail_checks(c, add)
    try:
        ipaddress.ip_network(c.network.vpc_cidr)
    except ValueError as exc:
        add("network", "vpc_cidr", f"{c.network.vpc_cidr!r} is not a network address ({exc}); "
            "use e.g. \"10.42.0.0/16\"")
    if c.build.opcache_file_cache and c.php.source != "dir":
        add("build", "opcache_file_cache", "a primed opcache file cache is only valid for the PHP binary that "
            "wrote it, and the build has Bref's only as a layer ARN; set php.source = \"dir\" or "
            "build.opcache_file_cache = false")
    if c.php.source == "dir" and not c.php.dir:
        add("php", "dir", "php.source = \"dir\" needs php.dir, the directory holding php-fpm and php")
    if c.security.waf and (c.aws.region.startswith("cn-") or "-gov-" in c.aws.region):
        add("security", "waf", f"the web ACL is made in us-east-1 (the one region of CloudFront web ACLs), which a "
            f"stack in {c.aws.region}, another AWS partition, cannot use; set security.waf = false")
    return out


def _snap_start_checks(c: Config, add: Callable[[str, str, str], None]) -> None:
    """What SnapStart cannot be combined with (each reported through ``add``)."""
    if not c.function.snap_start:
        return
    why = "; turn function.snap_start off, or"
    if c.function.provisioned_concurrency:
        add("function", "provisioned_concurrency", "SnapStart cannot be combined with provisioned "
            f"concurrency{why} set function.provisioned_concurrency = 0")
    if c.function.ephemeral_storage > SNAP_START_MAX_EPHEMERAL_STORAGE:
        add("function", "ephemeral_storage", f"{c.function.ephemeral_storage} MB: SnapStart allows at most "
            f"{SNAP_START_MAX_EPHEMERAL_STORAGE} MB of /tmp{why} lower it to {SNAP_START_MAX_EPHEMERAL_STORAGE}")
    if c.aws.region in SNAP_START_UNAVAILABLE_REGIONS:
        add("aws", "region", f"Lambda offers no SnapStart in {c.aws.region}{why} deploy to another region")
    if c.storage.mode == "efs":
        add("storage", "mode", f"SnapStart cannot be combined with EFS{why} use another storage.mode")


def _mail_checks(c: Config, add: Callable[[str, str, str], None]) -> None:
    """The From address against the domains: the identity the stack creates is site.domains[0]'s,
    so its From must be on that domain; and a From on another domain than the site's is only taken
    when written out as mail.from, never guessed."""
    mail, domains = c.mail, c.site.domains
    if not mail.enabled:
        return
    if mail.create_identity and not domains:
        add("mail", "create_identity", "the identity is made for the site's domain, and site.domains is empty; "
            "set site.domains, or set mail.create_identity = false and verify mail.from's domain in SES yourself")
        return
    region = mail.region or c.aws.region
    if mail.create_identity and region != c.aws.region:
        add("mail", "region", f"the stack makes the identity in its own region, {c.aws.region}, not {region}; "
            "set mail.region to it (or leave it empty), or set mail.create_identity = false and verify the "
            f"domain in SES in {region} yourself")
    domain = mail.sender(domains).rpartition("@")[2]
    if mail.create_identity and domain != domains[0]:
        add("mail", "from", f"{mail.from_!r} is not on {domains[0]}, the domain whose identity mail.create_identity "
            f"creates; use an address @{domains[0]}, or set mail.create_identity = false and verify {domain} "
            "in SES yourself")

