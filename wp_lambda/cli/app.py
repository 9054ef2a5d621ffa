"""The shared typer app and the console helpers every command module prints through.

Command modules import from here and from :mod:`wp_lambda.cli.options`, never from each other, so
a command can move or go without touching the rest.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from wp_lambda import __version__
from wp_lambda.bundle.sizes import MB

if TYPE_CHECKING:
    from wp_lambda.bundle import BuildResult
    from wp_lambda.common.fetch import ProgressFn
    from wp_lambda.plugins.reconcile import Plan

app = typer.Typer(
    name="wplambda",
    help="Put a WordPress site on AWS Lambda and keep it there.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
out = Console()
err = Console(stderr=True)

def console_error(message: str) -> None:
    # The message is plain text: "[themes]" or "[plugins]" in a hint must not be read as rich markup.
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True)


def print_json(data: Any) -> None:
    """Plain JSON on stdout (no colour codes), so scripts can parse it."""
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


class ConsoleReporter:
    """Prints build steps on stdout, warnings on stderr, downloads as a progress bar."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet

    def step(self, message: str) -> None:
        if not self.quiet:
            out.print(f"[cyan]•[/] {escape(message)}", highlight=False)

    def note(self, message: str) -> None:
        if not self.quiet:
            out.print(f"  {escape(message)}", highlight=False)

    def warn(self, message: str) -> None:
        err.print(f"[yellow]warning:[/] {escape(message)}", highlight=False)

    @contextlib.contextmanager
    def transfer(self, label: str) -> Iterator[ProgressFn]:
        with Progress("{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                      console=err, transient=True, disable=self.quiet) as bar:
            task = bar.add_task(label, total=None)

            def update(received: int, total: int | None) -> None:
                bar.update(task, completed=received, total=total)

            yield update


class StderrReporter(ConsoleReporter):
    """Build steps and notes on stderr: stdout carries wp-cli's output and nothing else."""

    def step(self, message: str) -> None:
        err.print(f"[cyan]•[/] {escape(message)}", highlight=False)

    def note(self, message: str) -> None:
        err.print(f"  {escape(message)}", highlight=False)


def print_build_result(result: BuildResult) -> None:
    """A build's sizes and outputs (``build``, and the ``plugin`` commands that rebuild)."""
    manifest = result.manifest
    if not result.rebuilt:
        out.print(f"[green]✓[/] up to date, nothing to do ({result.seconds:.2f} s): {result.root}")
        return
    sizes = manifest["sizes"]
    out.print(f"[green]✓[/] built in {result.seconds:.1f} s: {result.root}")
    for name, size in sizes["parts"].items():
        out.print(f"  {name:<10} {size / MB:8.1f} MB")
    out.print(f"  {'total':<10} {sizes['unzipped_total'] / MB:8.1f} MB unzipped "
              f"(Lambda allows {sizes['limits']['unzipped'] // MB} MB with layers)")
    for name, entry in manifest["outputs"].items():
        if name.endswith(".zip"):
            out.print(f"  {name:<12} {entry['bytes'] / MB:6.1f} MB  sha256 {entry['sha256'][:16]}")
    out.print(f"  assets       {manifest['outputs']['assets']['files']} files")
    out.print("  biggest: " + ", ".join(f"{b['path']} ({b['bytes'] / MB:.1f} MB)" for b in sizes["biggest"]))


def print_reconciled(plan: Plan, *, dry_run: bool) -> None:
    """What reconciling the site's plugins and theme changed (or, in a dry run, would change):
    printed by ``deploy`` after the stack update and by ``plugin reconcile``."""
    if plan.skipped:
        err.print(f"[yellow]plugins:[/] {escape(plan.skipped)}", highlight=False)
        return
    for problem in plan.problems:
        err.print(f"[yellow]plugins:[/] {escape(problem)}", highlight=False)
    if not plan.actions:
        out.print("plugins: the site's activation and theme already match wplambda.toml")
    for action in plan.actions:
        out.print(f"plugins: {'would run' if dry_run else 'ran'} wp {escape(action.describe())}", highlight=False)


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
