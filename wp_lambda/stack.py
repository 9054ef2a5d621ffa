"""Reading a deployed stack: its status, resources by logical id, outputs and events.

The kit finds its own resources (assets bucket, function, distribution) by the logical ids fixed
in docs/internals.md through ``describe_stack_resources``, never only through Outputs, so a
renamed or missing output cannot break a deploy or a sync.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wp_lambda.aws import error_code
from wp_lambda.common.errors import UserError
from wp_lambda.render import AURORA_ENGINE_VERSION_PARAMETER

if TYPE_CHECKING:
    from wp_lambda.config import Config

ASSETS_BUCKET = "AssetsBucket"
UPLOADS_BUCKET = "UploadsBucket"
FUNCTION = "WordPressFunction"
FUNCTION_ALIAS = "live"
CONSOLE_FUNCTION = "ConsoleFunction"
DISTRIBUTION = "Distribution"
DATABASE_CLUSTER = "DatabaseCluster"
LOG_GROUP = "LogGroup"  # the function's log group, which also receives the HTTP API's access log
MAIL_IDENTITY = "MailIdentity"  # mail.create_identity: the SES domain identity the stack owns
# The output holding the origin secret's ARN (`deploy --rotate-origin-secret` writes a new value to it).
ORIGIN_SECRET_OUTPUT = "OriginSecretArn"

# Stack states in which CloudFormation accepts no update: what the user must do instead.
BLOCKED_STATES = {
    "ROLLBACK_COMPLETE": "the first deploy failed and was rolled back; CloudFormation cannot update "
                         "such a stack, it must be deleted before deploying again",
    "ROLLBACK_FAILED": "a failed first deploy could not roll back; delete the stack",
    "DELETE_FAILED": "a delete failed; fix the resource named above and delete the stack again",
    "UPDATE_ROLLBACK_FAILED": "an update could not roll back; continue the rollback in the "
                              "CloudFormation console (or `aws cloudformation continue-update-rollback`)",
}


@dataclass(frozen=True)
class Event:
    """One stack event, as the deploy progress and the failure report print it."""

    timestamp: dt.datetime
    logical_id: str
    resource_type: str
    status: str
    reason: str
    event_id: str

    @property
    def failed(self) -> bool:
        return self.status.endswith("_FAILED")


def stack_name(config: Config, stack: str | None) -> str:
    """The stack a command acts on: ``--stack NAME``, else ``site.name`` from ``wplambda.toml``.

    One rule for every command (deploy, destroy, wp, export, plugin adopt, ...): a project deploys
    as the stack named after its site, so a name is only needed for a second copy of it.
    """
    return stack or config.site.name


def describe(cfn: Any, stack: str) -> dict[str, Any] | None:
    """The stack's description, or None when no such stack exists."""
    try:
        return dict(cfn.describe_stacks(StackName=stack)["Stacks"][0])
    except Exception as exc:
        if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
            return None
        raise


@dataclass(frozen=True)
class StackState:
    """One reading of a stack (its description and its resources by logical id), taken once and
    passed along, so the steps of one deploy (preflight, plan, sync, reconcile) ask CloudFormation
    nothing the first reading already answered. A step that changes the stack makes a new reading.
    """

    name: str
    description: dict[str, Any] | None
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def read(cls, cfn: Any, stack: str) -> StackState:
        description = describe(cfn, stack)
        return cls(stack, description, resources(cfn, stack) if description is not None else {})

    @property
    def status(self) -> str | None:
        return None if self.description is None else str(self.description["StackStatus"])

    @property
    def created(self) -> bool:
        """Whether the stack has been created: REVIEW_IN_PROGRESS is the empty stack an unexecuted
        CREATE change set (a dry run) leaves, with no resources and no template of its own."""
        return self.status not in (None, "REVIEW_IN_PROGRESS")

    def physical_id(self, logical_id: str) -> str | None:
        found = self.resources.get(logical_id, {}).get("PhysicalResourceId")
        return str(found) if found else None


def deployed_engine_version(cfn: Any, state: StackState) -> str:
    """The Aurora engine version the stack gave its cluster ("" for a new stack, or one with no
    cluster): its AuroraEngineVersion parameter, or, for a stack an older kit deployed with the
    version written into the cluster's properties, its current template."""
    if not state.created or state.description is None:
        return ""
    for parameter in state.description.get("Parameters") or []:
        if parameter.get("ParameterKey") == AURORA_ENGINE_VERSION_PARAMETER and parameter.get("ParameterValue"):
            return str(parameter["ParameterValue"])
    if DATABASE_CLUSTER not in state.resources:
        return ""
    try:
        body = template(cfn, state.name)
    except Exception as exc:  # botocore's ClientError; not knowing would mean upgrading the cluster to the pin
        raise UserError(f"stack {state.name!r}: cannot read its template to find {DATABASE_CLUSTER}'s engine "
                        f"version ({error_code(exc) or exc})",
                        "allow cloudformation:GetTemplate, or set database.engine_version to the version the "
                        "cluster runs (the RDS console shows it)") from None
    cluster = (body.get("Resources") or {}).get(DATABASE_CLUSTER) or {}
    version = (cluster.get("Properties") or {}).get("EngineVersion")
    return version if isinstance(version, str) else ""


