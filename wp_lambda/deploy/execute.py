"""Carrying out a :class:`~wp_lambda.deploy.plan.DeployPlan` through one of two engines.

``sam``: the real ``sam deploy`` subprocess with the plan's argument list; CloudFormation runs the
SAM transform. This is what deploys to AWS.

``api``: the kit uploads the zips to the artifact bucket itself, runs the SAM transform in-process
(aws-sam-translator, as ``validate`` does) and submits the transformed template with boto3. It
exists for endpoints without a server-side SAM transform: moto (what the tests run against) or
another local emulator. It previews with a change set; it applies with create/update_stack,
because moto's execute_change_set drops the stack's Outputs.

``auto`` picks ``api`` when ``AWS_ENDPOINT_URL`` points somewhere else than AWS, ``sam`` otherwise.
Both engines share the plan, the "no changes" check, the progress, the failure report and
everything after the stack update (asset sync, CloudFront invalidation, the deploy record).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wp_lambda import stack as stack_mod
from wp_lambda.aws import Aws, aws_errors, error_code
from wp_lambda.common.errors import UserError
from wp_lambda.deploy import emulator
from wp_lambda.deploy.plan import CAPABILITIES, FUNCTION_ZIP, LAYER_ZIP, DeployPlan, deploy_record_key

ENGINES = ("auto", "sam", "api")
POLL_SECONDS = 2.0
MAX_TEMPLATE_BODY = 51_200
# Invalidating more paths than this costs more than invalidating everything once.
MAX_INVALIDATION_PATHS = 50

Say = Callable[[str], None]


class DeployFailed(Exception):
    """The stack update failed; ``lines`` name the failed resources, their reasons and the status."""

    exit_code = 1

    def __init__(self, lines: list[str], blocked: bool = False) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines
        self.blocked = blocked


@dataclass
class Change:
    """One row of a change set."""

    action: str
    logical_id: str
    resource_type: str
    replacement: str


def choose_engine(requested: str, aws: Aws) -> str:
    if requested not in ENGINES:
        raise UserError(f"unknown engine {requested!r}", f"use one of {', '.join(ENGINES)}")
    if requested != "auto":
        return requested
    return "api" if emulator.is_emulated(aws.endpoint_url) else "sam"


def ensure_artifact_bucket(aws: Aws, bucket: str, *, managed: bool) -> None:
    """Create the kit's artifact bucket (encrypted, Block Public Access, versioned) if missing.

    A configured bucket is the user's: it must exist and is never reconfigured.
    """
    s3 = aws.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except Exception as exc:
        if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
    if not managed:
        raise UserError(f"aws.artifact_bucket {bucket!r} does not exist in {aws.region}",
                        "create it, or empty aws.artifact_bucket to let the kit manage one")
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if aws.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": aws.region}
    s3.create_bucket(**kwargs)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def read_record(aws: Aws, plan_bucket: str, stack: str) -> dict[str, Any] | None:
    """The last successful deploy's record, or None."""
    try:
        body = aws.client("s3").get_object(Bucket=plan_bucket, Key=deploy_record_key(stack))["Body"].read()
    except Exception as exc:
        if error_code(exc) in ("NoSuchKey", "404", "NoSuchBucket"):
            return None
        raise
    return dict(json.loads(body))


def write_record(aws: Aws, plan: DeployPlan, stack_id: str) -> None:
    aws.client("s3").put_object(Bucket=plan.artifact_bucket, Key=deploy_record_key(plan.stack),
                                Body=json.dumps(plan.record(stack_id), sort_keys=True).encode(),
                                ContentType="application/json")


class EventWatcher:
    """Prints each new stack event once, from a polling loop (CloudFormation has no push)."""

    def __init__(self, cfn: Any, stack: str, since: dt.datetime, say: Say) -> None:
        self.cfn, self.stack, self.since, self.say = cfn, stack, since, say
        self.seen: set[str] = set()

    def poll(self) -> None:
        if stack_mod.describe(self.cfn, self.stack) is None:
            return
        for event in stack_mod.events(self.cfn, self.stack, self.since):
            if event.event_id in self.seen:
                continue
            self.seen.add(event.event_id)
            reason = f"  {event.reason}" if event.reason and event.failed else ""
            self.say(f"{event.timestamp:%H:%M:%S} {event.status:<28} {event.logical_id} "
                     f"({event.resource_type}){reason}")


def _wait_for_stack(cfn: Any, stack: str, watcher: EventWatcher) -> dict[str, Any]:
    while True:
        watcher.poll()
        found = stack_mod.require(cfn, stack)
        if not found["StackStatus"].endswith("_IN_PROGRESS"):
            return found
        time.sleep(POLL_SECONDS)


