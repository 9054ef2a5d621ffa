"""The shared typer app and the console helpers every command module prints through."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from wp_lambda import __version__

app = typer.Typer(
    name="wplambda",
    help="Put a WordPress site on AWS Lambda and keep it there.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
out = Console()
err = Console(stderr=True)

ProjectOption = Annotated[
    Path, typer.Option("--project", "-C", help="Project directory (where wplambda.toml is).",
                       file_okay=False, resolve_path=True)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]


def console_error(message: str) -> None:
    # The message is plain text: "[themes]" or "[plugins]" in a hint must not be read as rich markup.
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True)


def print_json(data: Any) -> None:
    """Plain JSON on stdout (no colour codes), so scripts can parse it."""
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def _version(value: bool) -> None:
    if value:
        print(f"wplambda {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Put a WordPress site on AWS Lambda and keep it there."""
