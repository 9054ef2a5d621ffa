"""The AWS-facing commands: ``sync-assets``, ``deploy`` and the stack's day-two commands."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from wp_lambda import assets_sync
from wp_lambda import config as config_mod
from wp_lambda import cost as cost_mod
from wp_lambda import efs as efs_mod
from wp_lambda import purge as purge_mod
from wp_lambda import stack as stack_mod
from wp_lambda.aws import Aws, aws_errors, connect
from wp_lambda.cli.app import err, out, print_json, print_reconciled
from wp_lambda.cli.options import (
    DryRunOption,
    JsonOption,
    ProfileOption,
    ProjectOption,
    RotateOriginSecretOption,
    StackOption,
    YesOption,
)
from wp_lambda.common.errors import UserError
from wp_lambda.config import Config
from wp_lambda.deploy import execute, operations
from wp_lambda.deploy import plan as plan_mod
from wp_lambda.deploy import run as run_mod
from wp_lambda.deploy import waf as waf_mod

SYNC_WORKERS = 16


def _session(project: Path, profile: str | None, stack: str | None) -> tuple[Config, Aws, str]:
    """The config, the AWS session and the stack every AWS-facing command starts from."""
    cfg = config_mod.load(project)
    return cfg, connect(cfg, profile=profile), stack_mod.stack_name(cfg, stack)


def run_sync(cfg: Config, aws: Aws, bucket: str, *, dry_run: bool, verify: bool,
             show_progress: bool) -> assets_sync.SyncResult:
    """Sync the build's assets with a progress bar on stderr (stdout stays clean for --json)."""
    assets_dir = cfg.root / plan_mod.BUILD_DIR / "assets"
    if not assets_dir.is_dir():
        raise UserError(f"no build output at {assets_dir}", "run `wplambda build` first")
    s3 = aws.client("s3", max_pool_connections=SYNC_WORKERS)
    progress = Progress(TextColumn("uploading assets"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                        console=err, transient=True, disable=not show_progress)
    task: list[Any] = []

    def on_plan(plan: assets_sync.SyncPlan) -> None:
        if plan.upload and not dry_run:
            task.append(progress.add_task("upload", total=sum(f.size for f in plan.upload)))

    def on_upload(item: assets_sync.LocalFile) -> None:
        progress.advance(task[0], item.size)

    with progress, aws_errors():
        return assets_sync.sync(s3, bucket, assets_dir, cfg.assets, dry_run=dry_run, verify=verify,
                                workers=SYNC_WORKERS, on_plan=on_plan, on_upload=on_upload)


def print_sync_summary(result: assets_sync.SyncResult, bucket: str) -> None:
    verb = "would upload" if result.dry_run else "uploaded"
    out.print(f"assets -> s3://{bucket}: {verb} {result.uploaded}, unchanged {result.unchanged}, "
              f"{'would delete' if result.dry_run else 'deleted'} {result.deleted}, "
              f"{result.bytes:,} bytes, {result.seconds:.2f} s")


def sync_assets(
    stack: StackOption = None,
    bucket: Annotated[str | None, typer.Option(help="Sync to this bucket instead of the stack's AssetsBucket.")]
    = None,
    dry_run: DryRunOption = False,
    verify: Annotated[bool, typer.Option("--verify", help="Also list the bucket and restore objects "
                                         "deleted by hand (deploy always does).")] = False,
    json_output: JsonOption = False,
    project: ProjectOption = Path(),
    profile: ProfileOption = None,
) -> None:
    """Upload the build's static files to the stack's assets bucket (only what changed)."""
    cfg, aws, name = _session(project, profile, stack)
    if bucket is None:
        with aws_errors():
            bucket = stack_mod.assets_bucket(aws.client("cloudformation"), name)
    result = run_sync(cfg, aws, bucket, dry_run=dry_run, verify=verify, show_progress=not json_output)
    if json_output:
        print_json(result.summary())
    else:
        print_sync_summary(result, bucket)


def _interactive(yes: bool) -> bool:
    return not yes and sys.stdin.isatty()


def deploy(
    stack: StackOption = None,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    skip_build: Annotated[bool, typer.Option("--skip-build", help="Deploy the build output as it is.")] = False,
    no_reconcile: Annotated[bool, typer.Option("--no-reconcile", help="Leave plugin activation and the theme "
                                               "as the live site has them, whatever wplambda.toml declares.")]
    = False,
    rotate_origin_secret: RotateOriginSecretOption = False,
    json_output: JsonOption = False,
    project: ProjectOption = Path(),
    profile: ProfileOption = None,
) -> None:
    """Build if stale, render, validate, update the stack with SAM, sync assets (EFS mode: and wp-content
    on EFS, through the console function), print the outputs."""
    cfg, aws, name = _session(project, profile, stack)

    def confirm_delete(stack_name: str, reason: str) -> bool:
        err.print(f"[yellow]stack {stack_name}:[/] {reason}")
        return _interactive(yes) and typer.confirm(f"Delete stack {stack_name} now?", default=False)

    def sync_runner(bucket: str, dry: bool) -> assets_sync.SyncResult:
        return run_sync(cfg, aws, bucket, dry_run=dry, verify=True, show_progress=True)

    try:
        with aws_errors():
            outcome = run_mod.deploy(cfg, aws, name, sync_runner=sync_runner, dry_run=dry_run,
                                     skip_build=skip_build, say=lambda line: err.print(line, highlight=False),
                                     confirm_delete=confirm_delete, reconcile_site=not no_reconcile,
                                     rotate_origin_secret=rotate_origin_secret)
    except execute.DeployFailed as exc:
        err.print(f"[bold red]deploy of {name} failed[/]")
        for line in exc.lines:
            err.print(f"  {line}", highlight=False)
        if exc.blocked:
            err.print(f"  next: `wplambda destroy --stack {name}`, then deploy again")
        raise typer.Exit(exc.exit_code) from None
    if json_output:
        print_json(_outcome_json(outcome))
    else:
        _print_outcome(outcome, cfg)


def _outcome_json(outcome: run_mod.DeployOutcome) -> dict[str, Any]:
    """What a script needs to know about a deploy: what changed, and the stack's outputs. The origin
    secret appears as a yes/no and a version id, never as a value."""
    plan = outcome.plan
    rotation = plan.rotation if plan is not None else None
    return {
        "stack": outcome.stack,
        "dry_run": outcome.dry_run,
        "first_deploy": outcome.first_deploy,
        "stack_changed": outcome.stack_changed,
        "changes": [dataclasses.asdict(change) for change in outcome.changes or []],
        "assets": outcome.sync.summary() if outcome.sync is not None else None,
        "invalidated": outcome.invalidated,
        "function_versions": outcome.versions.summary() if outcome.versions is not None else None,
        "origin_secret": {"rotated": outcome.origin_secret_rotated,
                          "version": rotation.version if rotation is not None else None},
        "outputs": outcome.outputs,
        "notes": outcome.notes,
    }


def _print_outcome(outcome: run_mod.DeployOutcome, cfg: Config) -> None:
    for note in outcome.notes:
        err.print(f"[dim]{note}[/]")
    if outcome.reconciled is not None:
        print_reconciled(outcome.reconciled, dry_run=outcome.dry_run)
    if outcome.dry_run:
        if not outcome.changes:
            out.print(f"no changes to stack {outcome.stack}")
        else:
            table = Table("action", "logical id", "type", "replacement", title=f"change set for {outcome.stack}")
            for change in outcome.changes:
                table.add_row(change.action, change.logical_id, change.resource_type, change.replacement)
            out.print(table)
        if outcome.sync is not None:
            print_sync_summary(outcome.sync, "the assets bucket")
        if outcome.versions is not None:
            out.print(outcome.versions.line())
        out.print(f"cost: {cost_mod.summary(cfg)}", highlight=False)
        out.print("dry run: nothing was executed")
        return
    if outcome.no_changes:
        out.print(f"no changes: stack {outcome.stack} already runs this build and these assets")
    elif outcome.sync is not None:
        print_sync_summary(outcome.sync, dict(outcome.rows).get("assets bucket", "the assets bucket"))
    if outcome.versions is not None:
        out.print(outcome.versions.line())
    for line in efs_mod.report_lines(outcome.content or {}):
        out.print(f"EFS: {line}")
    if outcome.invalidated:
        out.print(f"CloudFront: invalidated {', '.join(outcome.invalidated[:5])}"
                  + (f" and {len(outcome.invalidated) - 5} more" if len(outcome.invalidated) > 5 else ""))
    _outputs_table(outcome.stack, outcome.rows)
    if outcome.first_deploy:
        site = outcome.outputs.get("SiteUrl")
        out.print("[bold]Next steps[/]")
        install = f"{site.rstrip('/')}/wp-admin/install.php" if site else "the site URL + /wp-admin/install.php"
        out.print(f"  1. install WordPress: open {install}")
        if cfg.site.domains:
            target = outcome.outputs.get("DistributionDomain", "the distribution domain")
            for domain in cfg.site.domains:
                out.print(f"  2. point DNS: {domain} CNAME (or alias) {target}")


def _outputs_table(stack: str, rows: list[tuple[str, str]]) -> None:
    table = Table("", "value", title=f"stack {stack}", show_header=False)
    for label, value in rows:
        table.add_row(label, value)
    out.print(table)


def outputs(
    stack: StackOption = None,
    json_output: JsonOption = False,
    project: ProjectOption = Path(),
    profile: ProfileOption = None,
) -> None:
    """The stack's outputs (by key), read from CloudFormation."""
    _cfg, aws, name = _session(project, profile, stack)
    with aws_errors():
        description = stack_mod.require(aws.client("cloudformation"), name)
    values = stack_mod.outputs(description)
    if json_output:
        print_json(values)
    else:
        _outputs_table(name, sorted(values.items()))


def status(
    stack: StackOption = None,
    json_output: JsonOption = False,
    project: ProjectOption = Path(),
    profile: ProfileOption = None,
) -> None:
    """Stack state, outputs, the live alias's function version and the last deploy's build hash."""
    cfg, aws, name = _session(project, profile, stack)
    with aws_errors():
        info = operations.status(cfg, aws, name)
    if json_output:
        print_json(info)
        return
    out.print(f"stack {info['stack']}: [bold]{info['status']}[/] (updated {info['updated']})")
    alias = f"{info['alias']} -> version {info['function_version']}" if info["alias"] else "no live alias"
    if info["alias"] and info["deployed_version"] != info["function_version"]:
        alias += f" (rolled back; the next deploy restores version {info['deployed_version']})"
    out.print(f"function: {alias}; last deploy's build: {info['build_hash'] or 'unknown'}")
    _outputs_table(info["stack"], list(info["resources"].items()))


def logs(
    stack: StackOption = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")] = False,
    since: Annotated[str, typer.Option(help="How far back: 30s, 10m, 2h, 1d.")] = "10m",
    filter_text: Annotated[str | None, typer.Option("--filter", help="CloudWatch Logs filter pattern "
                                                    "(with --access: terms the lines must also contain).")] = None,
    access: Annotated[bool, typer.Option("--access", help="The HTTP API's access log (one line per request) "
                                         "instead of the function's own lines.")] = False,
    json_output: JsonOption = False,
    project: ProjectOption = Path(),
    profile: ProfileOption = None,
) -> None:
    """The function's CloudWatch Logs, or with --access the HTTP API's access log (--json: a JSON
    object per line; with --access, the access log's own fields)."""
    cfg, aws, name = _session(project, profile, stack)
    window = operations.parse_since(since)
    if access and cfg.function.front_door != "http-api":
        err.print(f"function.front_door = {cfg.function.front_door!r}: a Function URL keeps no access log, so there "
                  "is nothing to show (docs/guides/security.md, Access logs)", highlight=False)
    with aws_errors():
        for line in operations.logs(aws, name, since=window, pattern=filter_text, follow=follow, access=access):
            if json_output:
                shown = line.access if line.access is not None else {
                    "time": line.timestamp.isoformat(), "stream": line.stream, "message": line.message}
                print(json.dumps(shown, ensure_ascii=False), flush=True)
            elif line.access is not None:
                print(f"{line.timestamp:%Y-%m-%d %H:%M:%S} {_access_text(line.access)}", flush=True)
            else:
                print(f"{line.timestamp:%Y-%m-%d %H:%M:%S} {line.message}", flush=True)


def _access_text(fields: dict[str, Any]) -> str:
    """An access-log line for a person: status, method, path, size, latency, client, then the user
    agent and any integration error (API Gateway writes "-" for an empty value). The path and the
    user agent are the visitor's: control characters are shown escaped, never sent to the terminal."""
    def field(key: str) -> str:
        text = str(fields.get(key, "-"))
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)

    text = (f"{field('status')} {field('method')} {field('path')} {field('bytes')} B {field('latencyMs')} ms "
            f"{field('ip')} \"{field('userAgent')}\"")
    error = field("error")
    return text if error in ("-", "") else f"{text} error: {error}"