def _raise_if_failed(cfn: Any, stack: str, description: dict[str, Any], since: dt.datetime) -> None:
    """Raise when this deploy left the stack failed or rolled back.

    A stack already in UPDATE_ROLLBACK_COMPLETE from an earlier attempt that this deploy did not
    touch (sam found an empty change set) is not this deploy's failure: it needs new events.
    """
    status = description["StackStatus"]
    if (status.endswith("_FAILED") or "ROLLBACK" in status) and stack_mod.events(cfn, stack, since):
        raise DeployFailed(stack_mod.failure_report(cfn, stack, since),
                           blocked=status in stack_mod.BLOCKED_STATES)


def sam_executable() -> str:
    """The SAM CLI installed with the kit (same environment), else the one on PATH."""
    beside = Path(sys.executable).with_name("sam")
    if beside.exists():
        return str(beside)
    found = shutil.which("sam")
    if found is None:
        raise UserError("the SAM CLI (`sam`) is not installed", "pip install aws-sam-cli (a wplambda dependency)")
    return found


@dataclass
class SamEngine:
    """``sam deploy`` as a subprocess; progress from the stack's events meanwhile."""

    aws: Aws
    say: Say
    sam: str = field(default_factory=lambda: sam_executable())

    def _run(self, plan: DeployPlan, *, execute: bool) -> subprocess.CompletedProcess[str]:
        args = plan.sam_deploy_args(execute=execute)
        args[0] = self.sam
        env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
        return subprocess.run(args, cwd=plan.root, capture_output=True, text=True, env=env, check=False,
                              stdin=subprocess.DEVNULL)

    def preview(self, plan: DeployPlan) -> list[Change]:
        result = self._run(plan, execute=False)
        if result.returncode != 0:
            raise DeployFailed([f"sam deploy --no-execute-changeset failed: {_tail(result)}"])
        cfn = self.aws.client("cloudformation")
        sets = [s for s in cfn.list_change_sets(StackName=plan.stack)["Summaries"] if s["StackName"] == plan.stack]
        if not sets:
            return []
        latest = max(sets, key=lambda s: s["CreationTime"])
        return describe_changes(cfn, plan.stack, latest["ChangeSetId"])

    def apply(self, plan: DeployPlan) -> None:
        cfn = self.aws.client("cloudformation")
        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
        watcher = EventWatcher(cfn, plan.stack, since, self.say)
        done = threading.Event()

        def watch() -> None:
            while not done.wait(POLL_SECONDS):
                try:
                    watcher.poll()
                except Exception as exc:  # progress only: a failed poll must not abort the deploy
                    self.say(f"(could not read stack events: {exc})")

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        try:
            result = self._run(plan, execute=True)
        finally:
            done.set()
            thread.join()
        watcher.poll()
        description = stack_mod.describe(cfn, plan.stack)
        if description is not None:
            _raise_if_failed(cfn, plan.stack, description, since)
        if result.returncode != 0:
            lines = stack_mod.failure_report(cfn, plan.stack, since) if description else []
            raise DeployFailed([f"sam deploy exited with {result.returncode}: {_tail(result)}", *lines])


def _tail(result: subprocess.CompletedProcess[str], lines: int = 15) -> str:
    text = (result.stderr.strip() or result.stdout.strip()).splitlines()
    return "\n".join(text[-lines:])


