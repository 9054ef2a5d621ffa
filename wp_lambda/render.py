"""Render the project files from the Jinja templates shipped in ``wp_lambda/templates``.

Rendering is a pure function of the config, so ``wplambda render`` is byte-identical when nothing
changed (CloudFormation and the build's input hashes both rely on that), and files whose bytes
are unchanged are not rewritten.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from wp_lambda import __version__
from wp_lambda.common.files import write_if_changed
from wp_lambda.config import Config, php_extension_layer_arns, php_layer_arn
from wp_lambda.config.aurora import engine_version
from wp_lambda.config.concurrency import reservation
from wp_lambda.config.schema import WAF_LOGIN_PATHS, WAF_RULE_GROUPS, WAF_TEMPLATE
from wp_lambda.function_env import function_environment, uploads_bucket_ref
from wp_lambda.runtime import contract
from wp_lambda.runtime.contract import EFS_MOUNT

TEMPLATES = Path(__file__).parent / "templates"
# storage.mode = "efs": the POSIX user every file on the mount (EFS_MOUNT) belongs to (the access
# point enforces it).
EFS_UID = 1000
# The stack parameter naming the OriginSecret version CloudFront sends: `deploy --rotate-origin-secret`
# sets it to the version it stores, every other deploy passes the stack's value on unchanged.
ORIGIN_SECRET_VERSION_PARAMETER = "OriginSecretVersion"
# The Aurora cluster's engine version, a parameter so that an update can keep the deployed one
# (wp_lambda.deploy.plan.parameter_values says when).
AURORA_ENGINE_VERSION_PARAMETER = "AuroraEngineVersion"
# Every HTTP API access-log line carries this in its "log" field: the lines share the function's
# log group, and `wplambda logs --access` tells them apart by it.
ACCESS_LOG_MARKER = "wplambda-access"
# One JSON object per request; the $context variables are API Gateway's
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html).
# Deliberately absent: the query string (a password-reset key travels in it), and every request
# header but the user agent (Authorization and cookies never reach a log). sourceIp is the TCP
# peer: behind CloudFront an edge server, not the visitor.
ACCESS_LOG_FIELDS: dict[str, str] = {
    "log": ACCESS_LOG_MARKER,
    "time": "$context.requestTime",
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "bytes": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "userAgent": "$context.identity.userAgent",
    "error": "$context.integrationErrorMessage",
}

# The canned ACL S3 Uploads sends with every PUT when uploads.object_acl is empty (S3 Uploads
# itself would send public-read): the stack's bucket has ACLs disabled and accepts only this one,
# and the role may set no other (template.yaml.j2's UploadsObjectAcl).
DEFAULT_OBJECT_ACL = "bucket-owner-full-control"

# Project-relative path of each rendered file -> the template it comes from.
OUTPUTS: dict[str, str] = {
    "template.yaml": "template.yaml.j2",
    "wordpress/wp-config.php": "wp-config.php.j2",
    "php-layer/php.ini": "php.ini.j2",
    "php-layer/php-fpm.conf": "php-fpm.conf.j2",
}


def _php_literal(value: Any) -> str:
    """A PHP literal for a string (or null for empty/None); JSON escaping is valid PHP for strings."""
    if value is None or value == "":
        return "null"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ini_value(value: Any) -> str:
    if isinstance(value, bool):
        return "On" if value else "Off"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(str(value))


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["php"] = _php_literal
    env.filters["phpini"] = _ini_value
    env.filters["tojson"] = json.dumps
    return env


def context(config: Config, *, local: bool = False) -> dict[str, Any]:
    """Template variables: the config's sections plus values derived from them."""
    data = config.to_dict()
    data.update(
        config=config,
        local=local,
        version=__version__,
        home=f"https://{config.site.domains[0]}" if config.site.domains else None,
        in_vpc=config.in_vpc,
        php_layer_arn=php_layer_arn(config),
        php_extension_layer_arns=php_extension_layer_arns(config),
        aurora_engine_version=engine_version(config),
        reserved_concurrency=reservation(config).instances,
        efs_mount=EFS_MOUNT,
        efs_uid=EFS_UID,
        subnet_cidrs=subnet_cidrs(config.network.vpc_cidr) if config.in_vpc else [],
        # The names serve shares with the stack (wp_lambda/runtime/contract.py, function_env.py).
        function_environment=lambda role="": function_environment(config, role=role),
        uploads_bucket_ref=uploads_bucket_ref(config),
        uploads_prefix=contract.UPLOADS_KEY_PREFIX,
        s3_uploads_acl=config.uploads.object_acl or DEFAULT_OBJECT_ACL,
        behaviours=contract.behaviours(config.storage.mode == "efs"),
        default_origin=contract.DEFAULT_ORIGIN,
        origins={"function": contract.FUNCTION_ORIGIN, "assets": contract.ASSETS_ORIGIN,
                 "uploads": contract.UPLOADS_ORIGIN, "assets_then_function": contract.ASSETS_THEN_FUNCTION},
        failover_statuses=contract.FAILOVER_STATUSES,
        console_role=contract.CONSOLE_ROLE,
        origin_secret_header=contract.ORIGIN_SECRET_HEADER,
        db_denied_header=contract.DB_DENIED_HEADER,
        db_denied_token_param=contract.DB_DENIED_TOKEN_PARAM,
        authorization_copy_header=contract.AUTHORIZATION_COPY_HEADER.lower(),
        viewer_address_header=contract.VIEWER_ADDRESS_HEADER.lower(),
        distribution_header=contract.DISTRIBUTION_HEADER.lower(),
        # contract.cache_bypass's values, from which the viewer-request function's rule is rendered.
        cache_bypass={"header": contract.CACHE_BYPASS_HEADER.lower(), "methods": contract.CACHED_METHODS,
                      "path_prefixes": contract.BYPASS_PATH_PREFIXES, "scripts": contract.BYPASS_SCRIPTS,
                      "query_keys": contract.BYPASS_QUERY_KEYS, "cookie_prefixes": contract.BYPASS_COOKIE_PREFIXES,
                      "override_headers": contract.METHOD_OVERRIDE_HEADERS,
                      # JSON's escapes (\t, \u000b, ...) are JavaScript's too, inside a regex class.
                      "cookie_name_space": json.dumps(contract.PHP_COOKIE_NAME_SPACE)[1:-1]},
        # PageCachePolicy's TTLs, which serve's gateway applies too.
        page_cache_ttls=contract.page_cache_ttls(config.cache.ttl),
        # The errors CloudFront caches, each given an error caching minimum TTL of 0 with the page cache.
        cached_error_codes=contract.EDGE_UNCACHED_ERROR_CODES,
        security_headers_config=security_headers_config(bool(config.site.domains)),
        waf_rule_groups=WAF_RULE_GROUPS,
        waf_login_paths=WAF_LOGIN_PATHS,
        waf_metric=f"{config.site.name}-waf",
        origin_secret_version_parameter=ORIGIN_SECRET_VERSION_PARAMETER,
        aurora_engine_version_parameter=AURORA_ENGINE_VERSION_PARAMETER,
        access_log_format=json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":")),
        # [mail]: the one From address the role may send as (empty: no SES permission), and SES's region.
        mail_sender=config.mail.sender(config.site.domains) if config.mail.enabled else "",
        mail_region=config.mail.region or config.aws.region,
    )
    return data


