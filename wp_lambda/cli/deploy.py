"""The AWS-facing commands: ``sync-assets``, ``deploy`` and the stack's day-two commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from wp_lambda import assets_sync
from wp_lambda import config as config_mod
from wp_lambda.aws import Aws, aws_errors, connect
from wp_lambda.cli.app import JsonOption, ProjectOption, err, out, print_json
from wp_lambda.config import Config
from wp_lambda.deploy import stack as stack_mod
from wp_lambda.errors import UserError

StackOption = Annotated[str | None, typer.Option("--stack", "-s",
                                                 help="Stack name (default: site.name from wplambda.toml).")]
ProfileOption = Annotated[str | None, typer.Option("--profile", help="AWS profile (default: aws.profile).")]
RegionOption = Annotated[str | None, typer.Option("--region", help="AWS region; must match aws.region.")]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Never prompt.")]

SYNC_WORKERS = 16


def _session(project: Path, profile: str | None, region: str | None) -> tuple[Config, Aws]:
    cfg = config_mod.load(project)
    return cfg, connect(cfg, profile=profile, region=region)


def run_sync(cfg: Config, aws: Aws, bucket: str, *, dry_run: bool, show_progress: bool) -> assets_sync.SyncResult:
    """Sync the build's assets with a progress bar on stderr (stdout stays clean for --json)."""
    assets_dir = cfg.root / ".wplambda" / "build" / "assets"
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
        return assets_sync.sync(s3, bucket, assets_dir, cfg.assets, dry_run=dry_run, workers=SYNC_WORKERS,
                                on_plan=on_plan, on_upload=on_upload)


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
    json_output: JsonOption = False,
    project: ProjectOption = Path(),
    profile: ProfileOption = None,
    region: RegionOption = None,
) -> None:
    """Upload the build's static files to the stack's assets bucket (only what changed)."""
    cfg, aws = _session(project, profile, region)
    if bucket is None:
        with aws_errors():
            bucket = stack_mod.assets_bucket(aws.client("cloudformation"), stack or cfg.site.name)
    result = run_sync(cfg, aws, bucket, dry_run=dry_run, show_progress=not json_output)
    if json_output:
        print_json(result.summary())
    else:
        print_sync_summary(result, bucket)


def register(app: typer.Typer) -> None:
    app.command("sync-assets")(sync_assets)
