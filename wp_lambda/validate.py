"""``wplambda validate``: prove the rendered project is deployable, offline.

cfn-lint and the SAM transform catch template errors before CloudFormation does (minutes later,
mid-rollback); the kit's own checks cover what they do not know about this product.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wp_lambda.config import Config

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
    """The SAM translator asks IAM for managed policy ARNs; answer from the partition instead."""

    def load(self) -> dict[str, str]:
        return {}


def load_template(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation YAML template, intrinsic-function tags included."""
    from cfnlint.decode import decode_str

    template, matches = decode_str(path.read_text())
    if matches or template is None:
        raise ValueError(f"{path}: cannot parse: {'; '.join(str(m) for m in matches)}")
    return dict(template)


def swap_artifacts(template: dict[str, Any], uri_for: Callable[[str], str]) -> dict[str, Any]:
    """Replace local ``CodeUri``/``ContentUri`` paths (what ``sam deploy`` uploads) with S3 URIs.

    The SAM transform accepts only S3 URIs there; ``validate`` passes placeholders, deploy's
    in-process engine the URIs of the zips it uploaded. Changes ``template`` in place.
    """
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            value = props.get(key)
            if isinstance(value, str) and not value.startswith("s3://"):
                props[key] = uri_for(value)
    return template


def transform(template: dict[str, Any], region: str) -> dict[str, Any]:
    """Run the SAM transform in-process (what CloudFormation does server-side)."""
    import os

    from samtranslator.public.exceptions import InvalidDocumentException
    from samtranslator.translator.transform import transform as sam_transform

    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    try:
        return sam_transform(template, {"AWS::Region": region}, _OfflinePolicyLoader())
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
    return errors


def php_lint(path: Path) -> str | None:
    """``php -l`` output when it fails, None when clean; raises FileNotFoundError without PHP."""
    php = shutil.which("php")
    if php is None:
        raise FileNotFoundError("php")
    result = subprocess.run([php, "-l", str(path)], capture_output=True, text=True, check=False)
    return None if result.returncode == 0 else (result.stdout + result.stderr).strip()


def validate_project(config: Config) -> Report:
    """Run every check against the rendered files in the project root."""
    report = Report()
    template_path = config.root / "template.yaml"
    report.checks.append("cfn-lint")
    report.errors.extend(lint(template_path, config.aws.region))
    report.checks.append("sam-transform")
    try:
        template = swap_artifacts(load_template(template_path), lambda path: f"s3://wplambda-placeholder/{path}")
        transformed = transform(template, config.aws.region)
    except ValueError as exc:
        report.errors.append(f"SAM transform: {exc}")
        transformed = {"Resources": {}}
    report.checks.append("kit-rules")
    report.errors.extend(kit_checks(config, transformed.get("Resources", {})))
    wp_config = config.root / "wordpress" / "wp-config.php"
    try:
        problem = php_lint(wp_config)
        report.checks.append("php-lint")
        if problem:
            report.errors.append(f"php -l {wp_config.name}: {problem}")
    except FileNotFoundError:
        report.warnings.append("php is not installed: skipped `php -l` on wp-config.php")
    return report

