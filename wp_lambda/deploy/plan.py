"""Planning a deploy: everything decided from the config and the build output, with no AWS call.

A :class:`DeployPlan` holds the exact ``sam deploy`` argument list, the parameter overrides, the
tags and a fingerprint of what would be deployed. Keeping this pure is what makes the argument list
unit-testable for every config, and lets ``deploy`` say "no changes" before touching
CloudFormation: the fingerprint of the last successful deploy is stored next to its artifacts and
compared first.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wp_lambda import __version__
from wp_lambda.bundle.pipeline import OUTPUT_DIRS
from wp_lambda.common import fetch
from wp_lambda.common.errors import UserError
from wp_lambda.config import Config

CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND")
BUILD_DIR = OUTPUT_DIRS["deploy"]
FUNCTION_ZIP = BUILD_DIR / "function.zip"
LAYER_ZIP = BUILD_DIR / "layer.zip"
TEMPLATE = Path("template.yaml")


def managed_bucket_name(account: str, region: str) -> str:
    """The artifact bucket the kit creates once per account and region."""
    return f"wplambda-artifacts-{account}-{region}"


def deploy_record_key(stack: str) -> str:
    """Where the last successful deploy of ``stack`` is recorded in the artifact bucket."""
    return f"{stack}/wplambda-last-deploy.json"


def parameter_values(config: Config, build_hash: str) -> dict[str, str]:
    """Deploy-time values a template may declare as Parameters (only declared ones are passed).

    The rendered template bakes most of the config in; these are what CloudFormation must see as
    parameters so an operator can read them on the stack (and ``BuildHash`` so a new build always
    yields a new function version).
    """
    return {
        "SiteName": config.site.name,
        "BuildHash": build_hash,
        "KitVersion": __version__,
        "Architecture": config.aws.architecture,
        "NetworkMode": config.network.mode,
        "DatabaseMode": config.database.mode,
        "FrontDoor": config.function.front_door,
    }


def declared_parameters(template_text: str) -> list[str]:
    """The Parameters a rendered template declares, in order."""
    from cfnlint.decode import decode_str

    template, matches = decode_str(template_text)
    if matches or template is None:
        raise UserError(f"{TEMPLATE}: cannot parse the rendered template: {'; '.join(map(str, matches))}",
                        "run `wplambda validate` to see the problem")
    return list(dict(template).get("Parameters", {}) or {})


@dataclass(frozen=True)
class DeployPlan:
    """What one deploy will do; the engines in ``execute`` only carry it out."""

    stack: str
    region: str
    profile: str | None
    root: Path
    artifact_bucket: str
    parameters: dict[str, str]
    tags: dict[str, str]
    hashes: dict[str, str]
    fingerprint: str
    build_hash: str
    template_text: str = field(repr=False)

    @property
    def template(self) -> Path:
        return self.root / TEMPLATE

    def sam_deploy_args(self, *, execute: bool = True) -> list[str]:
        """The exact ``sam deploy`` command line (run with the project root as working directory)."""
        args = [
            "sam", "deploy",
            "--template-file", str(TEMPLATE),
            "--stack-name", self.stack,
            "--capabilities", *CAPABILITIES,
            "--s3-bucket", self.artifact_bucket,
            "--s3-prefix", self.stack,
            "--region", self.region,
            "--tags", *(f"{k}={v}" for k, v in self.tags.items()),
            "--no-fail-on-empty-changeset",
            "--no-confirm-changeset",
            "--no-progressbar",
        ]
        if self.parameters:
            args += ["--parameter-overrides", *(f"{k}={v}" for k, v in self.parameters.items())]
        if self.profile:
            args += ["--profile", self.profile]
        if not execute:
            args.append("--no-execute-changeset")
        return args

    def record(self, stack_id: str) -> dict[str, Any]:
        """What is stored after a successful deploy (no secrets: hashes and names only)."""
        return {"stack_id": stack_id, "fingerprint": self.fingerprint, "build_hash": self.build_hash,
                "hashes": self.hashes, "kit_version": __version__}


def make_plan(config: Config, stack: str, *, artifact_bucket: str, profile: str | None = None) -> DeployPlan:
    """Plan a deploy of the rendered project and its build output in ``config.root``."""
    root = config.root
    missing = [str(p) for p in (TEMPLATE, FUNCTION_ZIP, LAYER_ZIP) if not (root / p).is_file()]
    if missing:
        raise UserError(f"missing {', '.join(missing)} in {root}",
                        "run `wplambda build` (it renders and builds), then deploy again")
    template_text = (root / TEMPLATE).read_text()
    hashes = {
        "template": hashlib.sha256(template_text.encode()).hexdigest(),
        "function.zip": fetch.file_digest(root / FUNCTION_ZIP),
        "layer.zip": fetch.file_digest(root / LAYER_ZIP),
    }
    build_hash = hashlib.sha256(f"{hashes['function.zip']}:{hashes['layer.zip']}".encode()).hexdigest()[:16]
    declared = declared_parameters(template_text)
    values = parameter_values(config, build_hash)
    parameters = {name: values[name] for name in declared if name in values}
    tags = {"wplambda:stack": stack, "wplambda:version": __version__}
    fingerprint = hashlib.sha256(json.dumps(
        {"hashes": hashes, "parameters": parameters, "tags": tags, "region": config.aws.region},
        sort_keys=True).encode()).hexdigest()
    return DeployPlan(stack=stack, region=config.aws.region, profile=profile, root=root,
                      artifact_bucket=artifact_bucket, parameters=parameters, tags=tags, hashes=hashes,
                      fingerprint=fingerprint, build_hash=build_hash, template_text=template_text)
