"""The stack's day-two operations: status, logs, rollback, destroy.

Each finds what it needs by logical id (``stack``), so they work on any stack the kit deployed,
whatever its outputs say.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from wp_lambda import stack as stack_mod
from wp_lambda.aws import Aws, error_code
from wp_lambda.common.errors import UserError
from wp_lambda.config import Config
from wp_lambda.deploy import versions
from wp_lambda.deploy.execute import POLL_SECONDS, read_record
from wp_lambda.deploy.plan import artifact_bucket
from wp_lambda.render import ACCESS_LOG_MARKER

RETAINING_POLICIES = ("Retain", "RetainExceptOnCreate", "Snapshot")
# SAM retains old function and layer versions by default; they hold no data, so destroy does not list them.
CODE_TYPES = ("AWS::Lambda::Version", "AWS::Lambda::LayerVersion")


def function_name(aws: Aws, stack: str) -> str:
    cfn = aws.client("cloudformation")
    stack_mod.require(cfn, stack)
    name = stack_mod.physical_id(cfn, stack, stack_mod.FUNCTION)
    if name is None:
        raise UserError(f"stack {stack!r} has no {stack_mod.FUNCTION}", "is this a wplambda stack?")
    return name


def status(config: Config, aws: Aws, stack: str) -> dict[str, Any]:
    """Stack state, outputs, the live alias's version and the last deploy's build hash."""
    cfn = aws.client("cloudformation")
    description = stack_mod.require(cfn, stack)
    found = stack_mod.resources(cfn, stack)
    info: dict[str, Any] = {
        "stack": stack,
        "status": description["StackStatus"],
        "updated": str(description.get("LastUpdatedTime") or description.get("CreationTime")),
        "outputs": stack_mod.outputs(description),
        "resources": dict(stack_mod.summary_rows(description, found)),
        "function_version": None,
        "deployed_version": None,  # differs from function_version after a `wplambda rollback`
        "alias": None,
        "build_hash": None,
    }
    function = found.get(stack_mod.FUNCTION, {}).get("PhysicalResourceId")
    if function:
        lam = aws.client("lambda")
        try:
            alias = lam.get_alias(FunctionName=function, Name=stack_mod.FUNCTION_ALIAS)
            info["alias"] = stack_mod.FUNCTION_ALIAS
            info["function_version"] = alias["FunctionVersion"]
            info["deployed_version"] = versions.deployed_version(alias)
        except Exception as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
    record = read_record(aws, artifact_bucket(config, aws), stack)
    if record is not None:
        info["build_hash"] = record.get("build_hash")
    return info


def parse_since(text: str) -> dt.timedelta:
    """``30s``, ``10m``, ``2h`` or ``1d``."""
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match:
        raise UserError(f"--since {text!r} is not a duration", "use e.g. 30s, 10m, 2h or 1d")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return dt.timedelta(**{unit: int(match.group(1))})


@dataclass(frozen=True)
class LogLine:
    timestamp: dt.datetime
    stream: str
    message: str
    access: dict[str, Any] | None = None  # an access-log line's fields (logs --access)


def access_fields(message: str) -> dict[str, Any] | None:
    """The fields of an HTTP API access-log line (render.ACCESS_LOG_FIELDS), None for any other line.

    The line must be one JSON object whose "log" is the marker: the function's own lines share the
    log group and may quote a visitor's path, so a marker inside a text line does not count.
    """
    try:
        fields = json.loads(message)
    except ValueError:
        return None
    return fields if isinstance(fields, dict) and fields.get("log") == ACCESS_LOG_MARKER else None


def log_group(aws: Aws, stack: str, *, access: bool = False) -> str:
    """The stack's log group (LoggingConfig sends the function's lines there, and the HTTP API writes
    its access log there). A stack without one was made before either: its function still logs to
    Lambda's default group, and it has no access log."""
    cfn = aws.client("cloudformation")
    stack_mod.require(cfn, stack)
    group = stack_mod.physical_id(cfn, stack, stack_mod.LOG_GROUP)
    if group is not None:
        return group
    if access:
        raise UserError(f"stack {stack!r} has no {stack_mod.LOG_GROUP}, so it keeps no access log",
                        "deploy it with this wplambda: its template sends the HTTP API's access log there")
    return f"/aws/lambda/{function_name(aws, stack)}"


