"""The project config, ``wplambda.toml``: schema, defaults, loading and validation.

The schema is the dataclasses below; each field's metadata carries its rule (allowed values,
range, pattern) and its one-line doc, which also becomes the comment in a freshly written
``wplambda.toml``. Validation collects every problem before failing so a user fixes a file in
one pass, and it rejects unknown keys because a typo that is silently ignored ships a broken site.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions

from wp_lambda import bref_layers
from wp_lambda.common.errors import UserError

CONFIG_FILE = "wplambda.toml"

NETWORK_MODES = ("public", "vpc-nat-gateway", "vpc-nat-instance")
DATABASE_MODES = ("aurora-serverless-v2", "external")
FRONT_DOORS = ("http-api", "function-url")
ARCHITECTURES = ("x86_64", "arm64")
# Exactly what Bref publishes a runtime layer for, read from its packaged layers.json (8.2 ... 8.5 in
# Bref 3.0.9): a version Bref has no layer for could not be deployed with the default php.source.
PHP_VERSIONS = bref_layers.php_versions()
PHP_SOURCES = ("bref", "dir")
STORAGE_MODES = ("package", "efs")
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                      2557, 2922, 3288, 3653)
DEFAULT_WORDPRESS_VERSION = "6.8.3"
HTTP_API_MAX_TIMEOUT = 30
LAMBDA_MAX_LAYERS = 5

_HOST_RE = r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
_REGION_RE = r"^[a-z]{2}(-gov)?-[a-z]+-\d$"
_PHP_SIZE_RE = r"^\d+[KMG]?$"


def _f(default: Any, doc: str, **rule: Any) -> Any:
    """A schema field: its default, its doc line and its validation rule."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"doc": doc, **rule})
    return field(default=default, metadata={"doc": doc, **rule})


