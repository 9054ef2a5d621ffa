"""Carrying out a :class:`~wp_lambda.deploy.plan.DeployPlan`: the one path from a plan to a stack.

Where the SAM transform runs, and why: in-process, with the pinned aws-sam-translator (the
translator ``validate`` runs), while the plan is made. CloudFormation then receives plain
CloudFormation, the same bytes whether the endpoint is AWS or the moto server the tests run, because
moto's CloudFormation cannot run the SAM transform. The alternative, sending the SAM template and
letting CloudFormation's hosted ``AWS::Serverless-2016-10-31`` transform expand it, would leave the
tests checking a template AWS never receives, and deploy whatever the hosted transform's version
makes of it that day rather than what ``validate`` checked. What the translator needs on an
account, and how the kit answers it: managed policy names in ``Policies`` that its bundled table
lacks are looked up with ``iam:ListPolicies`` (scope AWS); the kit hands it the offline loader
``validate`` uses, so a deploy never calls IAM. The kit's template uses policy templates and ARNs
only; a hand-made template naming an AWS managed policy newer than the pinned translator gets the
name as it is, which CloudFormation refuses (use the policy's ARN). ``AWS::Serverless::Application``
(nested apps from the Serverless Application Repository) would need that service: the kit's
template has none. The price: the stack's template in the console is the expanded CloudFormation,
not the SAM source, and no macro is left, so CAPABILITY_AUTO_EXPAND is not acknowledged.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/transform-aws-serverless.html

The steps, identical for AWS and an emulator:

1. upload: each zip to the artifact bucket under its digest, unless that key is there already; the
   template too when it is over the 51,200-byte TemplateBody limit (then sent by TemplateURL);
2. submit: ``CreateStack`` for change-set type CREATE, ``UpdateStack`` for UPDATE, with
   ``plan.request()``; "No updates are to be performed" is not a failure;
3. wait: poll ``DescribeStacks`` until the status leaves ``*_IN_PROGRESS``, printing each new
   stack event once;
4. report: a failed or rolled-back stack raises :class:`DeployFailed` with each failed resource
   and CloudFormation's reason (only for events of this deploy).

The one step that differs against an emulator happens before, in ``run``:
``wp_lambda.deploy.emulator.adapt`` rewrites the plan's template for moto.

A dry run (:func:`preview`) uploads the same artifacts and sends the same request to
``CreateChangeSet`` with the plan's change-set type, and executes nothing. A deploy submits the
request directly instead of executing that change set: on AWS the two update a stack the same
way, and moto's ``ExecuteChangeSet`` applies the resources without rebuilding the stack's outputs,
so a deploy through it could not be checked against moto.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-direct.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from secrets import token_hex
from typing import Any

from wp_lambda import stack as stack_mod
from wp_lambda.aws import Aws, aws_errors, error_code
from wp_lambda.common.errors import UserError
from wp_lambda.deploy.plan import (
    NOT_OWNED_CODES,
    DeployPlan,
    Rotation,
    deploy_record_key,
    managed_bucket_name,
    not_owned,
)
from wp_lambda.runtime.contract import ORIGIN_SECRET_REREAD_SECONDS

POLL_SECONDS = 2.0
# Invalidating more paths than this costs more than invalidating everything once.
MAX_INVALIDATION_PATHS = 50
# UpdateStack's ValidationError message when the submitted stack equals the deployed one, and
# DescribeChangeSet's StatusReason for an empty change set ("The submitted information didn't
# contain changes..."); neither is a failure. Both are CloudFormation's wording, matched in part.
NO_UPDATES = "No updates are to be performed"
NO_CHANGES = "didn't contain changes"

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


def _not_ours(aws: Aws, bucket: str, *, managed: bool) -> UserError:
    """Exit 2 for an artifact bucket S3 refused with this account as its expected owner."""
    problem, fix = not_owned(bucket, aws.account_id(), aws.region, configured=not managed)
    return UserError(f"artifact bucket {bucket}: {problem}", fix)


def ensure_artifact_bucket(aws: Aws, bucket: str, *, managed: bool) -> None:
    """Create the kit's artifact bucket (encrypted, Block Public Access, versioned) if missing.

    A configured bucket is the user's: it must exist and is never reconfigured. Either must belong
    to this account: every call on the artifact bucket carries ``ExpectedBucketOwner``
    (:meth:`~wp_lambda.aws.Aws.owned`), and a bucket of another account stops here with exit 2.
    """
    s3 = aws.client("s3")
    try:
        s3.head_bucket(**aws.owned(bucket))
        return
    except Exception as exc:
        if error_code(exc) in NOT_OWNED_CODES:
            raise _not_ours(aws, bucket, managed=managed) from None
        if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
    if not managed:
        raise UserError(f"aws.artifact_bucket {bucket!r} does not exist in {aws.region}",
                        "create it, or empty aws.artifact_bucket to let the kit manage one")
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if aws.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": aws.region}
    # CreateBucket is the one call without ExpectedBucketOwner: a name another account holds is
    # refused (BucketAlreadyExists), and the calls after it check the owner again.
    s3.create_bucket(**kwargs)
    s3.put_public_access_block(**aws.owned(bucket), PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
    s3.put_bucket_encryption(**aws.owned(bucket), ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_bucket_versioning(**aws.owned(bucket), VersioningConfiguration={"Status": "Enabled"})


def read_record(aws: Aws, plan_bucket: str, stack: str) -> dict[str, Any] | None:
    """The last successful deploy's record, or None (exit 2 when the bucket is not this account's:
    ``status`` reads it without the deploy's checks first)."""
    try:
        body = aws.client("s3").get_object(**aws.owned(plan_bucket), Key=deploy_record_key(stack))["Body"].read()
    except Exception as exc:
        if error_code(exc) in ("NoSuchKey", "404", "NoSuchBucket"):
            return None
        if error_code(exc) in NOT_OWNED_CODES:
            managed = plan_bucket == managed_bucket_name(aws.account_id(), aws.region)
            raise _not_ours(aws, plan_bucket, managed=managed) from None
        raise
    return dict(json.loads(body))


