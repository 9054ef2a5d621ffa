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
from wp_lambda.function_env import function_environment, uploads_bucket_ref
from wp_lambda.runtime import contract
from wp_lambda.runtime.contract import EFS_MOUNT

TEMPLATES = Path(__file__).parent / "templates"
# storage.mode = "efs": the POSIX user every file on the mount (EFS_MOUNT) belongs to (the access
# point enforces it).
EFS_UID = 1000

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
    )
    return data


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
    written: list[str] = []
    unchanged: list[str] = []
    for rel, text in rendered.items():
        (written if write_if_changed(root / rel, text) else unchanged).append(rel)
    return RenderResult(written, unchanged)
