"""The Lambda function's environment variables, decided once for the template and for ``serve``.

:func:`function_environment` is the one list of what the site's function (and the console
function) is started with. The template renders it with CloudFormation expressions where the stack
supplies a value (secrets by ARN, the uploads bucket); ``serve`` asks for the local form, where
those values are this machine's stand-ins (the private MariaDB, the local salt, an uploads
directory or a local bucket). A variable added here therefore reaches both, and one that only
makes sense deployed (Bref's layer layout under /opt, the pinned site host) says so here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from wp_lambda.config import Config
from wp_lambda.runtime import contract


@dataclass(frozen=True)
class Variable:
    """One variable. ``spelled`` is how the template spells the value when a JSON string will not do:
    a CloudFormation expression (then ``value`` is empty: only CloudFormation knows it), or a plain
    scalar kept as the template always had it (so template.yaml stays byte-identical). ``comment``
    lines go above it in the template."""

    name: str
    value: str
    spelled: str | None = None
    comment: tuple[str, ...] = ()

    @property
    def yaml(self) -> str:
        return self.spelled if self.spelled is not None else json.dumps(self.value)


@dataclass(frozen=True)
class LocalStandIns:
    """What stands in on this machine for what the stack gives the function."""

    salt: str
    # The private MariaDB's WORDPRESS_DB_* variables; None: the config's external database, as deployed.
    database: dict[str, str] | None
    # S3 Uploads' variables for a local bucket, or the uploads directory's.
    uploads: dict[str, str]
    # storage.mode = "efs": the directory standing in for the mount.
    content_dir: str | None = None
    # serve's mailbox: every message lands here as an .eml file, none leaves the machine.
    mail_dir: str | None = None


def page_cache(config: Config) -> str:
    """[cache] as contract.PAGE_CACHE_ENV's value: "TTL,STALE_TTL", or empty when pages are not cached."""
    return f"{config.cache.ttl},{config.cache.stale_ttl}" if config.cache.pages else ""


def uploads_bucket_ref(config: Config) -> str:
    """The uploads bucket in the template: the stack's own, or the configured existing one."""
    return json.dumps(config.uploads.bucket) if config.uploads.bucket else "!Ref UploadsBucket"