def logs(aws: Aws, stack: str, *, since: dt.timedelta, pattern: str | None, follow: bool,
         access: bool = False) -> Iterator[LogLine]:
    """The function's CloudWatch Logs from ``since`` ago; with ``follow``, keep polling until interrupted.

    Both kinds of line share the stack's log group. ``access``: the HTTP API's access-log lines;
    CloudWatch picks them by the quoted marker term (``pattern``'s terms are added to it), and each
    is checked here to be an access-log object before it is returned. Otherwise the function's own
    lines, without the access log's.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
    """
    group = log_group(aws, stack, access=access)
    if access:
        pattern = f'"{ACCESS_LOG_MARKER}"' + (f" {pattern}" if pattern else "")
    client = aws.client("logs")
    start = int((dt.datetime.now(dt.UTC) - since).timestamp() * 1000)
    # Each poll starts at the newest timestamp seen, so events at that millisecond come back:
    # their ids are remembered, and only theirs, so a follow running for hours stays small.
    seen: set[str] = set()
    while True:
        kwargs: dict[str, Any] = {"logGroupName": group, "startTime": start}
        if pattern:
            kwargs["filterPattern"] = pattern
        try:
            pages = list(client.get_paginator("filter_log_events").paginate(**kwargs))
        except Exception as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            pages = []  # no invocation yet: Lambda creates the group on the first one
        events = [event for page in pages for event in page.get("events", [])]
        for event in events:
            if event["eventId"] in seen:
                continue
            message = event["message"].rstrip("\n")
            fields = access_fields(message)
            if access != (fields is not None):
                continue
            yield LogLine(dt.datetime.fromtimestamp(event["timestamp"] / 1000, dt.UTC),
                          event.get("logStreamName", ""), message, fields)
        if events:
            start = max(start, max(int(event["timestamp"]) for event in events))
            seen = {event["eventId"] for event in events if int(event["timestamp"]) == start}
        if not follow:
            return
        time.sleep(POLL_SECONDS)


def rollback(aws: Aws, stack: str) -> tuple[str, str]:
    """Point the stack's ``live`` alias at the version before its current one (:func:`versions.rollback`,
    which also records the drift the next deploy undoes); returns (old, new)."""
    return versions.rollback(aws.client("lambda"), function_name(aws, stack))


def retained(aws: Aws, stack: str) -> list[str]:
    """What survives a delete of ``stack`` (resources whose DeletionPolicy keeps them), and where."""
    cfn = aws.client("cloudformation")
    template = stack_mod.template(cfn, stack)
    found = stack_mod.resources(cfn, stack)
    lines = []
    for logical_id, resource in template.get("Resources", {}).items():
        policy = resource.get("DeletionPolicy")
        if policy not in RETAINING_POLICIES:
            continue
        physical = found.get(logical_id, {}).get("PhysicalResourceId")
        kind = resource.get("Type", "")
        if not physical or kind in CODE_TYPES:
            continue
        if policy == "Snapshot":
            lines.append(f"{logical_id} ({kind} {physical}): a final snapshot is kept (RDS console > Snapshots)")
        elif kind == "AWS::S3::Bucket":
            lines.append(f"{logical_id}: bucket s3://{physical} is kept with its objects")
        elif kind == "AWS::EFS::FileSystem":
            lines.append(f"{logical_id}: EFS file system {physical} is kept with the plugins and themes on it "
                         "(delete it in the EFS console when no longer needed)")
        else:
            lines.append(f"{logical_id} ({kind}): {physical} is kept")
    return lines


def empty_assets_bucket(aws: Aws, stack: str) -> int:
    """Delete every object (and version) in the stack's assets bucket; returns how many.

    CloudFormation cannot delete a non-empty bucket, and the assets bucket holds only what
    sync-assets put there from the build, so destroy empties it first. Retained buckets
    (uploads) are never touched.
    """
    bucket = stack_mod.physical_id(aws.client("cloudformation"), stack, stack_mod.ASSETS_BUCKET)
    if bucket is None:
        return 0
    s3 = aws.client("s3")
    items: list[dict[str, str]] = []
    try:
        # List everything first: deleting while paginating moves the listing's markers.
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            items += [{"Key": v["Key"], "VersionId": v["VersionId"]}
                      for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]]
    except Exception as exc:
        if error_code(exc) != "NoSuchBucket":
            raise
        return 0
    for start in range(0, len(items), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": items[start:start + 1000], "Quiet": True})
    return len(items)


def delete_stack(aws: Aws, stack: str) -> str:
    """Delete ``stack`` and wait until it is gone; returns the final status."""
    cfn = aws.client("cloudformation")
    cfn.delete_stack(StackName=stack)
    while True:
        description = stack_mod.describe(cfn, stack)
        if description is None or description["StackStatus"] == "DELETE_COMPLETE":
            return "DELETE_COMPLETE"
        if description["StackStatus"] == "DELETE_FAILED":
            raise UserError(f"deleting {stack} failed:\n  " + "\n  ".join(stack_mod.failure_report(cfn, stack)),
                            "fix the resource named above (e.g. empty a bucket), then destroy again")
        time.sleep(POLL_SECONDS)

