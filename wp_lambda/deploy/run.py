"""``wplambda deploy``: build if stale, render, validate, plan, then update the stack and sync assets.

The "no changes" decision is made here, before any engine runs: when the stack is in a stable
state, is the very stack the last deploy recorded, and the plan's fingerprint (template, zips,
parameters, tags) equals the recorded one, no change set is created at all. Assets are then
synced anyway (their own manifest decides, uploading nothing when nothing changed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wp_lambda import assets_sync, efs, remote
from wp_lambda import stack as stack_mod
from wp_lambda.aws import Aws
from wp_lambda.common.errors import UserError
from wp_lambda.config import Config
from wp_lambda.deploy import execute, preflight
from wp_lambda.deploy.operations import delete_stack
from wp_lambda.deploy.plan import DeployPlan, make_plan, managed_bucket_name
from wp_lambda.plugins import reconcile

STABLE_STATES = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
SyncRunner = Callable[[str, bool], assets_sync.SyncResult]


@dataclass
class DeployOutcome:
    """What happened, for the CLI to print."""

    stack: str
    engine: str
    first_deploy: bool
    stack_changed: bool
    dry_run: bool
    changes: list[execute.Change] | None = None
    sync: assets_sync.SyncResult | None = None
    invalidated: list[str] = field(default_factory=list)
    rows: list[tuple[str, str]] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # storage.mode = "efs": what seeding/syncing wp-content on EFS did (wp_lambda.runtime.content).
    content: dict[str, Any] | None = None
    reconciled: reconcile.Plan | None = None  # plugin/theme activation made to match wplambda.toml

    @property
    def no_changes(self) -> bool:
        synced_nothing = self.sync is None or (self.sync.uploaded == 0 and self.sync.deleted == 0)
        return not self.stack_changed and synced_nothing


def ensure_built(config: Config, say: execute.Say) -> None:
    """Run the build when its output is stale (the build area's service API)."""
    try:
        from wp_lambda import bundle as build_mod
    except ModuleNotFoundError as exc:
        if exc.name != "wp_lambda.bundle":
            raise
        raise UserError("this wplambda installation has no build step",
                        "build the project first and deploy with --skip-build") from None
    if build_mod.is_stale(config):
        say("building: the build output is older than its inputs")
        build_mod.build(config, target="deploy")


def _check_state(aws: Aws, stack: str, description: dict[str, Any] | None,
                 confirm_delete: Callable[[str, str], bool], say: execute.Say) -> dict[str, Any] | None:
    """Refuse or repair stack states CloudFormation cannot update; returns the fresh description."""
    if description is None:
        return None
    status = description["StackStatus"]
    if status == "ROLLBACK_COMPLETE":
        reason = stack_mod.BLOCKED_STATES[status]
        if not confirm_delete(stack, reason):
            report = stack_mod.failure_report(aws.client("cloudformation"), stack)
            raise UserError(f"stack {stack!r} cannot be updated:\n  " + "\n  ".join(report),
                            f"run `wplambda destroy --stack {stack}`, then deploy again")
        say(f"deleting stack {stack} (ROLLBACK_COMPLETE) before deploying again")
        delete_stack(aws, stack)
        return None
    problem = preflight.stack_state_problem(stack, description)
    if problem is not None:
        raise problem
    return description


def plan_for(config: Config, aws: Aws, stack: str) -> DeployPlan:
    """The plan, with the artifact bucket resolved (and created when it is the kit's own)."""
    configured = config.aws.artifact_bucket
    bucket = configured or managed_bucket_name(aws.account_id(), aws.region)
    execute.ensure_artifact_bucket(aws, bucket, managed=not configured)
    return make_plan(config, stack, artifact_bucket=bucket, profile=aws.profile)


def deploy(config: Config, aws: Aws, stack: str, *, sync_runner: SyncRunner, engine: str = "auto",
           dry_run: bool = False, skip_build: bool = False, render: bool = True, say: execute.Say = print,
           confirm_delete: Callable[[str, str], bool] = lambda _stack, _reason: False,
           content_invoker: efs.Invoke | None = None,
           reconcile_site: bool = True) -> DeployOutcome:
    """Deploy ``config`` to ``stack``; raises :class:`execute.DeployFailed` when the stack update fails.

    ``sync_runner(bucket, dry_run)`` syncs the assets (the CLI passes one with a progress bar).
    ``content_invoker`` reaches the function for EFS mode's sync (default: the stack's console function).
    ``render=False`` deploys the project's template.yaml as it is (a hand-made or test template).
    With ``reconcile_site`` and any ``active`` declared in wplambda.toml, the live site's plugin
    activation and theme are then made to match it through the console function's wp-cli.
    """
    from wp_lambda.render import render_project
    from wp_lambda.validate import validate_project

    # The SAM translator warns about its own unpublished metrics on every transform: noise to a user.
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    if reconcile_site:
        reconcile.require_wp_cli(config)
    if not skip_build:
        ensure_built(config, say)
    if render:
        render_project(config)
    report = validate_project(config)
    if not report.ok:
        raise UserError("the rendered project is not deployable:\n  " + "\n  ".join(report.errors),
                        "fix wplambda.toml (see `wplambda validate`) and deploy again")
    chosen = execute.choose_engine(engine, aws)
    cfn = aws.client("cloudformation")
    description = stack_mod.describe(cfn, stack)
    # Read-only checks before anything is created; a dry run never offers to delete a stack.
    checks = preflight.run(config, aws, stack, description, offer_delete=not dry_run)
    checks.raise_if_failed()
    for line in checks.lines():
        say(line)
    description = _check_state(aws, stack, description, confirm_delete, say)
    plan = plan_for(config, aws, stack)
    record = execute.read_record(aws, plan.artifact_bucket, stack)
    unchanged = (description is not None and record is not None
                 and description["StackStatus"] in STABLE_STATES
                 and record.get("stack_id") == description["StackId"]
                 and record.get("fingerprint") == plan.fingerprint)
    first = description is None or description["StackStatus"] == "REVIEW_IN_PROGRESS"
    outcome = DeployOutcome(stack=stack, engine=chosen, first_deploy=first, stack_changed=not unchanged,
                            dry_run=dry_run)
    runner = execute.make_engine(chosen, aws, say)
    if dry_run:
        outcome.changes = [] if unchanged else runner.preview(plan)
        if description is not None and not first:
            _sync_and_invalidate(aws, stack, outcome, sync_runner, dry_run=True)
            _reconcile(config, aws, stack, outcome, reconcile_site, dry_run=True)
        return outcome
    if not unchanged:
        if description is not None and description["StackStatus"] == "REVIEW_IN_PROGRESS":
            # The empty stack an unexecuted change set (a dry run) leaves: start clean from a create.
            delete_stack(aws, stack)
        say(f"updating stack {stack} with the {chosen} engine")
        started = time.monotonic()
        runner.apply(plan)
        say(f"stack {stack} updated in {time.monotonic() - started:.1f} s")
    description = stack_mod.require(cfn, stack)
    if config.storage.mode == "efs":
        # Only the functions reach EFS: the console function copies from its own package (first
        # deploy: everything), with its long timeout.
        invoke = content_invoker or remote.stack_target(config, aws, stack).invoke
        say("syncing wp-content on EFS (pinned plugins and themes)")
        outcome.content = invoke(efs.sync_event(config))
        if "error" in outcome.content:
            raise UserError(f"syncing wp-content on EFS failed: {outcome.content['error']}", "see `wplambda logs`")
    _sync_and_invalidate(aws, stack, outcome, sync_runner, dry_run=False)
    if not unchanged:
        execute.write_record(aws, plan, description["StackId"])
    outcome.outputs = stack_mod.outputs(description)
    outcome.rows = stack_mod.summary_rows(description, stack_mod.resources(cfn, stack))
    _reconcile(config, aws, stack, outcome, reconcile_site, dry_run=False)
    return outcome


def _reconcile(config: Config, aws: Aws, stack: str, outcome: DeployOutcome, wanted: bool, *, dry_run: bool) -> None:
    """Plugin activation and theme as wplambda.toml declares them (planned only in a dry run)."""
    if not wanted or not reconcile.declares_state(config):
        return
    try:
        outcome.reconciled = reconcile.reconcile(config, remote.stack_target(config, aws, stack), dry_run=dry_run)
    except UserError as exc:
        raise UserError(f"stack {stack} is deployed, but its plugins were not reconciled: {exc.message}",
                        exc.hint) from None


def _sync_and_invalidate(aws: Aws, stack: str, outcome: DeployOutcome, sync_runner: SyncRunner,
                         *, dry_run: bool) -> None:
    cfn = aws.client("cloudformation")
    found = stack_mod.resources(cfn, stack)
    bucket = found.get(stack_mod.ASSETS_BUCKET, {}).get("PhysicalResourceId")
    if not bucket:
        outcome.notes.append(f"the stack has no {stack_mod.ASSETS_BUCKET}: assets were not synced")
        return
    outcome.sync = sync_runner(bucket, dry_run)
    distribution = found.get(stack_mod.DISTRIBUTION, {}).get("PhysicalResourceId")
    if dry_run or not outcome.sync.changed_paths:
        return
    if distribution:
        outcome.invalidated = execute.invalidate(aws, distribution, outcome.sync.changed_paths)
    else:
        outcome.notes.append(f"the stack has no {stack_mod.DISTRIBUTION}: nothing to invalidate")