def function_environment(config: Config, *, role: str = "", local: LocalStandIns | None = None) -> list[Variable]:
    """The function's variables, in the template's order: deployed (``local`` None) or local."""
    env: list[Variable] = []
    if role:
        env.append(Variable(contract.ROLE_ENV, role, role))
    env += _database(config, local)
    if config.site.domains and local is None:
        # Pins the Host WordPress sees; locally the site answers on the gateway's own address.
        env.append(Variable(contract.SITE_HOST_ENV, config.site.domains[0]))
    if local is None:
        env += [
            Variable(contract.S3_UPLOADS_BUCKET_ENV, "", "!Sub\n            - \"${Bucket}/wp-content\"\n"
                     f"            - Bucket: {uploads_bucket_ref(config)}",
                     ("S3 Uploads writes under wp-content/uploads/ in the bucket: CloudFront serves that prefix.",)),
            Variable(contract.S3_UPLOADS_REGION_ENV, "", "!Ref AWS::Region"),
            # Locally PHP is named binary by binary (wp_lambda/local/runtime_process.py).
            Variable(contract.PHP_LAYOUT_ENV, config.php.source, config.php.source,
                     ("Where the runtime finds PHP: Bref's layer layout, or the binaries in the kit's own layer.",)),
            Variable(contract.PHP_PREFIX_ENV, contract.LAYER_ROOT, contract.LAYER_ROOT),
        ]
    else:
        env += [Variable(name, value) for name, value in local.uploads.items()]
    env += [
        Variable(contract.VERSIONED_MAX_AGE_ENV, str(config.assets.versioned_max_age),
                 comment=("Static files the function answers itself are cached like their copies in the bucket.",)),
        Variable(contract.DEFAULT_MAX_AGE_ENV, str(config.assets.default_max_age)),
        Variable(contract.WARM_PATHS_ENV, ",".join(config.function.warm_paths),
                 comment=("Requested during init so the first visitor finds WordPress compiled (empty: no warm-up).",)),
    ]
    env.append(Variable(contract.HARDENING_ENV, hardening(config), comment=(
        "The walls up in front of WordPress ([security]): the runtime and the hardening mu-plugin read them.",)))
    env.append(Variable(contract.PAGE_CACHE_ENV, page_cache(config), comment=(
        "[cache] for the page cache mu-plugin: \"TTL,STALE_TTL\", empty when cache.pages is off.",)))
    env.append(Variable(contract.PAGE_CACHE_COOKIES_ENV, ",".join(contract.BYPASS_COOKIE_PREFIXES), comment=(
        "The cookies that keep a page private, for the mu-plugin to check against PHP's own $_COOKIE.",)))
    if config.storage.mode == "efs":
        where = contract.EFS_MOUNT if local is None else local.content_dir
        assert where is not None, "storage.mode = efs needs the local stand-in for the mount"
        env.append(Variable(contract.CONTENT_DIR_ENV, where, where, (
            "Plugins, themes and languages: wp-config.php points WP_CONTENT_DIR here, the runtime",
            "serves /wp-content/plugins/* and /wp-content/themes/* from here.")))
    env += mail(config, local)
    if role == contract.CONSOLE_ROLE and local is None:
        env += console_address(config)
        if config.cache.pages:
            # wp-cli and cron purge what they change (wp_lambda/runtime/purge.py); a page request
            # names its distribution in a header instead, as only this function may name it here.
            env.append(Variable(contract.DISTRIBUTION_ID_ENV, "", "!Ref Distribution", comment=(
                "The distribution whose cached pages wp-cli and cron changes purge.",)))
    return env


# serve's From when neither mail.from nor site.domains gives one: WordPress would otherwise make
# wordpress@ the request's host (wordpress@localhost), which its own is_email() refuses, so
# wp_mail() fails before the mailbox. .test is reserved for testing (RFC 2606): it names no one.
LOCAL_MAIL_FROM = "wordpress@wplambda.test"


def mail(config: Config, local: LocalStandIns | None) -> list[Variable]:
    """Where wp_mail() sends, for the mail mu-plugin ([mail]): SES in mail.region deployed (nothing
    with mail.enabled off: WordPress's own mail(), which fails without sendmail), serve's mailbox
    locally, always: under serve no message leaves the machine, whatever [mail] says."""
    if local is not None:
        if local.mail_dir is None:  # a local run with no mailbox (the runtime tests): WordPress's own
            return []
        return [Variable(contract.MAIL_ENV, contract.MAIL_LOCAL), Variable(contract.MAIL_DIR_ENV, local.mail_dir),
                Variable(contract.MAIL_FROM_ENV, config.mail.sender(config.site.domains) or LOCAL_MAIL_FROM),
                Variable(contract.MAIL_FROM_NAME_ENV, config.mail.from_name)]
    if not config.mail.enabled:
        return []
    return [Variable(contract.MAIL_ENV, contract.MAIL_SES, comment=(
                "wp_mail() through Amazon SES ([mail]): the mail mu-plugin sends with the function's role.",)),
            Variable(contract.MAIL_FROM_ENV, config.mail.sender(config.site.domains)),
            Variable(contract.MAIL_FROM_NAME_ENV, config.mail.from_name),
            Variable(contract.MAIL_REGION_ENV, config.mail.region or config.aws.region)]