def require(cfn: Any, stack: str) -> dict[str, Any]:
    """The stack's description, or a user error naming the stack and the region."""
    found = describe(cfn, stack)
    if found is None:
        region = cfn.meta.region_name
        raise UserError(f"stack {stack!r} does not exist in {region}",
                        f"deploy it first (`wplambda deploy --stack {stack}`) or pass the right --stack")
    return found


def outputs(description: dict[str, Any]) -> dict[str, str]:
    """Outputs by key."""
    return {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}


def resources(cfn: Any, stack: str) -> dict[str, dict[str, Any]]:
    """The stack's resources by logical id (type, physical id, status)."""
    found = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    # moto lists resources it cannot model without a logical id; they are not the kit's to find.
    return {r["LogicalResourceId"]: dict(r) for r in found if r.get("LogicalResourceId")}


def template(cfn: Any, stack: str) -> dict[str, Any]:
    """The stack's current template as data (the kit sends JSON, which botocore hands back parsed;
    a YAML body from elsewhere is decoded with cfn-lint's loader)."""
    from cfnlint.decode import decode_str

    body = cfn.get_template(StackName=stack)["TemplateBody"]
    return dict(body if isinstance(body, dict) else (decode_str(body)[0] or {}))


def physical_id(cfn: Any, stack: str, logical_id: str) -> str | None:
    """The physical id of one resource, or None when the stack has no such resource."""
    res = resources(cfn, stack).get(logical_id)
    return str(res["PhysicalResourceId"]) if res and res.get("PhysicalResourceId") else None


def events(cfn: Any, stack: str, since: dt.datetime | None = None) -> list[Event]:
    """The stack's events, oldest first, optionally only those at or after ``since``."""
    found: list[Event] = []
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack):
        for e in page["StackEvents"]:
            event = Event(e["Timestamp"], e["LogicalResourceId"], e.get("ResourceType", ""),
                          e.get("ResourceStatus", ""), e.get("ResourceStatusReason", ""), e["EventId"])
            if since is not None and event.timestamp < since:
                return sorted(found, key=lambda ev: ev.timestamp)
            found.append(event)
    return sorted(found, key=lambda ev: ev.timestamp)


def failure_report(cfn: Any, stack: str, since: dt.datetime | None = None,
                   description: dict[str, Any] | None = None) -> list[str]:
    """Lines naming each failed resource and CloudFormation's reason, then the stack status
    (from ``description`` when the caller has just read it, else read here)."""
    lines = []
    for event in events(cfn, stack, since):
        if event.failed and event.logical_id != stack:
            lines.append(f"{event.logical_id} ({event.resource_type}) {event.status}: "
                         f"{event.reason or 'no reason given'}")
    found = description if description is not None else describe(cfn, stack)
    if found is not None:
        status = found["StackStatus"]
        reason = found.get("StackStatusReason")
        lines.append(f"stack {stack}: {status}" + (f" ({reason})" if reason else ""))
        if status in BLOCKED_STATES:
            lines.append(f"what to do: {BLOCKED_STATES[status]}")
    return lines


def assets_bucket(cfn: Any, stack: str) -> str:
    """The stack's assets bucket, found by logical id."""
    require(cfn, stack)
    bucket = physical_id(cfn, stack, ASSETS_BUCKET)
    if bucket is None:
        raise UserError(f"stack {stack!r} has no {ASSETS_BUCKET} resource",
                        "deploy the kit's template to it, or pass --bucket NAME")
    return bucket


# The outputs table: label, output key, and the logical id to fall back on when the output is missing.
# mail.create_identity: Easy DKIM's three CNAME records as one output, "NAME VALUE NAME VALUE NAME VALUE".
MAIL_DKIM_OUTPUT = "MailDkimRecords"
SUMMARY = (
    ("site URL", "SiteUrl", None),
    ("admin URL", "AdminUrl", None),
    ("distribution", "DistributionId", DISTRIBUTION),
    ("distribution domain", "DistributionDomain", None),
    ("assets bucket", "AssetsBucketName", ASSETS_BUCKET),
    ("uploads bucket", "UploadsBucketName", UPLOADS_BUCKET),
    ("function", "FunctionName", FUNCTION),
    ("function alias", "FunctionAlias", None),
    ("console function", "ConsoleFunctionName", CONSOLE_FUNCTION),
    ("database", "DatabaseEndpoint", None),
    ("mail DNS records (CNAME name value, x3)", MAIL_DKIM_OUTPUT, None),
)


def summary_rows(description: dict[str, Any], found: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """Rows of the outputs table: each from Outputs, else from the resource with its logical id."""
    values = outputs(description)
    rows = []
    for label, key, logical_id in SUMMARY:
        value = values.get(key) or (found.get(logical_id, {}).get("PhysicalResourceId") if logical_id else None)
        if label == "function alias" and not value and found.get(FUNCTION, {}).get("PhysicalResourceId"):
            value = f"{found[FUNCTION]['PhysicalResourceId']}:{FUNCTION_ALIAS}"
        if value:
            rows.append((label, str(value)))
    return rows
