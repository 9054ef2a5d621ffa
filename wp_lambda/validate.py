"""``wplambda validate``: prove the rendered project is deployable, offline.

cfn-lint and the SAM transform catch template errors before CloudFormation does (minutes later,
mid-rollback); the kit's own checks cover what they do not know about this product.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from wp_lambda import php_security
from wp_lambda.config import HTTP_API_MAX_TIMEOUT, Config
from wp_lambda.config.concurrency import account_warning
from wp_lambda.config.schema import WAF_REGION, WAF_TEMPLATE
from wp_lambda.runtime.contract import SECRETS_ENV

SUPPORTED_RUNTIMES = ("python3.12", "python3.13")


@dataclass
class Report:
    """Findings by check; ``ok`` only when no check found an error."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class _OfflinePolicyLoader:
    """Fallback for managed policy names the translator's bundled table lacks.

    The translator resolves names like ``AWSLambdaVPCAccessExecutionRole`` from a table shipped
    with it and only then asks this loader, which would call IAM. The kit's template uses policy
    templates and ARNs only, so the offline answer is "no further names", never a network call.
    """

    def load(self) -> dict[str, str]:
        return {}


# Artifact properties that must hold s3:// URIs for the SAM transform (deploy puts the zips' there).
_ARTIFACTS = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}
PLACEHOLDER_BUCKET = "wplambda-validate-placeholder"


def swap_artifacts(template: dict[str, Any], uri_for: Callable[[str, str], str]) -> dict[str, Any]:
    """A copy of ``template`` whose local CodeUri/ContentUri paths are replaced by ``uri_for(name, path)``.

    The SAM transform only accepts S3 locations there: ``validate`` passes placeholders, the deploy
    plan the URIs the zips are uploaded to. URIs already in S3 are kept.
    """
    out = copy.deepcopy(template)
    for name, resource in out.get("Resources", {}).items():
        key = _ARTIFACTS.get(resource.get("Type", ""))
        uri = resource.get("Properties", {}).get(key) if key else None
        if isinstance(uri, str) and not uri.startswith("s3://"):
            resource["Properties"][key] = uri_for(name, uri)
    return out