def console_address(config: Config, *, local_url: str | None = None) -> list[Variable]:
    """The console function's ``WP_HOME`` (contract.HOME_ENV) when no custom domain pins the address.

    A page request tells WordPress its host; a console run (wp-cli, cron, import) has none, so
    without this wp-config.php leaves WP_HOME, and with it S3 Uploads' URL, undefined, and S3
    Uploads writes https://BUCKET.s3.amazonaws.com/... into GUIDs and mails: 403s, the bucket is
    private. With a custom domain wp-config.php already pins https://DOMAIN, so nothing is added.

    Deployed, the value is the distribution's own address. Only the console function may name it:
    the distribution's origin (the HTTP API, or the function URL) depends on the site function, so
    the site function referring to the distribution would be a cycle CloudFormation refuses, while
    nothing the distribution needs depends on the console function. The reference also orders the
    first deploy: CloudFormation creates the distribution before the console function
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html:
    a !Sub to a resource makes it created first), so no console run ever lacks the address.
    Locally (``local_url``) it is serve's own address, where the local site answers.
    """
    if config.site.domains:
        return []
    if local_url is not None:
        return [Variable(contract.HOME_ENV, local_url)]
    return [Variable(contract.HOME_ENV, "", '!Sub "https://${Distribution.DomainName}"', comment=(
        "Runs without a Host (wp-cli, cron, import) link to the distribution, not to the private bucket.",
        "Only here: the site function naming the distribution, its own origin, would be a cycle.",))]


def hardening(config: Config) -> str:
    """``[security]`` as the list of walls that are up (contract.HARDENING_ENV's format). A key that
    says a thing is allowed (``xmlrpc = true``) takes its wall down."""
    security = config.security
    walls = [wall for wall, allowed in ((contract.WALL_XMLRPC, security.xmlrpc),
                                        (contract.WALL_USER_ENUMERATION, security.user_enumeration),
                                        (contract.WALL_HTTP_CRON, security.http_cron),
                                        (contract.WALL_CORE_FILES, security.core_files)) if not allowed]
    if security.login_throttle:
        walls.append(f"{contract.WALL_LOGIN_THROTTLE}:{security.login_attempts}")
    if security.same_site_cookies:
        walls.append(contract.WALL_SAME_SITE)
    return ",".join(walls)


def _database(config: Config, local: LocalStandIns | None) -> list[Variable]:
    """How WordPress reaches its database, and the secrets loaded at cold start.

    An external database's password stays in Secrets Manager in both forms: the handler loads it
    through WPLAMBDA_SECRETS, so it never passes through serve, its output or its files. The salt
    and the origin secret are the stack's secrets when deployed, and a local value (or none) here.
    """
    db = config.database
    prefix = contract.DB_SECRET_PREFIX
    stack_secrets = f"{contract.SALT_ENV}=${{SaltSecret}},{contract.ORIGIN_SECRET_ENV}=${{OriginSecret}}"
    if local is None and db.mode == "aurora-serverless-v2":
        return [Variable(contract.SECRETS_ENV, "", f'!Sub "{prefix}=${{DatabaseSecret}},{stack_secrets}"'),
                Variable(contract.DB_NAME_ENV, db.name)]
    if local is None:
        return [Variable(contract.SECRETS_ENV, "", f'!Sub "{prefix}={db.secret_arn},{stack_secrets}"'),
                *_external(config)]
    salt = [Variable(contract.SALT_ENV, local.salt)]
    if local.database is not None:
        return [*(Variable(name, value) for name, value in local.database.items()), *salt]
    return [Variable(contract.SECRETS_ENV, f"{prefix}={db.secret_arn}"), *_external(config), *salt]


def _external(config: Config) -> list[Variable]:
    db = config.database
    return [Variable(contract.DB_HOST_ENV, db.host), Variable(contract.DB_PORT_ENV, str(db.port)),
            Variable(contract.DB_NAME_ENV, db.name), Variable(contract.DB_USER_ENV, db.user)]


def local_environment(config: Config, local: LocalStandIns, *, role: str = "") -> dict[str, str]:
    """The local form as a process environment."""
    return {v.name: v.value for v in function_environment(config, role=role, local=local)}
