"""``init``, ``render`` and ``validate``: the project's config and its rendered files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from wp_lambda import config as config_mod
from wp_lambda import cost as cost_mod
from wp_lambda import project as project_mod
from wp_lambda import render as render_mod
from wp_lambda import validate as validate_mod
from wp_lambda.cli.app import err, out, print_json
from wp_lambda.cli.options import JsonOption, ProjectOption, YesOption
from wp_lambda.common.errors import UserError

_CHOICES = {
    "arch": config_mod.ARCHITECTURES,
    "network": config_mod.NETWORK_MODES,
    "database": config_mod.DATABASE_MODES,
    "front_door": config_mod.FRONT_DOORS,
    "storage": config_mod.STORAGE_MODES,
}
_PROMPTS = {
    "name": "Site name (letters, digits, dashes)",
    "title": "Site title",
    "admin_email": "Admin e-mail",
    "region": "AWS region",
    "arch": "Architecture",
    "network": "Network mode",
    "database": "Database",
    "db_host": "External database host",
    "db_user": "External database user",
    "db_secret_arn": "Secrets Manager ARN of the external database's password (JSON with a \"password\" key)",
    "front_door": "Front door",
    "storage": "wp-content storage (efs: install plugins from wp-admin; needs a VPC)",
    "php_source": "PHP binaries: 'bref' or a directory",
    "wordpress_source": "WordPress: a version, URL, tarball or directory",
}


def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the project.", file_okay=False)] = Path(),
    name: Annotated[str | None, typer.Option(help="Site name, used for stack and bucket names.")] = None,
    title: Annotated[str | None, typer.Option(help="Site title.")] = None,
    admin_email: Annotated[str | None, typer.Option(help="Administrator e-mail.")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region.")] = None,
    arch: Annotated[str | None, typer.Option(help="x86_64 or arm64.")] = None,
    network: Annotated[str | None, typer.Option(help="public, vpc-nat-gateway or vpc-nat-instance.")] = None,
    database: Annotated[str | None, typer.Option(help="aurora-serverless-v2 or external.")] = None,
    db_host: Annotated[str | None, typer.Option(help="External database host.")] = None,
    db_user: Annotated[str | None, typer.Option(help="External database user.")] = None,
    db_secret_arn: Annotated[str | None, typer.Option(
        help="External database password: a Secrets Manager secret ARN (JSON with a \"password\" key).")] = None,
    front_door: Annotated[str | None, typer.Option(help="http-api or function-url.")] = None,
    storage: Annotated[str | None, typer.Option(
        help="package (wp-content read-only, plugins pinned at build) or efs (plugins and themes on EFS, "
             "installable from wp-admin; needs a VPC).")] = None,
    php_source: Annotated[str | None, typer.Option(help="'bref' or a directory of PHP binaries.")] = None,
    wordpress_source: Annotated[str | None, typer.Option(
        help="A WordPress version, URL, tarball or directory (e.g. /usr/share/wordpress).")] = None,
    yes: YesOption = False,
    force: Annotated[bool, typer.Option(help="Overwrite existing project files.")] = False,
) -> None:
    """Create a project: wplambda.toml, template.yaml and wordpress/wp-config.php."""
    root = directory.resolve()
    answers: dict[str, Any] = {
        "name": name, "title": title, "admin_email": admin_email, "region": region, "arch": arch,
        "network": network, "database": database, "db_host": db_host, "db_user": db_user,
        "db_secret_arn": db_secret_arn, "front_door": front_door, "storage": storage, "php_source": php_source,
        "wordpress_source": wordpress_source,
    }
    if answers["name"] is None and root.name and root != Path.cwd().resolve():
        answers["name"] = project_mod.site_name_for(root)
    if not yes and sys.stdin.isatty():
        defaults = project_mod.build_config(root, {k: v for k, v in answers.items() if k == "name"})
        for option, prompt in _PROMPTS.items():
            if answers[option] is not None and option != "name":
                continue
            if option.startswith("db_") and answers["database"] != "external":
                continue
            default = project_mod.init_answer(defaults, option)
            suffix = f" [{'/'.join(_CHOICES[option])}]" if option in _CHOICES else ""
            answers[option] = typer.prompt(prompt + suffix, default=answers[option] or default)
    written = project_mod.init_project(root, answers, force=force)
    for path in written:
        out.print(f"  wrote {path.relative_to(root)}")
    config = config_mod.load(root)
    if config.aws.architecture == "arm64" and config.php.source == "bref":
        out.print("[yellow]note:[/] arm64: Bref's gd and imagick layers are x86_64 only, so php.extensions = [] "
                  "and WordPress makes no thumbnails or resized images; use --arch x86_64 for them.")
    out.print(f"cost: {cost_mod.summary(config)}", highlight=False)
    out.print(f"concurrency: {project_mod.concurrency_line(config)}", highlight=False)
    out.print(f"[green]Project ready in {root}.[/] Next: [bold]wplambda validate[/], then "
              "[bold]wplambda serve[/] or [bold]wplambda deploy --stack NAME[/].")


def render(project: ProjectOption = Path()) -> None:
    """Re-render template.yaml, wp-config.php, php.ini and php-fpm.conf from wplambda.toml."""
    cfg = config_mod.load(project)
    result = render_mod.render_project(cfg)
    for rel in result.written:
        out.print(f"  wrote {rel}")
    if not result.written:
        out.print("nothing changed")


def validate(project: ProjectOption = Path(), json_output: JsonOption = False) -> None:
    """Check the config and the rendered template offline: cfn-lint, the SAM transform, php -l."""
    cfg = config_mod.load(project)
    render_mod.render_project(cfg)
    report = validate_mod.validate_project(cfg)
    if json_output:
        print_json({"ok": report.ok, "errors": report.errors, "warnings": report.warnings,
                    "checks": report.checks, "summary": project_mod.summary(cfg)})
    else:
        for warning in report.warnings:
            err.print(f"[yellow]warning:[/] {warning}")
        for error in report.errors:
            err.print(f"[red]✗[/] {error}")
        if report.ok:
            out.print(f"[green]✓[/] valid ({', '.join(report.checks)})")
            out.print(f"concurrency: {project_mod.concurrency_line(cfg)}", highlight=False)
    if not report.ok:
        raise UserError(f"{len(report.errors)} problem(s) in the rendered project")


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(render)
    app.command()(validate)