def rollback(
    stack: StackOption = None,
    project: ProjectOption = Path(),
    profile: ProfileOption = None,
) -> None:
    """Move the live alias back to the previous published function version (until the next deploy)."""
    _cfg, aws, name = _session(project, profile, stack)
    with aws_errors():
        old, new = operations.rollback(aws, name)
    out.print(f"alias live: version {old} -> {new}")
    out.print("the next `wplambda deploy` moves it back to the deployed version")


def destroy(
    stack: StackOption = None,
    yes: YesOption = False,
    project: ProjectOption = Path(),
    profile: ProfileOption = None,
) -> None:
    """Delete the stack (after its name is typed back, or --yes), then its AWS WAF stack STACK-waf in
    us-east-1 if it has one. The uploads bucket and the database are retained; this says where."""
    _cfg, aws, name = _session(project, profile, stack)
    with aws_errors():
        stack_mod.require(aws.client("cloudformation"), name)
        kept = operations.retained(aws, name)
    if not yes:
        if not sys.stdin.isatty():
            raise UserError(f"refusing to delete stack {name!r} without confirmation",
                            f"type the name in a terminal, or pass --yes: wplambda destroy --stack {name} --yes")
        typed = typer.prompt(f"This deletes stack {name}. Type its name to confirm")
        if typed != name:
            raise UserError(f"{typed!r} is not {name!r}: nothing was deleted")
    with aws_errors():
        emptied = operations.empty_assets_bucket(aws, name)
        operations.delete_stack(aws, name)
        # Only now: WAF refuses to delete a web ACL that a distribution still uses.
        waf_removed = waf_mod.remove(aws, name, lambda _line: None)
    out.print(f"stack {name} deleted (its assets bucket emptied first: {emptied} objects)")
    if waf_removed:
        out.print(f"stack {waf_mod.companion_name(name)} in {waf_mod.WAF_REGION} deleted (its AWS WAF web ACL)")
    for line in kept:
        out.print(f"  retained: {line}", soft_wrap=True, highlight=False)


