"""``doctor``: what this machine and project are missing, with the fix for each."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from wp_lambda import doctor as doctor_mod
from wp_lambda.cli.app import out, print_json
from wp_lambda.cli.options import JsonOption, ProfileOption, ProjectOption

_MARKS = {"ok": "[green]ok[/]     ", "warning": "[yellow]warning[/]", "missing": "[red]missing[/]"}


def doctor(
    project: ProjectOption = Path(),
    aws: Annotated[bool, typer.Option("--aws", help="Also check AWS credentials and region (uses the network).")]
    = False,
    profile: ProfileOption = None,
    json_output: JsonOption = False,
) -> None:
    """Check every prerequisite (PHP and its extensions, php-fpm, MariaDB, Composer, wp-cli, cfn-lint,
    the WordPress source and its themes, the Bref layer and whether its PHP is supported and patched);
    exit 1 when a required one is missing, 2 when the project's PHP is refused.

    --profile is used by --aws only.
    """
    report = doctor_mod.run(project, aws=aws, profile=profile)
    if json_output:
        print_json(report.as_json())
    else:
        for check in report.checks:
            line = f"{_MARKS[check.status]} {escape(check.name)}: {escape(check.detail)}"
            if not check.ok and check.fix:
                line += f"\n          fix: {escape(check.fix)}"
            out.print(line, highlight=False, soft_wrap=True)
        out.print("[green]all prerequisites are there[/]" if report.ok else
                  "[red]something required is missing[/]: see the fixes above", highlight=False)
    if not report.ok:
        raise typer.Exit(report.exit_code)


def register(app: typer.Typer) -> None:
    app.command()(doctor)
