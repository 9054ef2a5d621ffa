"""Planning a deploy: what CloudFormation will be sent, decided before anything is uploaded or changed.

A :class:`DeployPlan` is the whole request: the zips to upload to the artifact bucket (named by
their content digest, so their S3 URIs are known before the upload), the template to submit (the
SAM transform already applied in-process, as :mod:`wp_lambda.deploy.execute` explains), the
parameters, tags and capabilities, and whether it creates the stack or updates it. ``execute``
carries a plan out; ``deploy --dry-run`` shows the same plan and CloudFormation's change set for
the same request, and executes nothing.

Making a plan calls no AWS API (the transform runs offline, as in ``validate``), which keeps the
request unit-testable for every config and lets ``deploy`` say "no changes" before touching
CloudFormation: the fingerprint of what would be sent is stored after each successful deploy
next to its artifacts and compared first.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wp_lambda import __version__
from wp_lambda.aws import Aws
from wp_lambda.bundle.pipeline import OUTPUT_DIRS
from wp_lambda.common import fetch
from wp_lambda.common.errors import UserError
from wp_lambda.config import Config
from wp_lambda.config.aurora import engine_version
from wp_lambda.deploy import emulator
from wp_lambda.render import AURORA_ENGINE_VERSION_PARAMETER, ORIGIN_SECRET_VERSION_PARAMETER

BUILD_DIR = OUTPUT_DIRS["deploy"]
FUNCTION_ZIP = BUILD_DIR / "function.zip"
LAYER_ZIP = BUILD_DIR / "layer.zip"
TEMPLATE = Path("template.yaml")
# CreateStack, UpdateStack and CreateChangeSet take a TemplateBody of at most 51,200 bytes; a bigger
# template goes by TemplateURL, an https:// URL of an S3 object of at most 1 MB.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
MAX_TEMPLATE_BODY = 51_200
# Resources that need an IAM capability acknowledged, and the properties that give them a custom
# name (which needs CAPABILITY_NAMED_IAM instead of CAPABILITY_IAM).
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-template.html#using-iam-capabilities
IAM_TYPES = ("AWS::IAM::AccessKey", "AWS::IAM::Group", "AWS::IAM::InstanceProfile", "AWS::IAM::ManagedPolicy",
             "AWS::IAM::Policy", "AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::UserToGroupAddition")
IAM_NAME_PROPERTIES = ("RoleName", "UserName", "GroupName", "ManagedPolicyName", "InstanceProfileName")

ChangeSetType = Literal["CREATE", "UPDATE"]


def managed_bucket_name(account: str, region: str) -> str:
    """The artifact bucket the kit creates once per account and region."""
    return f"wplambda-artifacts-{account}-{region}"


def artifact_bucket(config: Config, aws: Aws) -> str:
    """The artifact bucket's name: aws.artifact_bucket, or the kit's own for this account and region."""
    return config.aws.artifact_bucket or managed_bucket_name(aws.account_id(), aws.region)


# What S3 answers a call whose ExpectedBucketOwner is not the bucket's owner: 403 Access Denied (a
# HEAD has no body, so botocore can only report its status as the code).
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html
NOT_OWNED_CODES = ("403", "AccessDenied")


def not_owned(bucket: str, account: str, region: str, *, configured: bool) -> tuple[str, str]:
    """The problem and the fix when S3 refused ``bucket`` with this ``account`` as its expected owner.

    S3 gives the same 403 to a bucket of another account and to one of this account that the
    caller may not read, so the message names both; the kit's own name is predictable
    (:func:`managed_bucket_name`), so there another account holding it is the likely cause.
    """
    problem = (f"S3 refused it with this account ({account}) as the expected owner: it belongs to another AWS "
               "account, or this account may not read it; the kit sends code zips, deploy records and database "
               "dumps only to a bucket of its own account")
    if configured:
        return problem, (f"set aws.artifact_bucket in wplambda.toml to a bucket this account owns in {region} "
                         "(and may read), or empty it to let the kit manage one")
    return problem, (f"the kit's bucket name is taken; set aws.artifact_bucket in wplambda.toml to a bucket "
                     f"this account owns in {region}")


def deploy_record_key(stack: str) -> str:
    """Where the last successful deploy of ``stack`` is recorded in the artifact bucket."""
    return f"{stack}/wplambda-last-deploy.json"


def parameter_values(config: Config, build_hash: str, web_acl_arn: str = "",
                     origin_secret_version: str = "", deployed_engine_version: str = "") -> dict[str, str]:
    """Deploy-time values a template may declare as Parameters (only declared ones are passed).

    The rendered template bakes most of the config in; these are what CloudFormation must see as
    parameters so an operator can read them on the stack (and ``BuildHash`` so a new build always
    yields a new function version). ``WebAclArn`` (security.waf) is known only once the companion
    stack in us-east-1 exists (:mod:`wp_lambda.deploy.waf`), so the deploy hands it in.
    ``origin_secret_version``: the OriginSecret version CloudFront is to send (the stack's own
    value, or the one a rotation makes); an id, never a value. ``deployed_engine_version``: the
    Aurora version the stack's cluster runs, kept unless the config names another
    (:func:`wp_lambda.config.aurora.engine_version`).
    """
    return {
        AURORA_ENGINE_VERSION_PARAMETER: engine_version(config, deployed_engine_version),
        "WebAclArn": web_acl_arn,
        ORIGIN_SECRET_VERSION_PARAMETER: origin_secret_version,
        "SiteName": config.site.name,
        "BuildHash": build_hash,
        "KitVersion": __version__,
        "Architecture": config.aws.architecture,
        "NetworkMode": config.network.mode,
        "DatabaseMode": config.database.mode,
        "FrontDoor": config.function.front_door,
    }


def declared_parameters(template: Mapping[str, Any]) -> list[str]:
    """The Parameters a template declares, in order."""
    return list(template.get("Parameters", {}) or {})


def capabilities(template: Mapping[str, Any]) -> tuple[str, ...]:
    """The capabilities CloudFormation needs acknowledged for ``template`` (the one sent).

    CAPABILITY_IAM for IAM resources, CAPABILITY_NAMED_IAM when one has a custom name, and
    CAPABILITY_AUTO_EXPAND only while a macro is left to expand: after the in-process SAM
    transform the template the kit sends has none (AWS::Serverless is a macro).
    """
    found: list[str] = []
    resources = [r for r in (template.get("Resources") or {}).values() if isinstance(r, dict)]
    iam = [r for r in resources if r.get("Type") in IAM_TYPES]
    if any(set(r.get("Properties") or {}) & set(IAM_NAME_PROPERTIES) for r in iam):
        found.append("CAPABILITY_NAMED_IAM")
    elif iam:
        found.append("CAPABILITY_IAM")
    if template.get("Transform"):
        found.append("CAPABILITY_AUTO_EXPAND")
    return tuple(found)


@dataclass(frozen=True)
class Upload:
    """One artifact: a build output file and the key it is stored under, named by its digest so
    an unchanged zip is never uploaded twice and a changed one always gets a new key (a new
    S3 location is what makes CloudFormation update the function's code)."""

    path: Path  # relative to the project root
    key: str
    digest: str


@dataclass(frozen=True)
class Rotation:
    """``deploy --rotate-origin-secret``: the secret, and the version CloudFront is switched to.

    ``store`` says whether that version is to be written (a new random value) or already holds
    the value (an earlier rotation stored it, but its stack update did not complete: the rotation
    is finished rather than begun again, since a second new value would retire the one CloudFront
    still sends). The version id is chosen here (PutSecretValue's ClientRequestToken becomes the
    new version's id), so the plan knows the parameter it sends before anything is written.
    https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html
    """

    secret: str  # ARN
    version: str
    store: bool


@dataclass(frozen=True)
class DeployPlan:
    """One deploy's request to CloudFormation; ``execute`` carries it out, a dry run shows it."""

    stack: str
    region: str
    root: Path
    artifact_bucket: str
    change_set_type: ChangeSetType  # CREATE: the stack does not exist yet; UPDATE: it does
    uploads: tuple[Upload, ...]
    template: dict[str, Any] = field(repr=False)  # what is sent: transformed, S3 URIs in place
    parameters: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    build_hash: str = ""
    notes: tuple[str, ...] = ()  # what was changed for an emulator (wp_lambda.deploy.emulator)
    rotation: Rotation | None = None  # deploy --rotate-origin-secret

    @functools.cached_property
    def body(self) -> bytes:
        """The template exactly as sent (compact JSON: more of it fits in a TemplateBody)."""
        return json.dumps(self.template, separators=(",", ":"), default=str).encode()

    @property
    def template_key(self) -> str | None:
        """The artifact bucket key the template is uploaded to when it is too big for TemplateBody."""
        if len(self.body) <= MAX_TEMPLATE_BODY:
            return None
        return f"{self.stack}/template-{hashlib.sha256(self.body).hexdigest()[:16]}.json"

    @property
    def capabilities(self) -> tuple[str, ...]:
        return capabilities(self.template)

    def request(self) -> dict[str, Any]:
        """The arguments of CreateStack / UpdateStack, and of the dry run's CreateChangeSet.

        A template over the TemplateBody limit goes by TemplateURL: the S3 object's https:// URL in
        the stack's region (CloudFormation reads it with the caller's credentials).
        """
        args: dict[str, Any] = {
            "StackName": self.stack,
            "Capabilities": list(self.capabilities),
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()],
            "Tags": [{"Key": k, "Value": v} for k, v in self.tags.items()],
        }
        key = self.template_key
        if key is None:
            args["TemplateBody"] = self.body.decode()
        else:
            suffix = "amazonaws.com.cn" if self.region.startswith("cn-") else "amazonaws.com"
            args["TemplateURL"] = f"https://{self.artifact_bucket}.s3.{self.region}.{suffix}/{key}"
        return args

    @property
    def fingerprint(self) -> str:
        """Digest of everything sent: template bytes (which hold the zips' digests), parameters,
        tags, capabilities and region. Equal fingerprints mean an identical request."""
        return hashlib.sha256(json.dumps(
            {"body": hashlib.sha256(self.body).hexdigest(), "hashes": self.hashes, "parameters": self.parameters,
             "tags": self.tags, "capabilities": self.capabilities, "region": self.region},
            sort_keys=True).encode()).hexdigest()

    def for_endpoint(self, endpoint_url: str | None) -> DeployPlan:
        """The plan as it is sent to ``endpoint_url``: itself for AWS; against an emulator (moto in
        the tests) the one step that differs, with what it changed noted (:mod:`wp_lambda.deploy.emulator`)."""
        if not emulator.is_emulated(endpoint_url):
            return self
        adapted = emulator.adapt(self.template)
        return dataclasses.replace(self, template=adapted.template, notes=(*self.notes, *adapted.notes))

    def describe(self) -> list[str]:
        """The plan as a dry run prints it, one line per item."""
        verb = "create" if self.change_set_type == "CREATE" else "update"
        key = self.template_key
        sent = "as TemplateBody" if key is None else f"by TemplateURL (s3://{self.artifact_bucket}/{key})"
        lines = [f"plan: {verb} stack {self.stack} in {self.region} (change set type {self.change_set_type})"]
        lines += [f"plan: upload {u.path} to s3://{self.artifact_bucket}/{u.key} (if not there yet)"
                  for u in self.uploads]
        if self.rotation is not None:
            step = ("store a new random value as version" if self.rotation.store
                    else "finish the earlier rotation to version")
            lines.append(f"plan: rotate origin secret: {step} {self.rotation.version} (AWSCURRENT; the old value "
                         f"stays accepted as AWSPREVIOUS), then point CloudFront at it")
        lines.append(f"plan: template of {len(self.template.get('Resources', {}))} resources, "
                     f"{len(self.body):,} bytes, sent {sent}")
        lines.append("plan: parameters: " + (", ".join(f"{k}={v}" for k, v in self.parameters.items()) or "none"))
        lines.append("plan: capabilities: " + (", ".join(self.capabilities) or "none"))
        lines.append("plan: tags: " + ", ".join(f"{k}={v}" for k, v in self.tags.items()))
        return lines

    def record(self, stack_id: str) -> dict[str, Any]:
        """What is stored after a successful deploy (no secrets: hashes and names only)."""
        return {"stack_id": stack_id, "fingerprint": self.fingerprint, "build_hash": self.build_hash,
                "hashes": self.hashes, "kit_version": __version__}