@dataclass
class ApiEngine:
    """Zips uploaded by the kit, SAM transform in-process, template submitted with boto3."""

    aws: Aws
    say: Say
    _noted: set[str] = field(default_factory=set)  # emulator notes already shown (preview, then apply)

    def _upload(self, plan: DeployPlan, rel: Path, digest: str) -> str:
        key = f"{plan.stack}/{digest}.zip"
        s3 = self.aws.client("s3")
        try:
            s3.head_object(Bucket=plan.artifact_bucket, Key=key)
        except Exception as exc:
            if error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
                raise
            s3.upload_file(str(plan.root / rel), plan.artifact_bucket, key)
        return f"s3://{plan.artifact_bucket}/{key}"

    def transformed(self, plan: DeployPlan) -> dict[str, Any]:
        """The template as CloudFormation would run it: artifacts in S3, SAM transform applied.

        For an emulator (not AWS), adapted by :func:`wp_lambda.deploy.emulator.adapt`.
        """
        from wp_lambda.validate import load_template, swap_artifacts, transform

        uris = {FUNCTION_ZIP.as_posix(): self._upload(plan, FUNCTION_ZIP, plan.hashes["function.zip"]),
                LAYER_ZIP.as_posix(): self._upload(plan, LAYER_ZIP, plan.hashes["layer.zip"])}

        def uri_for(name: str, path: str) -> str:
            if path not in uris:
                raise UserError(f"{plan.template.name} references {path}, which the build does not make",
                                f"reference {FUNCTION_ZIP} or {LAYER_ZIP}")
            return uris[path]

        template = swap_artifacts(load_template(plan.template), uri_for)
        try:
            transformed = transform(template, plan.region)
        except ValueError as exc:
            raise UserError(f"the SAM transform rejected {plan.template.name}: {exc}",
                            "run `wplambda validate`") from None
        if not emulator.is_emulated(self.aws.endpoint_url):
            return transformed
        adapted = emulator.adapt(transformed)
        for note in adapted.notes:
            if note not in self._noted:
                self._noted.add(note)
                self.say(f"emulator at {self.aws.endpoint_url}: {note}")
        return adapted.template

    def _template_args(self, plan: DeployPlan) -> dict[str, Any]:
        body = json.dumps(self.transformed(plan), default=str)
        args: dict[str, Any] = {
            "StackName": plan.stack, "Capabilities": list(CAPABILITIES),
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in plan.parameters.items()],
            "Tags": [{"Key": k, "Value": v} for k, v in plan.tags.items()],
        }
        if len(body) <= MAX_TEMPLATE_BODY:
            args["TemplateBody"] = body
        else:
            key = f"{plan.stack}/template-{plan.fingerprint[:16]}.json"
            self.aws.client("s3").put_object(Bucket=plan.artifact_bucket, Key=key, Body=body.encode())
            args["TemplateURL"] = f"https://{plan.artifact_bucket}.s3.amazonaws.com/{key}"
        return args

    def preview(self, plan: DeployPlan) -> list[Change]:
        cfn = self.aws.client("cloudformation")
        existing = stack_mod.describe(cfn, plan.stack)
        exists = existing is not None and existing["StackStatus"] != "REVIEW_IN_PROGRESS"
        name = f"wplambda-{int(time.time())}"
        created = cfn.create_change_set(ChangeSetName=name, ChangeSetType="UPDATE" if exists else "CREATE",
                                        **self._template_args(plan))
        while True:
            found = cfn.describe_change_set(StackName=plan.stack, ChangeSetName=created["Id"])
            if found["Status"] in ("CREATE_COMPLETE", "FAILED"):
                break
            time.sleep(POLL_SECONDS)
        if found["Status"] == "FAILED" and "didn't contain changes" not in found.get("StatusReason", ""):
            raise DeployFailed([f"change set {name} failed: {found.get('StatusReason')}"])
        return describe_changes(cfn, plan.stack, created["Id"])

    def apply(self, plan: DeployPlan) -> None:
        cfn = self.aws.client("cloudformation")
        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
        args = self._template_args(plan)
        watcher = EventWatcher(cfn, plan.stack, since, self.say)
        existing = stack_mod.describe(cfn, plan.stack)
        try:
            if existing is None:
                cfn.create_stack(**args)
            else:
                cfn.update_stack(**args)
        except Exception as exc:
            if "No updates are to be performed" in str(exc):
                return
            if error_code(exc) in ("ValidationError", "InsufficientCapabilitiesException") or not error_code(exc):
                raise DeployFailed([f"CloudFormation refused the template: {exc}"]) from None
            raise
        _raise_if_failed(cfn, plan.stack, _wait_for_stack(cfn, plan.stack, watcher), since)


def describe_changes(cfn: Any, stack: str, change_set: str) -> list[Change]:
    found = cfn.describe_change_set(StackName=stack, ChangeSetName=change_set)
    changes = []
    for item in found.get("Changes", []):
        rc = item.get("ResourceChange", {})
        changes.append(Change(rc.get("Action", ""), rc.get("LogicalResourceId", ""), rc.get("ResourceType", ""),
                              rc.get("Replacement", "") or "-"))
    return changes


def make_engine(name: str, aws: Aws, say: Say) -> SamEngine | ApiEngine:
    return SamEngine(aws, say) if name == "sam" else ApiEngine(aws, say)


def invalidate(aws: Aws, distribution: str, keys: list[str]) -> list[str]:
    """Invalidate exactly the changed paths (or everything, when that is cheaper)."""
    from urllib.parse import quote

    if not keys:
        return []
    paths = ["/*"] if len(keys) > MAX_INVALIDATION_PATHS else [f"/{quote(k)}" for k in keys]
    with aws_errors():
        aws.client("cloudfront").create_invalidation(DistributionId=distribution, InvalidationBatch={
            "Paths": {"Quantity": len(paths), "Items": paths},
            "CallerReference": f"wplambda-{time.time_ns()}"})
    return paths