def security_headers_config(own_domain: bool) -> dict[str, dict[str, Any]]:
    """The response headers policy's ``SecurityHeadersConfig`` for
    :func:`wp_lambda.runtime.contract.security_headers`, the list serve's gateway adds too
    (https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ResponseHeadersPolicySecurityHeadersConfig.html)."""
    config: dict[str, dict[str, Any]] = {}
    for header in contract.security_headers(own_domain):
        settings: dict[str, Any]
        if header is contract.STRICT_TRANSPORT_SECURITY:
            key, settings = "StrictTransportSecurity", {"AccessControlMaxAgeSec": contract.HSTS_MAX_AGE,
                                                        "IncludeSubdomains": False, "Preload": False}
        elif header is contract.CONTENT_TYPE_OPTIONS:
            key, settings = "ContentTypeOptions", {}
        elif header is contract.FRAME_OPTIONS:
            key, settings = "FrameOptions", {"FrameOption": header.value}
        elif header is contract.REFERRER_POLICY:
            key, settings = "ReferrerPolicy", {"ReferrerPolicy": header.value}
        else:  # a header added to the contract must be given its place in the policy here
            raise ValueError(f"no response headers policy setting for {header.name}")
        config[key] = {**settings, "Override": header.override}
    return config


def subnet_cidrs(vpc_cidr: str) -> list[str]:
    """The VPC's four quarters (public A, public B, private A, private B), as literal CIDRs.

    This is what ``!Select [i, !Cidr [!GetAtt Vpc.CidrBlock, 4, 30 - prefix]]`` evaluates to, but the
    VPC CIDR is a literal of the config anyway, so the template says the result instead: a reader
    sees the subnets' ranges, and moto's CloudFormation (which the deploy tests run against and
    which has no ``Fn::Cidr``) can create the subnets.
    """
    return [str(net) for net in ipaddress.ip_network(vpc_cidr).subnets(prefixlen_diff=2)]


def render_text(template: str, config: Config, *, local: bool = False) -> str:
    """Render one template by name (e.g. ``"php.ini.j2"``) for ``config``."""
    return _environment().get_template(template).render(context(config, local=local))


@dataclass(frozen=True)
class RenderResult:
    written: list[str]
    unchanged: list[str]


def render_project(config: Config, dest: Path | None = None) -> RenderResult:
    """Render every project file under ``dest`` (default: the project root).

    All templates render in memory first, so a template error writes nothing at all.
    """
    root = dest or config.root
    rendered = {rel: render_text(name, config) for rel, name in OUTPUTS.items()}
    # security.waf's companion stack template (plain CloudFormation) exists only with waf on, so the
    # project holds what the next deploy sends.
    if config.security.waf:
        rendered[WAF_TEMPLATE] = render_text("waf.yaml.j2", config)
    else:
        (root / WAF_TEMPLATE).unlink(missing_ok=True)
    written: list[str] = []
    unchanged: list[str] = []
    for rel, text in rendered.items():
        (written if write_if_changed(root / rel, text) else unchanged).append(rel)
    return RenderResult(written, unchanged)
