"""``wplambda deploy``: build if stale, render, validate, plan, then update the stack and sync assets.

The stack is read once (:class:`~wp_lambda.stack.StackState`) and that reading is passed to the
preflight, the plan (CREATE or UPDATE), the asset sync and the reconcile; it is read again only
after this deploy changed it. The "no changes" decision is made here, before anything is sent:
when the stack is in a stable state, is the very stack the last deploy recorded, and the plan's
fingerprint (the bytes it would send) equals the recorded one, nothing is submitted. Assets are
then synced anyway (their own manifest decides, uploading nothing when nothing changed).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from wp_lambda import assets_sync, efs, remote
from wp_lambda import stack as stack_mod
from wp_lambda.aws import Aws, error_code
from wp_lambda.common.errors import UserError
from wp_lambda.config import Config
from wp_lambda.deploy import execute, preflight, versions, waf
from wp_lambda.deploy.operations import delete_stack
from wp_lambda.deploy.plan import DeployPlan, Rotation, artifact_bucket, make_plan
from wp_lambda.plugins import reconcile
from wp_lambda.render import ORIGIN_SECRET_VERSION_PARAMETER

STABLE_STATES = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
SyncRunner = Callable[[str, bool], assets_sync.SyncResult]


@dataclass
class DeployOutcome:
    """What happened, for the CLI to print."""

    stack: str
    first_deploy: bool
    stack_changed: bool
    dry_run: bool
    plan: DeployPlan | None = None  # what was (or, in a dry run, would be) sent to CloudFormation
    changes: list[execute.Change] | None = None
    sync: assets_sync.SyncResult | None = None
    invalidated: list[str] = field(default_factory=list)
    rows: list[tuple[str, str]] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # storage.mode = "efs": what seeding/syncing wp-content on EFS did (wp_lambda.runtime.content).
    content: dict[str, Any] | None = None
    reconciled: reconcile.Plan | None = None  # plugin/theme activation made to match wplambda.toml
    origin_secret_rotated: bool = False  # deploy --rotate-origin-secret: CloudFront now sends the new version
    versions: versions.Pruned | None = None  # the site function's published versions kept and deleted

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


def _check_state(aws: Aws, state: stack_mod.StackState, confirm_delete: Callable[[str, str], bool],
                 say: execute.Say) -> stack_mod.StackState:
    """Refuse or repair stack states CloudFormation cannot update; returns the state to deploy onto."""
    if state.description is None:
        return state
    if state.status == "ROLLBACK_COMPLETE":
        reason = stack_mod.BLOCKED_STATES["ROLLBACK_COMPLETE"]
        if not confirm_delete(state.name, reason):
            report = stack_mod.failure_report(aws.client("cloudformation"), state.name, description=state.description)
            raise UserError(f"stack {state.name!r} cannot be updated:\n  " + "\n  ".join(report),
                            f"run `wplambda destroy --stack {state.name}`, then deploy again")
        say(f"deleting stack {state.name} (ROLLBACK_COMPLETE) before deploying again")
        delete_stack(aws, state.name)
        return stack_mod.StackState(state.name, None)
    problem = preflight.stack_state_problem(state.name, state.description)
    if problem is not None:
        raise problem
    return state


def sent_origin_secret_version(state: stack_mod.StackState) -> str:
    """The OriginSecret version the stack's CloudFront sends ("" until a first rotation)."""
    params = (state.description or {}).get("Parameters") or []
    return next((str(p.get("ParameterValue") or "") for p in params
                 if p.get("ParameterKey") == ORIGIN_SECRET_VERSION_PARAMETER), "")


def plan_rotation(aws: Aws, state: stack_mod.StackState) -> Rotation:
    """What ``--rotate-origin-secret`` does to this stack (reads the secret's labels, writes nothing).

    A new version, unless an earlier rotation stored one that CloudFront never got (its stack
    update failed, or the secret was changed by hand): CloudFront then still sends the value now
    labelled AWSPREVIOUS, and a new value would take that label away from it (a 403 for every
    visitor until the stack update), so the rotation to AWSCURRENT is finished instead.
    """
    if not state.created or state.description is None:
        raise UserError(f"stack {state.name!r} does not exist yet: its first deploy generates the origin secret",
                        "deploy without --rotate-origin-secret; rotate on a later deploy")
    arn = stack_mod.outputs(state.description).get(stack_mod.ORIGIN_SECRET_OUTPUT)
    if not arn:
        raise UserError(f"stack {state.name!r} has no {stack_mod.ORIGIN_SECRET_OUTPUT} output (it was deployed by "
                        "an older wplambda)", "deploy once without --rotate-origin-secret, then rotate")
    stages = aws.client("secretsmanager").describe_secret(SecretId=arn).get("VersionIdsToStages", {})
    current = next((v for v, labels in stages.items() if "AWSCURRENT" in labels), None)
    sent = sent_origin_secret_version(state)
    unfinished = current is not None and (
        sent != current if sent else any("AWSPREVIOUS" in labels for labels in stages.values()))
    if unfinished and current is not None:
        return Rotation(secret=arn, version=current, store=False)
    return Rotation(secret=arn, version=str(uuid.uuid4()), store=True)


