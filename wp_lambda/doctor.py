"""``wplambda doctor``: every prerequisite a user can be missing, one line each, with its fix.

That includes everything ``serve`` and ``wp --local`` need at run time: php and php-fpm (found as
serve finds them), MariaDB, awslambdaric in the kit's own interpreter, and, in a project, the
WordPress source and a usable theme.

A new machine fails in ways a developer's never does (a package that was only Recommended, a
tool in a venv that is not on PATH), so every check looks the thing up the way the kit itself
will at run time, and names the Debian package or setting that supplies it. Nothing here
changes the machine, and nothing reaches the network unless ``aws`` is asked for.
"""

from __future__ import annotations

import datetime
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from wp_lambda import config as config_mod
from wp_lambda import php_security
from wp_lambda.bundle import core, plugins, themes
from wp_lambda.common.errors import UserError
from wp_lambda.local import php as local_php

MIN_PHP = (8, 2)
# What WordPress uses, and the Debian package that brings each one ("common" ones ship with php-cli).
EXTENSIONS: dict[str, str] = {
    "mysqli": "php{v}-mysql", "curl": "php{v}-curl", "dom": "php{v}-xml", "exif": "php{v}-common",
    "fileinfo": "php{v}-common", "intl": "php{v}-intl", "mbstring": "php{v}-mbstring",
    "openssl": "php{v}-cli", "xml": "php{v}-xml", "zip": "php{v}-zip",
}
IMAGE_EXTENSIONS = {"gd": "php{v}-gd", "imagick": "php{v}-imagick"}
SBIN = ("/usr/sbin", "/usr/local/sbin")