def with_placeholder_artifacts(template: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``template`` whose local artifact paths are placeholder s3:// URIs; the
    placeholder keeps the file name so a finding still points at the right artifact."""
    return swap_artifacts(template, lambda name, path: f"s3://{PLACEHOLDER_BUCKET}/{name}/{PurePosixPath(path).name}")


def load_template(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation YAML template, intrinsic-function tags included."""
    from cfnlint.decode import decode_str

    template, matches = decode_str(path.read_text())
    if matches or template is None:
        raise ValueError(f"{path}: cannot parse: {'; '.join(str(m) for m in matches)}")
    return dict(template)


def partition(region: str) -> str:
    """The AWS partition of a region (ARNs differ in China and GovCloud)."""
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


@contextlib.contextmanager
def _default_region(region: str) -> Iterator[None]:
    """The translator builds a boto3 session that must find a region; give it one, then restore."""
    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = region
    try:
        yield
    finally:
        if previous is None:
            del os.environ["AWS_DEFAULT_REGION"]
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous


def transform(template: dict[str, Any], region: str, parameters: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Run the SAM transform in-process (what CloudFormation does server-side), offline.

    Local artifact paths are swapped for placeholder s3:// URIs first (on a copy). ``parameters``
    are the stack's parameter values, as CloudFormation hands them to its hosted transform.
    """
    from samtranslator.public.exceptions import InvalidDocumentException
    from samtranslator.translator.transform import transform as sam_transform

    params = {**(parameters or {}), "AWS::Region": region, "AWS::Partition": partition(region)}
    try:
        with _default_region(region):
            return sam_transform(with_placeholder_artifacts(template), params, _OfflinePolicyLoader())
    except InvalidDocumentException as exc:
        raise ValueError("; ".join(str(e) for e in exc.causes)) from exc


def lint(path: Path, region: str) -> list[str]:
    """cfn-lint error findings (warnings and informational findings are not failures)."""
    from cfnlint.api import ManualArgs
    from cfnlint.api import lint as cfn_lint

    matches = cfn_lint(path.read_text(), config=ManualArgs(regions=[region]))
    return [f"{path.name}:{m.linenumber}: {m.rule.id} {m.message}" for m in matches
            if m.rule.severity == "error"]


def kit_checks(config: Config, resources: dict[str, Any]) -> list[str]:
    """Rules cfn-lint cannot know: the product's own limits on the transformed template."""
    errors = []
    for name, res in resources.items():
        if res.get("Type") != "AWS::Lambda::Function":
            continue
        props = res.get("Properties", {})
        timeout, memory, runtime = props.get("Timeout", 3), props.get("MemorySize", 128), props.get("Runtime")
        if isinstance(timeout, int) and not 1 <= timeout <= 900:
            errors.append(f"{name}: Timeout {timeout} is outside 1-900 s")
        if isinstance(memory, int) and not 128 <= memory <= 10240:
            errors.append(f"{name}: MemorySize {memory} is outside 128-10240 MB")
        if runtime is not None and runtime not in SUPPORTED_RUNTIMES:
            errors.append(f"{name}: runtime {runtime} is not one of {', '.join(SUPPORTED_RUNTIMES)}")
    has_cluster = any(r.get("Type") == "AWS::RDS::DBCluster" for r in resources.values())
    has_vpc = any(r.get("Type") == "AWS::EC2::VPC" for r in resources.values())
    if has_cluster and not has_vpc:
        errors.append("an Aurora cluster is in the template but no VPC is")
    if config.database.mode == "aurora-serverless-v2" and not config.in_vpc:
        errors.append("database.mode = aurora-serverless-v2 needs network.mode with a VPC")
    has_http_api = any(r.get("Type") == "AWS::ApiGatewayV2::Api" for r in resources.values())
    if has_http_api and config.function.timeout > HTTP_API_MAX_TIMEOUT:
        errors.append(f"function.timeout {config.function.timeout} s is over the HTTP API's {HTTP_API_MAX_TIMEOUT} s")
    errors.extend(secret_findings(resources))
    return errors


# Environment variable names that would carry a secret if set to a literal.
_SECRET_NAME = re.compile(r"PASSWORD|SALT|SECRET|TOKEN|_KEY$")
_DYNAMIC_SECRET = "{{resolve:secretsmanager:"


def _is_dynamic_secret(value: Any) -> bool:
    """A ``{{resolve:secretsmanager:...}}`` reference, plain or inside Fn::Sub, or an Fn::If whose
    both branches are one (the origin header names a version after a rotation)."""
    if isinstance(value, dict) and isinstance(value.get("Fn::If"), list) and len(value["Fn::If"]) == 3:
        return all(_is_dynamic_secret(branch) for branch in value["Fn::If"][1:])
    if isinstance(value, dict) and "Fn::Sub" in value:
        value = value["Fn::Sub"]
        value = value[0] if isinstance(value, list) else value
    return isinstance(value, str) and value.startswith(_DYNAMIC_SECRET)


def secret_findings(resources: dict[str, Any]) -> list[str]:
    """Places where a secret value would sit in the template in plain text.

    Secrets must be generated by Secrets Manager and travel by ARN (``WPLAMBDA_SECRETS``) or by
    dynamic reference; anything in the template is readable by whoever can read the stack.
    """
    found = []
    for name, res in resources.items():
        kind, props = res.get("Type"), res.get("Properties", {})
        if kind == "AWS::SecretsManager::Secret" and "SecretString" in props:
            found.append(f"{name}: SecretString holds a literal secret; use GenerateSecretString")
        if kind in ("AWS::RDS::DBCluster", "AWS::RDS::DBInstance") and "MasterUserPassword" in props \
                and not _is_dynamic_secret(props["MasterUserPassword"]):
            found.append(f"{name}: MasterUserPassword is not a Secrets Manager dynamic reference")
        if kind == "AWS::Lambda::Function":
            for var, value in props.get("Environment", {}).get("Variables", {}).items():
                if var != SECRETS_ENV and _SECRET_NAME.search(var):
                    found.append(f"{name}: environment variable {var} would hold a secret in plain text; "
                                 f"load it through {SECRETS_ENV}")
                if var == SECRETS_ENV:
                    text = value.get("Fn::Sub", "") if isinstance(value, dict) else value
                    for pair in str(text).split(","):
                        target = pair.partition("=")[2]
                        if not (target.startswith("arn:") or re.fullmatch(r"\$\{[A-Za-z0-9]+\}", target)):
                            found.append(f"{name}: {SECRETS_ENV} entry {pair.partition('=')[0]!r} is "
                                         "not a secret ARN")
        if kind == "AWS::CloudFront::Distribution":
            for origin in props.get("DistributionConfig", {}).get("Origins", []):
                for header in origin.get("OriginCustomHeaders", []):
                    if "secret" in str(header.get("HeaderName", "")).lower() \
                            and not _is_dynamic_secret(header.get("HeaderValue")):
                        found.append(f"{name}: origin header {header['HeaderName']} is a literal")
    return found


def php_lint(path: Path) -> str | None:
    """``php -l`` output when it fails, None when clean; raises FileNotFoundError without PHP."""
    php = shutil.which("php")
    if php is None:
        raise FileNotFoundError("php")
    result = subprocess.run([php, "-l", str(path)], capture_output=True, text=True, check=False)
    return None if result.returncode == 0 else (result.stdout + result.stderr).strip()


def validate_project(config: Config, *, check_php: bool = True) -> Report:
    """Run every check against the rendered files in the project root; ``check_php=False`` leaves the
    PHP security check (:mod:`wp_lambda.php_security`) to the deploy preflight, which prints its
    verdict among its own checks."""
    report = Report()
    template_path = config.root / "template.yaml"
    report.checks.append("cfn-lint")
    report.errors.extend(lint(template_path, config.aws.region))
    waf_template = config.root / WAF_TEMPLATE
    if config.security.waf and not waf_template.is_file():
        report.errors.append(f"security.waf is on, but {WAF_TEMPLATE} is missing: run `wplambda render`")
    elif config.security.waf:
        # The companion stack's template, linted for the one region it is deployed to.
        report.errors.extend(lint(waf_template, WAF_REGION))
    report.checks.append("sam-transform")
    try:
        transformed = transform(load_template(template_path), config.aws.region)
    except ValueError as exc:
        report.errors.append(f"SAM transform: {exc}")
        transformed = {"Resources": {}}
    report.checks.append("kit-rules")
    report.errors.extend(kit_checks(config, transformed.get("Resources", {})))
    if (warning := account_warning(config)) is not None:
        report.warnings.append(warning)
    wp_config = config.root / "wordpress" / "wp-config.php"
    try:
        problem = php_lint(wp_config)
        report.checks.append("php-lint")
        if problem:
            report.errors.append(f"php -l {wp_config.name}: {problem}")
    except FileNotFoundError:
        report.warnings.append("php is not installed: skipped `php -l` on wp-config.php")
    if check_php:
        report.checks.append("php-security")
        php = php_security.assess(config)
        report.warnings.extend(php.warnings())
        if not php.ok:
            report.errors.append(php.refusal())
    return report