def write_record(aws: Aws, plan: DeployPlan, stack_id: str) -> None:
    aws.client("s3").put_object(**aws.owned(plan.artifact_bucket), Key=deploy_record_key(plan.stack),
                                Body=json.dumps(plan.record(stack_id), sort_keys=True).encode(),
                                ContentType="application/json")


class EventWatcher:
    """Prints each new stack event once, from a polling loop (CloudFormation has no push)."""

    def __init__(self, cfn: Any, stack: str, since: dt.datetime, say: Say) -> None:
        self.cfn, self.stack, self.since, self.say = cfn, stack, since, say
        self.seen: set[str] = set()

    def poll(self) -> None:
        for event in stack_mod.events(self.cfn, self.stack, self.since):
            if event.event_id in self.seen:
                continue
            self.seen.add(event.event_id)
            reason = f"  {event.reason}" if event.reason and event.failed else ""
            self.say(f"{event.timestamp:%H:%M:%S} {event.status:<28} {event.logical_id} "
                     f"({event.resource_type}){reason}")


def _wait_for_stack(cfn: Any, stack: str, watcher: EventWatcher) -> dict[str, Any]:
    """The stack's description once no operation is in progress; events are printed after each
    reading, so the last ones are printed before the final status is returned."""
    while True:
        found = stack_mod.require(cfn, stack)
        watcher.poll()
        if not found["StackStatus"].endswith("_IN_PROGRESS"):
            return found
        time.sleep(POLL_SECONDS)


def _raise_if_failed(cfn: Any, stack: str, description: dict[str, Any], since: dt.datetime) -> None:
    """Raise when this deploy left the stack failed or rolled back.

    A stack already in UPDATE_ROLLBACK_COMPLETE from an earlier attempt that this deploy did not
    touch is not this deploy's failure: it needs new events.
    """
    status = description["StackStatus"]
    if (status.endswith("_FAILED") or "ROLLBACK" in status) and stack_mod.events(cfn, stack, since):
        raise DeployFailed(stack_mod.failure_report(cfn, stack, since, description),
                           blocked=status in stack_mod.BLOCKED_STATES)


def upload(aws: Aws, plan: DeployPlan) -> None:
    """Put the plan's zips (and its template, when it goes by TemplateURL) in the artifact bucket.

    A zip's key is its digest, so one already there is the same bytes and is not sent again.
    CloudFormation (TemplateURL) and Lambda (the zips' S3 locations) then read these objects with
    no way to name an expected owner; they read what this account's checked calls just wrote.
    """
    s3 = aws.client("s3")
    owned = aws.owned(plan.artifact_bucket)
    for item in plan.uploads:
        try:
            s3.head_object(**owned, Key=item.key)
            continue
        except Exception as exc:
            if error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
                raise
        # s3transfer passes ExtraArgs to every request of the upload (multipart parts included).
        s3.upload_file(str(plan.root / item.path), plan.artifact_bucket, item.key,
                       ExtraArgs={"ExpectedBucketOwner": owned["ExpectedBucketOwner"]})
    if plan.template_key is not None:
        s3.put_object(**owned, Key=plan.template_key, Body=plan.body, ContentType="application/json")