@dataclass(frozen=True)
class Check:
    """One line of the report. ``required`` checks that fail make doctor exit 1."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True
    # A failing refusal is the project's to fix, not the machine's: doctor then exits 2, like validate.
    refusal: bool = False

    @property
    def status(self) -> str:
        if self.ok:
            return "ok"
        return "missing" if self.required else "warning"


@dataclass(frozen=True)
class Report:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.ok or not c.required for c in self.checks)

    @property
    def exit_code(self) -> int:
        """0 when ok; 2 when the project itself is refused (its PHP is unfit), else 1 (something missing)."""
        if self.ok:
            return 0
        return 2 if any(c.refusal and not c.ok for c in self.checks) else 1

    def as_json(self) -> dict[str, object]:
        return {"ok": self.ok, "checks": [{**asdict(c), "status": c.status} for c in self.checks]}


class _Finder:
    """Tools on PATH, plus the sbin folders a user's PATH often lacks and this interpreter's own
    bin folder (where pip put cfn-lint)."""

    def __init__(self, path: str | None) -> None:
        self.path = os.environ.get("PATH", "") if path is None else path

    def which(self, *names: str, sbin: bool = False, venv: bool = False) -> str | None:
        dirs = self.path.split(os.pathsep)
        if sbin:
            dirs += [d for d in SBIN if d not in dirs]
        if venv:  # the kit's own environment first: a shim on PATH may name a tool it lacks
            dirs.insert(0, str(Path(sys.executable).parent))
        search = os.pathsep.join(dirs)
        return next((found for name in names if (found := shutil.which(name, path=search))), None)


def _run(argv: list[str]) -> str | None:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    return result.stdout if result.returncode == 0 else None


def _php_checks(finder: _Finder) -> tuple[list[Check], str | None]:
    php = finder.which("php")
    if php is None:
        return [Check("php", False, "no php on PATH", "apt-get install php-cli (or run `make setup`)")], None
    version = (_run([php, "-r", "echo PHP_VERSION;"]) or "").strip()
    match = re.match(r"(\d+)\.(\d+)", version)
    if not match:
        return [Check("php", False, f"{php} does not report its version", "reinstall php-cli")], None
    short = f"{match[1]}.{match[2]}"
    checks = [Check("php", (int(match[1]), int(match[2])) >= MIN_PHP, f"{php} is PHP {version}",
                    f"WordPress on this kit needs PHP {MIN_PHP[0]}.{MIN_PHP[1]}+: apt-get install php-cli")]
    loaded = {line.strip().lower() for line in (_run([php, "-m"]) or "").splitlines()}
    for name, package in EXTENSIONS.items():
        checks.append(Check(f"php extension {name}", name in loaded,
                            "loaded" if name in loaded else "not loaded", f"apt-get install {package.format(v=short)}"))
    images = sorted(IMAGE_EXTENSIONS.keys() & loaded)
    checks.append(Check("php extension gd or imagick", bool(images),
                        ", ".join(images) if images else "neither is loaded: no thumbnails, no image editing",
                        "apt-get install " + " or ".join(p.format(v=short) for p in IMAGE_EXTENSIONS.values())))
    return checks, short


def _tool_checks(finder: _Finder, php_version: str | None, config: config_mod.Config | None) -> list[Check]:
    mariadb = finder.which("mariadbd", "mysqld", sbin=True)
    install_db = finder.which("mariadb-install-db", "mysql_install_db", sbin=True)
    composer = finder.which("composer")
    checks = [
        _serve_php_check(finder, php_version, config),
        Check("awslambdaric", (ric := importlib.util.find_spec("awslambdaric")) is not None,
              f"{ric.origin} (serve runs the handler under it)" if ric and ric.origin else "not importable by "
              f"{sys.executable}", "pip install awslambdaric (a dependency of wplambda: reinstall the kit)"),
        Check("mariadb", mariadb is not None and install_db is not None,
              mariadb or "mariadbd not found", "apt-get install mariadb-server"),
        Check("composer", composer is not None or bool(os.environ.get("WPLAMBDA_COMPOSER")),
              composer or os.environ.get("WPLAMBDA_COMPOSER") or "not on PATH",
              "apt-get install composer, or let the build download the pinned composer.phar (needs the network)",
              required=False),
        Check("cfn-lint", (lint := finder.which("cfn-lint", venv=True)) is not None, lint or "not found",
              "pip install cfn-lint (or run `make setup`)"),
    ]
    if config is not None and not config.build.wp_cli:
        checks.append(Check("wp-cli", False, "build.wp_cli is empty: the runtime layer carries none, so "
                            "`wplambda wp` cannot run", "set build.wp_cli = \"pinned\" in wplambda.toml",
                            required=False))
    elif config is not None:
        wp_cli = config.build.wp_cli
        stand_in = os.environ.get(plugins.ENV_WP_CLI_PHAR)
        if wp_cli == "pinned" and stand_in:
            checks.append(Check("wp-cli", Path(stand_in).is_file(), f"{plugins.ENV_WP_CLI_PHAR}={stand_in} "
                                "(used instead of the pinned release, unchecked)",
                                f"point {plugins.ENV_WP_CLI_PHAR} at a wp-cli.phar, or unset it"))
        elif wp_cli == "pinned":
            checks.append(Check("wp-cli", True, f"pinned release {plugins.WP_CLI.version} (downloaded once by the "
                                "build, sha512 verified)"))
        else:
            path = Path(wp_cli).expanduser()
            path = path if path.is_absolute() else config.root / path
            checks.append(Check("wp-cli", path.is_file(), str(path) if path.is_file() else f"{path} does not exist",
                                "fix build.wp_cli in wplambda.toml (a wp-cli.phar path, or \"pinned\")"))
    return checks


def _serve_php_check(finder: _Finder, php_version: str | None, config: config_mod.Config | None) -> Check:
    """The php-fpm and php ``serve`` and ``wp --local`` will run, found the way they find it."""
    preferred = config.php.version if config is not None else php_version or ""
    try:
        found = local_php.find(preferred, path=finder.path)
    except UserError as exc:
        return Check("php-fpm", False, exc.message, exc.hint or "")
    return Check("php-fpm", True, f"{found.fpm} with {found.cli} (PHP {found.version}): what serve runs")


def _wordpress_checks(config: config_mod.Config) -> list[Check]:
    try:
        source = core.resolve(config)
    except UserError as exc:
        return [Check("wordpress source", False, exc.message, exc.hint or "")]
    if source.kind != "dir":
        return [Check("wordpress source", True, f"{source.kind}: {source.location} (its default themes ship with it)")]
    root = Path(source.location)
    checks = [Check("wordpress source", True, f"{root} (WordPress {source.version or 'unknown version'})")]
    scan = themes.scan(root)
    pinned = sorted(config.themes)
    usable = scan.usable + [f"{name} (pinned)" for name in pinned]
    detail = ", ".join(usable) if usable else "; ".join(scan.problems) or f"{scan.folder} is empty"
    checks.append(Check("wordpress themes", bool(usable), detail,
                        "install Debian's wordpress-theme-twentytwentythree, or pin one under [themes]"))
    count = themes.translation_count(root)
    checks.append(Check("wordpress translations", count > 0, f"{count} catalogues" if count else "none: English only",
                        "apt-get install wordpress-l10n", required=False))
    return checks


def _bref_check(config: config_mod.Config) -> list[Check]:
    if config.php.source != "bref":
        return [Check("php layer", True, f"php.source = {config.php.source!r}: the build ships these binaries")]
    arn = config_mod.php_layer_arn(config)
    return [Check("bref layer", arn is not None, arn or f"none for {config.aws.region}/{config.aws.architecture}",
                  "set aws.region to a region Bref publishes to, or php.layer_arn")]


def _php_security_checks(config: config_mod.Config, today: datetime.date | None) -> list[Check]:
    """The deployed PHP's support and patch level (:mod:`wp_lambda.php_security`); each accepted
    risk and note is a warning line of its own, so none is lost in a passing check."""
    found = php_security.assess(config, today)
    head = (Check("php security", True, found.summary()) if found.ok else
            Check("php security", False, found.problem(), found.remedy(), refusal=True))
    return [head] + [Check("php security", False, line, required=False) for line in found.warnings()]


def _aws_checks(config: config_mod.Config | None, profile: str | None) -> list[Check]:
    from wp_lambda import aws

    if config is None:
        return [Check("aws credentials", False, "no wplambda.toml here, so no region to check against",
                      "run doctor --aws inside a project (or with --project DIR)")]
    try:
        connection = aws.connect(config, profile=profile)
        account = connection.account_id()
    except UserError as exc:
        return [Check("aws credentials", False, exc.message, exc.hint or "")]
    return [Check("aws credentials", True, f"account {account}" + (f" (profile {connection.profile})"
                                                                    if connection.profile else "")),
            Check("aws region", True, connection.region), *_mail_checks(config, connection.session)]


def _mail_checks(config: config_mod.Config, session: object) -> list[Check]:
    """[mail] as SES sees it (wp_lambda.ses): warnings, never a failure, as in the deploy preflight."""
    if not config.mail.enabled:
        return []
    import botocore.exceptions

    from wp_lambda import ses

    try:
        found = ses.status(config, session)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:  # the check could not run
        return [Check("ses", False, f"could not read SES's status: {exc}", "check credentials and mail.region",
                      required=False)]
    warnings = found.warnings()
    detail = f"{found.sender} in {found.region}: verified, out of the sandbox" if not warnings else "; ".join(warnings)
    return [Check("ses", not warnings, detail, "see the line above", required=False)]


def run(project: Path, *, aws: bool = False, profile: str | None = None, path: str | None = None,
        today: datetime.date | None = None) -> Report:
    """Every check; project checks only when ``project`` holds a wplambda.toml (``today``: the date
    the PHP security check judges end of life on, default today)."""
    finder = _Finder(path)
    checks, php_version = _php_checks(finder)
    config: config_mod.Config | None = None
    config_checks: list[Check] = []
    if (project / config_mod.CONFIG_FILE).is_file():
        try:
            config = config_mod.load(project)
            config_checks.append(Check("wplambda.toml", True, str(project / config_mod.CONFIG_FILE)))
        except UserError as exc:
            config_checks.append(Check("wplambda.toml", False, exc.message, exc.hint or "fix the file"))
    else:
        config_checks.append(Check("wplambda.toml", True, f"no project in {project}: project checks skipped"))
    checks += _tool_checks(finder, php_version, config)
    checks += config_checks
    if config is not None:
        checks += _wordpress_checks(config) + _bref_check(config) + _php_security_checks(config, today)
    if aws:
        checks += _aws_checks(config, profile)
    return Report(checks)