def purge(
    paths: Annotated[list[str] | None, typer.Argument(
        help="Paths as CloudFront matches them: from the leading \"/\", \"*\" only at the end "
             "(\"/hello-world/\", \"/category/news/*\").", show_default=False)] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every cached page (\"/*\", one path).")] = False,
    stack: StackOption = None,
    json_output: JsonOption = False,
    project: ProjectOption = Path(),
    profile: ProfileOption = None,
) -> None:
    """Take pages out of the stack's CloudFront cache now (the site purges what a change affects by itself)."""
    items = purge_mod.checked_paths(paths or [], everything)  # bad input fails before any AWS call
    _cfg, aws, name = _session(project, profile, stack)
    with aws_errors():
        distribution = purge_mod.distribution_id(aws.client("cloudformation"), name)
        made = purge_mod.invalidate(aws.client("cloudfront"), distribution, items)
    if json_output:
        print_json(made.to_dict())
    else:
        out.print(f"purge: invalidation {made.id} of {len(made.paths)} path{'s' if len(made.paths) != 1 else ''} "
                  f"on {made.distribution} ({made.status or 'submitted'})")


def register(app: typer.Typer) -> None:
    app.command("sync-assets")(sync_assets)
    app.command()(deploy)
    app.command()(status)
    app.command()(outputs)
    app.command()(logs)
    app.command()(rollback)
    app.command()(destroy)
    app.command()(purge)