def preview(aws: Aws, plan: DeployPlan) -> list[Change]:
    """The dry run: CloudFormation's change set for the plan's request, created and never executed.

    For a stack that does not exist, a CREATE change set leaves an empty stack in
    REVIEW_IN_PROGRESS; the next deploy deletes it and creates the stack.
    """
    upload(aws, plan)
    cfn = aws.client("cloudformation")
    name = f"wplambda-{int(time.time())}"
    created = cfn.create_change_set(ChangeSetName=name, ChangeSetType=plan.change_set_type, **plan.request())
    # DescribeChangeSet's Status: CREATE_PENDING, CREATE_IN_PROGRESS, then CREATE_COMPLETE or FAILED.
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeChangeSet.html
    while True:
        found = cfn.describe_change_set(StackName=plan.stack, ChangeSetName=created["Id"])
        if found["Status"] in ("CREATE_COMPLETE", "FAILED"):
            break
        time.sleep(POLL_SECONDS)
    if found["Status"] == "FAILED" and NO_CHANGES not in found.get("StatusReason", ""):
        raise DeployFailed([f"change set {name} failed: {found.get('StatusReason')}"])
    return describe_changes(cfn, plan.stack, created["Id"])


def apply(aws: Aws, plan: DeployPlan, say: Say) -> dict[str, Any] | None:
    """Submit the plan and wait; returns the stack's final description, or None when CloudFormation
    found nothing to update. Raises :class:`DeployFailed` when the stack failed or rolled back."""
    upload(aws, plan)
    cfn = aws.client("cloudformation")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    submit = cfn.create_stack if plan.change_set_type == "CREATE" else cfn.update_stack
    try:
        submit(**plan.request())
    except Exception as exc:
        if NO_UPDATES in str(exc):
            return None
        if error_code(exc) in ("ValidationError", "InsufficientCapabilitiesException") or not error_code(exc):
            raise DeployFailed([f"CloudFormation refused the template: {exc}"]) from None
        raise
    description = _wait_for_stack(cfn, plan.stack, EventWatcher(cfn, plan.stack, since, say))
    _raise_if_failed(cfn, plan.stack, description, since)
    return description


def store_origin_secret(aws: Aws, rotation: Rotation, say: Say, sleep: Callable[[float], None]) -> None:
    """The first half of a rotation: the new value becomes AWSCURRENT (Secrets Manager moves
    AWSPREVIOUS to the old one, which the function keeps accepting), then a wait of the function's
    re-read interval, so that when CloudFront starts sending the new value every running instance
    either read it already or may read again (wp_lambda/runtime/origin.py). The value is made here,
    sent once and never printed: 32 random bytes in hex, a valid header value.
    https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html
    """
    if rotation.store:
        aws.client("secretsmanager").put_secret_value(SecretId=rotation.secret, SecretString=token_hex(32),
                                                      ClientRequestToken=rotation.version)
        say(f"origin secret: stored a new value as version {rotation.version} (AWSCURRENT); "
            "the old one is AWSPREVIOUS and stays accepted")
    else:
        say(f"origin secret: version {rotation.version} is stored already (an earlier rotation's stack update did "
            "not complete): finishing that rotation")
    say(f"origin secret: waiting {ORIGIN_SECRET_REREAD_SECONDS:.0f} s so that running instances can read it "
        "before CloudFront sends it")
    sleep(ORIGIN_SECRET_REREAD_SECONDS)


def describe_changes(cfn: Any, stack: str, change_set: str) -> list[Change]:
    found = cfn.describe_change_set(StackName=stack, ChangeSetName=change_set)
    changes = []
    for item in found.get("Changes", []):
        rc = item.get("ResourceChange", {})
        changes.append(Change(rc.get("Action", ""), rc.get("LogicalResourceId", ""), rc.get("ResourceType", ""),
                              rc.get("Replacement", "") or "-"))
    return changes


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