def make_plan(config: Config, stack: str, *, artifact_bucket: str, change_set_type: ChangeSetType,
              web_acl_arn: str = "", origin_secret_version: str = "", deployed_engine_version: str = "",
              rotation: Rotation | None = None) -> DeployPlan:
    """Plan a deploy of the rendered project and its build output in ``config.root``.

    The SAM transform runs here, offline, with the zips' S3 URIs (known from their digests) in
    place of the local paths and the parameter values the stack will get (``web_acl_arn``: the
    companion stack's web ACL, with security.waf). ``origin_secret_version`` is the stack's current
    parameter value, kept as it is unless ``rotation`` switches it.
    """
    from wp_lambda.validate import load_template, swap_artifacts, transform

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
    uploads = tuple(Upload(path, f"{stack}/{hashes[path.name]}.zip", hashes[path.name])
                    for path in (FUNCTION_ZIP, LAYER_ZIP))
    uris = {u.path.as_posix(): f"s3://{artifact_bucket}/{u.key}" for u in uploads}
    try:
        source = load_template(root / TEMPLATE)
    except ValueError as exc:
        raise UserError(f"cannot parse the rendered template: {exc}",
                        "run `wplambda validate` to see the problem") from None

    def uri_for(name: str, path: str) -> str:
        if path not in uris:
            raise UserError(f"{TEMPLATE}: {name} references {path}, which the build does not make",
                            f"reference {FUNCTION_ZIP} or {LAYER_ZIP}")
        return uris[path]

    values = parameter_values(config, build_hash, web_acl_arn,
                              rotation.version if rotation is not None else origin_secret_version,
                              deployed_engine_version)
    parameters = {name: values[name] for name in declared_parameters(source) if name in values}
    try:
        template = transform(swap_artifacts(source, uri_for), config.aws.region, parameters)
    except ValueError as exc:
        raise UserError(f"the SAM transform rejected {TEMPLATE}: {exc}", "run `wplambda validate`") from None
    return DeployPlan(stack=stack, region=config.aws.region, root=root,
                      artifact_bucket=artifact_bucket, change_set_type=change_set_type, uploads=uploads,
                      template=template, parameters=parameters,
                      tags={"wplambda:stack": stack, "wplambda:version": __version__}, hashes=hashes,
                      build_hash=build_hash, rotation=rotation)