def plan_for(config: Config, aws: Aws, state: stack_mod.StackState, web_acl_arn: str = "", *,
             rotate_origin_secret: bool = False) -> DeployPlan:
    """The plan, with the artifact bucket resolved (and created when it is the kit's own), and the
    emulator step applied when the endpoint is not AWS."""
    rotation = plan_rotation(aws, state) if rotate_origin_secret else None
    bucket = artifact_bucket(config, aws)
    execute.ensure_artifact_bucket(aws, bucket, managed=not config.aws.artifact_bucket)
    return make_plan(config, state.name, artifact_bucket=bucket,
                     change_set_type="UPDATE" if state.created else "CREATE", web_acl_arn=web_acl_arn,
                     origin_secret_version=sent_origin_secret_version(state),
                     deployed_engine_version=stack_mod.deployed_engine_version(aws.client("cloudformation"), state),
                     rotation=rotation).for_endpoint(aws.endpoint_url)


def deploy(config: Config, aws: Aws, stack: str, *, sync_runner: SyncRunner, dry_run: bool = False,
           skip_build: bool = False, render: bool = True, say: execute.Say = print,
           confirm_delete: Callable[[str, str], bool] = lambda _stack, _reason: False,
           content_invoker: efs.Invoke | None = None,
           reconcile_site: bool = True, rotate_origin_secret: bool = False,
           sleep: Callable[[float], None] = time.sleep) -> DeployOutcome:
    """Deploy ``config`` to ``stack``; raises :class:`execute.DeployFailed` when the stack update fails.

    ``sync_runner(bucket, dry_run)`` syncs the assets (the CLI passes one with a progress bar).
    ``content_invoker`` reaches the function for EFS mode's sync (default: the stack's console function).
    ``render=False`` deploys the project's template.yaml as it is (a hand-made or test template).
    With ``reconcile_site`` and any ``active`` declared in wplambda.toml, the live site's plugin
    activation and theme are then made to match it through the console function's wp-cli.
    ``rotate_origin_secret`` replaces the origin secret's value as part of the plan
    (:func:`plan_rotation`, :func:`execute.store_origin_secret`; ``sleep`` is its wait).
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
    report = validate_project(config, check_php=False)  # the preflight below judges the PHP
    if not report.ok:
        raise UserError("the rendered project is not deployable:\n  " + "\n  ".join(report.errors),
                        "fix wplambda.toml (see `wplambda validate`) and deploy again")
    cfn = aws.client("cloudformation")
    state = stack_mod.StackState.read(cfn, stack)
    # Read-only checks before anything is created; a dry run never offers to delete a stack.
    checks = preflight.run(config, aws, state, offer_delete=not dry_run)
    checks.raise_if_failed()
    for line in checks.lines():
        say(line)
    state = _check_state(aws, state, confirm_delete, say)
    # security.waf: the web ACL's companion stack in us-east-1 comes first, its ARN is the site
    # stack's WebAclArn parameter (wp_lambda.deploy.waf says why, and in which order).
    web_acl_arn = ""
    if config.security.waf and dry_run:
        web_acl_arn = waf.preview(config, aws, stack, artifact_bucket(config, aws), say)
    elif config.security.waf:
        web_acl_arn = waf.apply(config, aws, stack, artifact_bucket(config, aws), say)
    plan = plan_for(config, aws, state, web_acl_arn, rotate_origin_secret=rotate_origin_secret)
    record = execute.read_record(aws, plan.artifact_bucket, stack)
    unchanged = (state.description is not None and record is not None
                 and state.status in STABLE_STATES
                 and record.get("stack_id") == state.description["StackId"]
                 and record.get("fingerprint") == plan.fingerprint)
    outcome = DeployOutcome(stack=stack, first_deploy=not state.created, stack_changed=not unchanged,
                            dry_run=dry_run, plan=plan)
    if not unchanged:
        for note in plan.notes:
            say(f"emulator at {aws.endpoint_url}: {note}")
    if dry_run:
        if not unchanged:
            for line in plan.describe():
                say(line)
        outcome.changes = [] if unchanged else execute.preview(aws, plan)
        if not config.security.waf:
            waf.remove(aws, stack, say, dry_run=True)
        if state.created:
            _versions(config, aws, state, outcome, dry_run=True)
            _sync_and_invalidate(aws, state, outcome, sync_runner, dry_run=True)
            _reconcile(config, aws, state, outcome, reconcile_site, dry_run=True)
        return outcome
    if not unchanged:
        if state.status == "REVIEW_IN_PROGRESS":
            # The empty stack an unexecuted change set (a dry run) leaves: start clean from a create.
            delete_stack(aws, stack)
        if plan.rotation is not None:
            execute.store_origin_secret(aws, plan.rotation, say, sleep)
        say(f"updating stack {stack}")
        started = time.monotonic()
        try:
            final = execute.apply(aws, plan, say)
        except execute.DeployFailed as exc:
            if plan.rotation is not None:
                exc.lines.append("the origin secret's new value is stored, but CloudFront still sends the old one "
                                 "(accepted as AWSPREVIOUS): `wplambda deploy --rotate-origin-secret` finishes the "
                                 "rotation without storing another value")
            raise
        outcome.origin_secret_rotated = plan.rotation is not None
        say(f"stack {stack} updated in {time.monotonic() - started:.1f} s")
        if final is not None:  # the stack changed: its resources are read again, once
            state = stack_mod.StackState(stack, final, stack_mod.resources(cfn, stack))
    if not config.security.waf:
        # After the update above: the distribution no longer names the web ACL, so it can go.
        waf.remove(aws, stack, say)
    deployed = state.description
    assert deployed is not None  # the stack was there unchanged, or this deploy created or updated it
    _versions(config, aws, state, outcome, dry_run=False)
    if config.storage.mode == "efs":
        # Only the functions reach EFS: the console function copies from its own package (first
        # deploy: everything), with its long timeout.
        invoke = content_invoker or remote.stack_target(config, aws, stack, state=state).invoke
        say("syncing wp-content on EFS (pinned plugins and themes)")
        outcome.content = invoke(efs.sync_event(config))
        if "error" in outcome.content:
            raise UserError(f"syncing wp-content on EFS failed: {outcome.content['error']}", "see `wplambda logs`")
    _sync_and_invalidate(aws, state, outcome, sync_runner, dry_run=False)
    if not unchanged:
        execute.write_record(aws, plan, deployed["StackId"])
    outcome.outputs = stack_mod.outputs(deployed)
    outcome.rows = stack_mod.summary_rows(deployed, state.resources)
    _reconcile(config, aws, state, outcome, reconcile_site, dry_run=False)
    return outcome


def _versions(config: Config, aws: Aws, state: stack_mod.StackState, outcome: DeployOutcome, *,
              dry_run: bool) -> None:
    """The live alias back where the stack put it after a ``wplambda rollback``, then the published
    versions beyond function.versions_kept deleted (:mod:`wp_lambda.deploy.versions`)."""
    function = state.physical_id(stack_mod.FUNCTION)
    if function is None:
        return
    lam = aws.client("lambda")
    try:
        restored = versions.restore(lam, function, dry_run=dry_run)
        if restored is not None:
            outcome.notes.append(restored)
        outcome.versions = versions.prune(lam, function, config.function.versions_kept, dry_run=dry_run)
    except (botocore.exceptions.ClientError, botocore.exceptions.ConnectionError) as exc:
        # The stack is deployed either way: a Lambda endpoint that refuses these calls (a missing
        # permission, an emulator without them) leaves the alias and the old versions as they were.
        outcome.notes.append(f"function versions: not reconciled ({error_code(exc) or exc}): a `wplambda rollback` "
                             f"may still hold the live alias and old versions were kept; `wplambda status` shows "
                             f"the alias, and the next deploy tries again")


def _reconcile(config: Config, aws: Aws, state: stack_mod.StackState, outcome: DeployOutcome, wanted: bool,
               *, dry_run: bool) -> None:
    """Plugin activation and theme as wplambda.toml declares them (planned only in a dry run)."""
    if not wanted or not reconcile.declares_state(config):
        return
    try:
        target = remote.stack_target(config, aws, state.name, state=state)
        outcome.reconciled = reconcile.reconcile(config, target, dry_run=dry_run)
    except UserError as exc:
        raise UserError(f"stack {state.name} is deployed, but its plugins were not reconciled: {exc.message}",
                        exc.hint) from None


def _sync_and_invalidate(aws: Aws, state: stack_mod.StackState, outcome: DeployOutcome, sync_runner: SyncRunner,
                         *, dry_run: bool) -> None:
    bucket = state.physical_id(stack_mod.ASSETS_BUCKET)
    if not bucket:
        outcome.notes.append(f"the stack has no {stack_mod.ASSETS_BUCKET}: assets were not synced")
        return
    outcome.sync = sync_runner(bucket, dry_run)
    distribution = state.physical_id(stack_mod.DISTRIBUTION)
    if dry_run or not outcome.sync.changed_paths:
        return
    if distribution:
        outcome.invalidated = execute.invalidate(aws, distribution, outcome.sync.changed_paths)
    else:
        outcome.notes.append(f"the stack has no {stack_mod.DISTRIBUTION}: nothing to invalidate")