@dataclass
class Site:
    name: str = _f("my-blog", "Stack-friendly name: lowercase letters, digits and dashes.",
                   pattern=r"^[a-z][a-z0-9-]{0,39}$")
    title: str = _f("My Blog", "The site title WordPress is installed with.")
    admin_email: str = _f("admin@example.com", "The administrator's e-mail address.",
                          pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    domains: list[str] = _f([], "Custom domains (aliases) for CloudFront; the first one is the site's home.",
                            item_pattern=_HOST_RE)
    certificate_arn: str = _f("", "ACM certificate for the domains; CloudFront needs it in us-east-1.")


@dataclass
class Aws:
    region: str = _f("us-east-1", "AWS region of the stack.", pattern=_REGION_RE)
    profile: str = _f("", "Named profile from ~/.aws/config; empty uses the standard credential chain.")
    architecture: str = _f("x86_64", "Lambda architecture.", choices=ARCHITECTURES)
    artifact_bucket: str = _f("", "Bucket for deploy artifacts (zips); empty uses the kit's own bucket "
                              "wplambda-artifacts-ACCOUNT-REGION, created on first deploy.",
                              pattern=r"^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])?$")


@dataclass
class Php:
    version: str = _f("8.2", "PHP version.", choices=PHP_VERSIONS)
    source: str = _f("bref", "Where PHP binaries come from: Bref's published layer, or a local directory.",
                     choices=PHP_SOURCES)
    dir: str = _f("", "With source = \"dir\": the directory holding php-fpm, php and their extensions.")
    layer_arn: str = _f("", "Override the pinned Bref layer ARN for this region and architecture.",
                        pattern=r"^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+)?$")
    extensions: list[str] = _f(["gd"], "With source = \"bref\": Bref's extra-extension layers to attach "
                               "(x86_64 only): gd lets WordPress make thumbnails; imagick is the other choice.")
    memory_limit: str = _f("256M", "PHP memory_limit.", pattern=_PHP_SIZE_RE)
    ini: dict[str, Any] = _f({}, "Extra php.ini settings, e.g. { \"max_input_vars\" = \"3000\" }.")


@dataclass
class Wordpress:
    source: str = _f(DEFAULT_WORDPRESS_VERSION,
                     "A version to download, a URL, or a local tarball, zip or directory.")
    sha1: str = _f("", "Expected SHA-1 of a URL or tarball source (versions are checked automatically).",
                   pattern=r"^([0-9a-f]{40})?$")


@dataclass
class Function:
    memory: int = _f(1024, "Lambda memory in MB.", min=128, max=10240)
    timeout: int = _f(28, "Lambda timeout in seconds (HTTP API allows at most 30).", min=1, max=900)
    ephemeral_storage: int = _f(512, "Size of /tmp in MB.", min=512, max=10240)
    provisioned_concurrency: int = _f(0, "Provisioned concurrency on the live alias; 0 turns it off.",
                                      min=0, max=1000)
    front_door: str = _f("http-api", "What CloudFront calls: an HTTP API, or a Lambda Function URL.",
                         choices=FRONT_DOORS)
    warm_paths: list[str] = _f(["/"], "Paths requested during init so the opcache holds WordPress before the "
                               "first visitor (e.g. [\"/\", \"/blog/\"]); [] turns the warm-up off.")
    snap_start: bool = _f(False, "Lambda SnapStart for published versions: instances resume from a snapshot "
                          "taken after the warm-up (no provisioned concurrency, EFS or /tmp over 512 MB).")


@dataclass
class Network:
    mode: str = _f("vpc-nat-instance", "public (no VPC), vpc-nat-gateway (~$33/month in us-east-1) or "
                   "vpc-nat-instance; `wplambda cost` compares them.", choices=NETWORK_MODES)
    nat_instance_type: str = _f("t4g.nano", "Instance type of the NAT instance.",
                                pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
    vpc_cidr: str = _f("10.42.0.0/16", "CIDR of the VPC the kit creates.",
                       pattern=r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}/(1[6-9]|2[0-4])$")


@dataclass
class Database:
    mode: str = _f("aurora-serverless-v2", "aurora-serverless-v2 (needs a VPC) or external.",
                   choices=DATABASE_MODES)
    min_acu: float = _f(0.0, "Aurora minimum capacity; 0 lets the cluster pause when idle.", min=0, max=256)
    max_acu: float = _f(2.0, "Aurora maximum capacity.", min=1, max=256)
    auto_pause_seconds: int = _f(900, "Idle seconds before Aurora pauses (with min_acu = 0).",
                                 min=300, max=86400)
    name: str = _f("wordpress", "Database name.", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    host: str = _f("", "External database host.")
    port: int = _f(3306, "External database port.", min=1, max=65535)
    user: str = _f("", "External database user.")
    secret_arn: str = _f("", "External database password: ARN of a Secrets Manager secret holding JSON "
                         "with a \"password\" key (like RDS-managed secrets).",
                         pattern=r"^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+)?$")


@dataclass
class Uploads:
    bucket: str = _f("", "Existing uploads bucket; empty creates one in the stack (retained on delete).",
                     pattern=r"^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])?$")
    object_acl: str = _f("", "S3 Uploads object ACL; empty because new buckets have ACLs disabled.",
                         choices=("", "private", "public-read", "bucket-owner-full-control"))
    max_size: int = _f(512, "Largest upload in MB. Files over php.ini's 4 MB go from the browser straight to "
                       "the bucket (a Lambda request carries 6 MB); S3 takes at most 5120 MB in one POST.",
                       min=1, max=5120)


@dataclass
class Storage:
    mode: str = _f("package", "Where wp-content's code lives: \"package\" (read-only, installed at build) or "
                   "\"efs\" (plugins, themes and languages on EFS, installable from wp-admin; needs a VPC).",
                   choices=STORAGE_MODES)


@dataclass
class Assets:
    versioned_max_age: int = _f(31536000, "Cache-Control max-age of files WordPress links with ?ver=.",
                                min=0, max=31536000)
    default_max_age: int = _f(3600, "Cache-Control max-age of other static files.", min=0, max=31536000)


@dataclass
class Cron:
    enabled: bool = _f(True, "Run wp-cron on a schedule (WordPress's own cron is disabled).")
    schedule: str = _f("rate(5 minutes)", "EventBridge schedule expression.",
                       pattern=r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$")


@dataclass
class Logs:
    retention_days: int = _f(30, "CloudWatch Logs retention in days.", choices=LOG_RETENTION_DAYS)


@dataclass
class Console:
    timeout: int = _f(900, "Timeout in seconds of the console function that runs `wplambda wp` commands "
                      "(no HTTP front door limits it).", min=1, max=900)


@dataclass
class Build:
    plugin_mirror: str = _f("https://downloads.wordpress.org", "Where plugin and theme zips come from: "
                            "a URL base or a local directory of zips.")
    plugin_api: str = _f("https://api.wordpress.org", "The plugin and theme directory API that `wplambda plugin "
                         "add`/`outdated`/`update` ask for the latest versions (wordpress.org's, or a mirror "
                         "answering the same plugins/info/1.2 and themes/info/1.2 requests).",
                         pattern=r"^https?://[^\s/]+(/\S*)?$")
    s3_uploads_version: str = _f("^3.0", "Composer constraint for humanmade/s3-uploads.")
    composer_repositories: list[Any] = _f([], "Composer repositories in Composer's own format.")
    wp_cli: str = _f("", "Path to wp-cli.phar, or \"pinned\" to download the pinned release (sha512 "
                     "verified); empty uses `wp` on PATH, else unpacks the zips directly.")
    opcache_file_cache: bool = _f(False, "Ship WordPress compiled into an opcache file cache (deploy builds with "
                                  "php.source = \"dir\" only): a shorter on-demand cold start, but function.zip "
                                  "is then no longer byte-identical between builds. Needs root or unprivileged "
                                  "user namespaces at build time (the tree is compiled as /var/task).")


SECTIONS: dict[str, type] = {
    "site": Site, "aws": Aws, "php": Php, "wordpress": Wordpress, "function": Function,
    "network": Network, "database": Database, "uploads": Uploads, "storage": Storage, "assets": Assets,
    "cron": Cron, "logs": Logs, "build": Build, "console": Console,
}
# Free-form tables: slug -> pinned version, or slug -> { version = "...", active = true|false }.
VERSION_TABLES = ("plugins", "themes")
PIN_KEYS = ("version", "active")
VERSION_RE = r"^[0-9A-Za-z.+_-]+$"
_SLUG_RE = r"^[a-z0-9][a-z0-9._-]*$"


@dataclass
class Config:
    """A validated project config. ``root`` is the project directory (where wplambda.toml lives)."""

    site: Site = field(default_factory=Site)
    aws: Aws = field(default_factory=Aws)
    php: Php = field(default_factory=Php)
    wordpress: Wordpress = field(default_factory=Wordpress)
    function: Function = field(default_factory=Function)
    network: Network = field(default_factory=Network)
    database: Database = field(default_factory=Database)
    uploads: Uploads = field(default_factory=Uploads)
    storage: Storage = field(default_factory=Storage)
    assets: Assets = field(default_factory=Assets)
    cron: Cron = field(default_factory=Cron)
    logs: Logs = field(default_factory=Logs)
    build: Build = field(default_factory=Build)
    console: Console = field(default_factory=Console)
    plugins: dict[str, str] = field(default_factory=dict)
    themes: dict[str, str] = field(default_factory=dict)
    # The declared live state, kept apart from the versions so everything that only builds reads
    # ``plugins``/``themes`` as slug -> version whichever form the file uses. Only what the file
    # declares is here: a plugin without ``active`` is left as the site has it.
    plugins_active: dict[str, bool] = field(default_factory=dict)
    active_theme: str = ""
    root: Path = field(default_factory=Path.cwd)

    @property
    def in_vpc(self) -> bool:
        return self.network.mode != "public"

    @property
    def php_layer_arn(self) -> str | None:
        """The PHP binaries layer: ``php.layer_arn``, else Bref's pinned one; None with ``php.source = "dir"``
        (the binaries then ship inside the runtime layer)."""
        if self.php.source != "bref":
            return None
        return self.php.layer_arn or bref_layers.layer_arn(self.aws.region, self.php.version, self.aws.architecture)

    @property
    def php_extension_layer_arns(self) -> list[str]:
        """Bref's extra-extension layers for ``php.extensions`` (none with ``php.source = "dir"``, whose
        extensions ship in the runtime layer). Raises UserError for one Bref does not publish here."""
        if self.php.source != "bref":
            return []
        return [bref_layers.extension_layer_arn(name, self.aws.region, self.php.version, self.aws.architecture)
                for name in self.php.extensions]

    @property
    def function_layer_count(self) -> int:
        """Layers the function gets: the PHP layer, the extension layers and the kit's runtime layer."""
        return (1 + len(self.php.extensions) if self.php.source == "bref" else 0) + 1

    @property
    def nat_instance_arm64(self) -> bool:
        """Whether the NAT instance type is Graviton (t4g, c7gn, ...), so it needs the arm64 AMI."""
        return re.match(r"^([a-z]+\d+g[a-z]*|a1)\.", self.network.nat_instance_type) is not None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for templates and manifests (``root`` is left out: no machine paths)."""
        data = dataclasses.asdict(self)
        data.pop("root")
        return data


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config: which key, on which line, and how to fix it."""

    key: str
    message: str
    line: int | None = None

    def render(self, path: Path | None) -> str:
        where = f"{path}" if path else CONFIG_FILE
        if self.line:
            where += f":{self.line}"
        return f"{where}: {self.key}: {self.message}"


class ConfigError(UserError):
    """Raised with every problem found, so the user fixes the file in one pass."""

    def __init__(self, problems: list[Problem], path: Path | None = None) -> None:
        self.problems = problems
        self.path = path
        super().__init__("\n".join(p.render(path) for p in problems))


def _type_name(tp: Any) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            list: "a list", dict: "a table"}.get(tp, str(tp))


def _check_value(key: str, value: Any, f: dataclasses.Field[Any]) -> tuple[Any, str | None]:
    """Coerce and check one value; return (value, problem message or None)."""
    origin = {"str": str, "int": int, "float": float, "bool": bool}.get(str(f.type))
    if origin is None:
        origin = list if str(f.type).startswith("list") else dict
    rule = f.metadata
    if origin is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if (origin is int and isinstance(value, bool)) or not isinstance(value, origin):
        return value, f"expected {_type_name(origin)}, got {value!r}"
    if "choices" in rule and value not in rule["choices"]:
        allowed = ", ".join(repr(c) for c in rule["choices"] if c != "") or "(empty)"
        return value, f"{value!r} is not allowed; use one of: {allowed}"
    if "min" in rule and value < rule["min"]:
        return value, f"{value} is below the minimum {rule['min']} (allowed: {rule['min']}-{rule['max']})"
    if "max" in rule and value > rule["max"]:
        return value, f"{value} is above the maximum {rule['max']} (allowed: {rule['min']}-{rule['max']})"
    if "pattern" in rule and not re.match(rule["pattern"], value):
        return value, f"{value!r} does not look right ({rule['doc']})"
    if "item_pattern" in rule:
        for item in value:
            if not isinstance(item, str) or not re.match(rule["item_pattern"], item):
                return value, f"{item!r} is not a valid host name (lowercase, e.g. blog.example.com)"
    if origin is list and not all(isinstance(i, (str, dict)) for i in value):
        return value, "expected a list of strings or tables"
    return value, None


def _line_of(text: str, section: str, key: str | None) -> int | None:
    """Find the line of ``[section]`` / ``key =`` in the raw TOML, for messages a user can jump to."""
    current = ""
    header_line = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        match = re.match(r"^\[\s*([^\]]+?)\s*\]", line)
        if match:
            current = match.group(1).strip()
            if current == section:
                header_line = number
            continue
        if key is not None and current == section and re.match(rf"^[\"']?{re.escape(key)}[\"']?\s*=", line):
            return number
    return header_line


def _suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(options)}"


def parse(text: str, root: Path | None = None, path: Path | None = None) -> Config:
    """Parse and validate TOML text into a :class:`Config`, or raise :class:`ConfigError`."""
    try:
        doc = tomlkit.parse(text).unwrap()
    except tomlkit.exceptions.ParseError as exc:
        raise ConfigError([Problem("(syntax)", f"invalid TOML: {exc}", getattr(exc, "line", None))],
                          path) from exc
    problems: list[Problem] = []
    sections: dict[str, Any] = {}
    known = [*SECTIONS, *VERSION_TABLES]
    for name, body in doc.items():
        if name not in known:
            problems.append(Problem(name, f"unknown section{_suggest(name, known)}", _line_of(text, name, None)))
            continue
        if not isinstance(body, dict):
            problems.append(Problem(name, f"expected a [{name}] table", None))
            continue
        if name in VERSION_TABLES:
            versions, active = _pins(name, body, text, problems)
            sections[name] = versions
            if name == "plugins":
                sections["plugins_active"] = active
            else:
                sections["active_theme"] = _active_theme(active, text, problems)
            continue
        fields = {f.name: f for f in dataclasses.fields(SECTIONS[name])}
        values: dict[str, Any] = {}
        for key, value in body.items():
            if key not in fields:
                problems.append(Problem(f"{name}.{key}", f"unknown key{_suggest(key, list(fields))}",
                                        _line_of(text, name, key)))
                continue
            value, message = _check_value(f"{name}.{key}", value, fields[key])
            if message:
                problems.append(Problem(f"{name}.{key}", message, _line_of(text, name, key)))
            else:
                values[key] = value
        sections[name] = SECTIONS[name](**values)
    config = Config(**sections, root=root or Path.cwd())
    problems.extend(_cross_checks(config, text))
    if problems:
        raise ConfigError(problems, path)
    return config


def _pins(name: str, body: dict[str, Any], text: str,
          problems: list[Problem]) -> tuple[dict[str, str], dict[str, bool]]:
    """A ``[plugins]``/``[themes]`` table: slug -> version, and slug -> declared ``active``."""
    versions: dict[str, str] = {}
    active: dict[str, bool] = {}
    for item, value in body.items():
        line = _line_of(text, name, item)
        if not re.match(_SLUG_RE, item):
            problems.append(Problem(f"{name}.{item}", "expected a wordpress.org slug (lowercase, digits, dashes)",
                                    line))
            continue
        entry = value if isinstance(value, dict) else {"version": value}
        unknown = [key for key in entry if key not in PIN_KEYS]
        if unknown:
            problems.append(Problem(f"{name}.{item}.{unknown[0]}", f"unknown key{_suggest(unknown[0], list(PIN_KEYS))}",
                                    line))
            continue
        version = entry.get("version")
        if not isinstance(version, str) or not re.match(VERSION_RE, version):
            problems.append(Problem(f"{name}.{item}", f"expected a pinned version string such as \"1.2.3\" "
                                    f"(or {{ version = \"1.2.3\", active = true }}), got {value!r}", line))
            continue
        versions[item] = version
        if "active" in entry:
            if not isinstance(entry["active"], bool):
                problems.append(Problem(f"{name}.{item}.active", f"expected true or false, got {entry['active']!r}",
                                        line))
                continue
            active[item] = entry["active"]
    return versions, active


def _active_theme(active: dict[str, bool], text: str, problems: list[Problem]) -> str:
    """The one theme declared ``active = true``; WordPress runs exactly one, so two are a conflict
    and ``false`` means nothing (a theme is switched off only by switching another on)."""
    chosen = sorted(slug for slug, on in active.items() if on)
    for slug, on in active.items():
        if not on:
            problems.append(Problem(f"themes.{slug}.active", "a theme cannot be deactivated on its own; drop "
                                    "`active = false` and set `active = true` on the theme the site should use",
                                    _line_of(text, "themes", slug)))
    if len(chosen) > 1:
        problems.append(Problem("themes", f"{len(chosen)} themes are declared active ({', '.join(chosen)}), "
                                "but a site runs one; keep `active = true` on one of them",
                                _line_of(text, "themes", chosen[1])))
    return chosen[0] if chosen else ""


def pin_value(version: str, active: bool | None) -> str | dict[str, Any]:
    """How one entry is written: the short ``slug = "1.2.3"`` unless an ``active`` state is declared."""
    if active is None:
        return version
    table = tomlkit.inline_table()
    table.update({"version": version, "active": active})
    return table


def _cross_checks(c: Config, text: str) -> list[Problem]:
    """Combinations that are each valid alone but cannot work together."""
    out: list[Problem] = []

    def add(section: str, key: str, message: str) -> None:
        out.append(Problem(f"{section}.{key}", message, _line_of(text, section, key)))

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
    if c.database.min_acu > c.database.max_acu:
        add("database", "min_acu", f"min_acu {c.database.min_acu} is above max_acu {c.database.max_acu}")
    if c.database.min_acu and c.database.min_acu * 2 != int(c.database.min_acu * 2):
        add("database", "min_acu", "capacity comes in steps of 0.5 ACU")
    if c.php.source == "bref" and not c.php.layer_arn and c.php_layer_arn is None:
        published = bref_layers.published_regions(c.php.version, c.aws.architecture)
        add("aws", "region", f"Bref publishes no PHP {c.php.version} layer for {c.aws.architecture} in "
            f"{c.aws.region}; it publishes to: {', '.join(published)}; "
            "use one of those regions, set php.layer_arn to a layer in that region, or php.source = \"dir\"")
    if c.php.source == "bref" and c.php.layer_arn and f":lambda:{c.aws.region}:" not in c.php.layer_arn:
        add("php", "layer_arn", f"the layer is not in {c.aws.region}; Lambda only attaches layers from "
            "the function's own region")
    _function_checks(c, add)
    out.extend(_extension_checks(c, text))
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
    if c.php.source == "dir" and c.php.dir:
        php_dir = Path(c.php.dir) if Path(c.php.dir).is_absolute() else c.root / c.php.dir
        if not php_dir.is_dir():
            add("php", "dir", f"{php_dir} is not a directory")
    return out


WARM_PATHS_MAX = 10
# SnapStart "does not support provisioned concurrency, Amazon Elastic File System (Amazon EFS), or
# ephemeral storage greater than 512 MB", and is offered in every commercial region but Asia
# Pacific (New Zealand) and (Taipei): https://docs.aws.amazon.com/lambda/latest/dg/snapstart.html
SNAP_START_MAX_EPHEMERAL_STORAGE = 512
SNAP_START_UNAVAILABLE_REGIONS = ("ap-east-2", "ap-southeast-6")


def _function_checks(c: Config, add: Callable[[str, str, str], None]) -> None:
    """The warm-up's paths, and what SnapStart cannot be combined with (each reported through ``add``)."""
    paths = c.function.warm_paths
    if len(paths) > WARM_PATHS_MAX:
        add("function", "warm_paths", f"{len(paths)} paths; at most {WARM_PATHS_MAX} fit the init phase's 10 s")
    for path in paths:
        if not isinstance(path, str) or not re.match(r"^/[^\s,#]*$", path):
            add("function", "warm_paths", f"{path!r} is not a site path; use paths such as \"/\" or "
                "\"/about/?lang=en\" (starting with /, no spaces, commas or #)")
    if c.function.snap_start:
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


def _extension_checks(c: Config, text: str) -> list[Problem]:
    """php.extensions: only what Bref publishes for this PHP, region and architecture, and no more
    layers than Lambda attaches to one function."""
    if c.php.source != "bref":
        return []
    line = _line_of(text, "php", "extensions")
    if not all(isinstance(name, str) for name in c.php.extensions):
        return [Problem("php.extensions", "expected a list of extension names such as [\"gd\"]", line)]
    if c.php.extensions and c.aws.architecture == "arm64":
        # Refused rather than dropped: a site without gd or imagick uploads images but never makes
        # thumbnails, and nobody notices until the pages look wrong.
        return [Problem("php.extensions", f"{', '.join(c.php.extensions)} cannot be attached on arm64: Bref "
                        "publishes its extra-extension layers for x86_64 only; set aws.architecture = "
                        "\"x86_64\", or php.extensions = [] to run without them (WordPress then makes no "
                        "thumbnails or resized images)", line)]
    known = bref_layers.extension_names(c.php.version)
    unknown = [name for name in c.php.extensions if name not in known]
    if unknown:
        return [Problem("php.extensions", f"Bref publishes no {', '.join(unknown)} layer for PHP {c.php.version}; "
                        f"it publishes: {', '.join(known)}", line)]
    if len(set(c.php.extensions)) != len(c.php.extensions):
        return [Problem("php.extensions", "an extension is listed twice; list each once", line)]
    out = []
    try:
        c.php_extension_layer_arns  # noqa: B018 - raises for a layer not published in this region
    except UserError as exc:
        out.append(Problem("php.extensions", f"{exc.message}; {exc.hint}" if exc.hint else exc.message, line))
    if c.function_layer_count > LAMBDA_MAX_LAYERS:
        out.append(Problem("php.extensions", f"the function would get {c.function_layer_count} layers (PHP, "
                           f"{len(c.php.extensions)} extension layers and the wplambda runtime); Lambda attaches "
                           f"at most {LAMBDA_MAX_LAYERS} to a function: drop an extension", line))
    return out


def declared_active(config: Config, table: str, slug: str) -> bool | None:
    """The ``active`` an entry declares, or None when the file leaves its state to the site."""
    if table == "themes":
        return True if config.active_theme == slug else None
    return config.plugins_active.get(slug)


def load(project: Path | None = None) -> Config:
    """Load ``wplambda.toml`` from ``project`` (default: the current directory)."""
    root = (project or Path.cwd()).resolve()
    path = root / CONFIG_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"no {CONFIG_FILE} in {root}", "run `wplambda init` there, or pass --project DIR") from None
    return parse(text, root=root, path=path)


def toml_text(config: Config) -> str:
    """The commented ``wplambda.toml`` for ``config``: every key, each with its doc as a comment."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment("wplambda project config. `wplambda render` re-renders template.yaml and"))
    doc.add(tomlkit.comment("wp-config.php from it; `wplambda validate` checks it. Secrets never go here."))
    for name, cls in SECTIONS.items():
        table = tomlkit.table()
        section = getattr(config, name)
        for f in dataclasses.fields(cls):
            table.add(tomlkit.comment(f.metadata["doc"]))
            table.add(f.name, getattr(section, f.name))
        doc.add(tomlkit.nl())
        doc.add(name, table)
    for name in VERSION_TABLES:
        table = tomlkit.table()
        table.add(tomlkit.comment(f"{name[:-1].capitalize()}s installed at build time: slug = \"pinned version\", "
                                  "or slug = { version = \"...\", active = true }"))
        table.add(tomlkit.comment("to have each deploy activate (or, for plugins, deactivate) it on the live site."))
        for slug, version in sorted(getattr(config, name).items()):
            table.add(slug, pin_value(version, declared_active(config, name, slug)))
        doc.add(tomlkit.nl())
        doc.add(name, table)
    return tomlkit.dumps(doc)
