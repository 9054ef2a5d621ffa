"""``serve``: run the built site locally through the Lambda handler."""

from __future__ import annotations

import re
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from wp_lambda import config as config_mod
from wp_lambda import efs as efs_mod
from wp_lambda import serve as serve_mod
from wp_lambda.cli.app import ConsoleReporter, err, out
from wp_lambda.cli.options import ProfileOption, ProjectOption, YesOption
from wp_lambda.common.errors import UserError
from wp_lambda.local.gateway import LAMBDA_REQUEST_LIMIT

_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str | int) -> int:
    """Bytes from ``7340032``, ``7MB``, ``7M`` or ``7MiB`` (K, M and G count in 1024s, as Lambda's
    "6 MB" quota does). Click passes the default through too, already a number."""
    if isinstance(text, int):
        return text
    match = _SIZE.match(text)
    if match is None:
        raise typer.BadParameter(f"{text!r} is not a size: give bytes, or a number with K, M or G (e.g. 10MB)")
    return int(match.group(1)) * 1024 ** " kmg".index(match.group(2).lower() or " ")


def serve(
    project: ProjectOption = Path(),
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8080,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    workers: Annotated[int, typer.Option(help="Handler processes (each runs its own php-fpm).",
                                         min=1, max=32)] = 2,
    install: Annotated[bool, typer.Option("--install", help="Install WordPress on first run.")] = False,
    admin_user: Annotated[str, typer.Option(help="Admin user name for --install.")] = "admin",
    admin_email: Annotated[str | None, typer.Option(help="Admin e-mail for --install "
                                                    "(default: site.admin_email).")] = None,
    admin_password: Annotated[str | None, typer.Option(help="Admin password for --install "
                                                       "(default: generated and printed once).")] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Delete the local database and uploads (and EFS mode's "
                                        "plugins and themes in .wplambda/local/efs) first.")] = False,
    yes: YesOption = False,
    no_build: Annotated[bool, typer.Option("--no-build", help="Serve the existing build as it is.")] = False,
    s3_endpoint: Annotated[str | None, typer.Option(
        help="Keep uploads in a bucket of this S3-compatible endpoint (e.g. http://localhost:9000) through "
             "S3 Uploads, as when deployed; the build then needs S3 Uploads from a Composer source.")] = None,
    s3_bucket: Annotated[str | None, typer.Option(help="Bucket for --s3-endpoint, created if missing "
                                                  "(default: SITE-uploads).")] = None,
    profile: ProfileOption = None,
    invoke_port: Annotated[int, typer.Option(help="Port of the local Lambda invoke endpoint on 127.0.0.1 (as `sam "
                                             "local start-lambda` gives; 0: any free port).", min=0, max=65535)] = 0,
    max_body: Annotated[int, typer.Option(
        parser=parse_size, metavar="SIZE",
        help="Largest request body the gateway accepts (e.g. 10MB); larger ones get 413 before being read. "
             "The default is Lambda's 6 MB request payload quota: a larger body works here but fails deployed.")
    ] = LAMBDA_REQUEST_LIMIT,
    concurrency: Annotated[int | None, typer.Option(
        min=1, help="At most N requests in the site's function at once, as Lambda's reserved concurrency "
                    "(function.reserved_concurrency) allows; the rest get the throttle answer of "
                    "function.front_door (503 behind an HTTP API, 429 from a Function URL). Default: no cap.")
    ] = None,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Send every page to WordPress: no page cache in the gateway. By default the gateway "
                           "caches what WordPress marks public, as CloudFront does deployed ([cache] pages).")
    ] = False,
) -> None:
    """Serve the site on http://HOST:PORT through the same handler that runs on Lambda.

    It talks to AWS (as --profile) only for --s3-endpoint and an external database's secret.
    """
    cfg = config_mod.load(project)
    site = serve_mod.LocalSite(cfg, serve_mod.ServeOptions(
        host=host, port=port, workers=workers, install=install, admin_user=admin_user,
        admin_email=admin_email, admin_password=admin_password, s3_endpoint=s3_endpoint, s3_bucket=s3_bucket,
        profile=profile, invoke_port=invoke_port, max_body=max_body, concurrency=concurrency,
        cache=not no_cache),
        # markup=False: a request line holds the client's path, which must not be read as markup.
        log_line=lambda line: out.print(line, highlight=False, markup=False, soft_wrap=True))
    site.preflight()
    if reset:
        if not yes and not typer.confirm(f"Delete all local data (database, uploads, EFS files) of {cfg.site.name}?"):
            raise UserError("reset cancelled; nothing was deleted")
        out.print(f"deleted {serve_mod.reset(cfg)}")
    build_dir, php = serve_mod.prepare_build(cfg, rebuild=not no_build, progress=ConsoleReporter(),
                                             s3_uploads=s3_endpoint is not None)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        out.print(f"starting {cfg.site.name}: MariaDB, {workers} handler process(es), gateway ...")
        info = site.start(build_dir, php)
        for warning in info.warnings:
            err.print(f"[yellow]warning:[/] {warning}")
        out.print(f"[green]serving[/] {info.url}  (PHP {info.php_version}, {info.workers} handler processes)")
        out.print(f"  admin: {info.admin_url}")
        if info.admin_password:
            out.print(f"  installed WordPress: user [bold]{info.admin_user}[/], password "
                      f"[bold]{info.admin_password}[/] (shown once)")
        out.print(f"  uploads: {info.uploads}")
        if info.content:
            out.print(f"  wp-content (EFS mode): {info.content}")
        for line in efs_mod.report_lines(info.content_sync or {}):
            out.print(f"  {line}")
        out.print(f"  logs:  {info.logs}")
        out.print(f"  concurrency: {info.concurrency}", highlight=False)
        out.print(f"  page cache: {info.page_cache}", highlight=False)
        out.print(f"  Lambda invoke endpoint: {info.invoke_url} (functions WordPressFunction, ConsoleFunction; "
                  f"for boto3: AWS_ENDPOINT_URL_LAMBDA={info.invoke_url} and this run's access_key_id/"
                  f"secret_access_key from {info.invoke_credentials}, readable only by you)", soft_wrap=True,
                  highlight=False)
        out.print("Ctrl-C stops everything.")
        while not stop.wait(0.5):
            pass
    finally:
        out.print("stopping ...")
        site.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    out.print("stopped")


def register(app: typer.Typer) -> None:
    app.command()(serve)
