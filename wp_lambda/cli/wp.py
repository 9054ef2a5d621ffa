"""``wp`` and ``console``: wp-cli inside the site's console function, deployed or local."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from wp_lambda import config as config_mod
from wp_lambda import console as console_mod
from wp_lambda import remote
from wp_lambda.cli.app import StderrReporter, print_json
from wp_lambda.cli.options import JsonOption, LocalOption, ProfileOption, ProjectOption, StackOption


def wp(
    args: Annotated[list[str] | None, typer.Argument(help="wp-cli's arguments, after `--`.",
                                                     show_default=False)] = None,
    stack: StackOption = None,
    local: LocalOption = False,
    project: ProjectOption = Path(),
    json_out: JsonOption = False,
    profile: ProfileOption = None,
) -> None:
    """Run one wp-cli command in the site: `wplambda wp --stack blog -- plugin list`.

    wp-cli's stdout and stderr are printed as they are and its exit code is this command's; --json
    prints one object (stdout, stderr, exit_code, duration_ms, request_id, truncated) instead.
    """
    cfg = config_mod.load(project)
    with remote.open_target(cfg, stack=stack, local=local, profile=profile,
                            progress=StderrReporter()) as target:
        result = target.wp(list(args or []))
    if json_out:
        print_json(result.to_json())
    else:
        sys.stdout.write(result.stdout)
        sys.stdout.flush()
        sys.stderr.write(result.stderr)
        if result.truncated:
            sys.stderr.write("wplambda: the output was cut to fit Lambda's 6 MB response\n")
    raise typer.Exit(result.exit_code)


def console(
    stack: StackOption = None,
    local: LocalOption = False,
    project: ProjectOption = Path(),
    profile: ProfileOption = None,
) -> None:
    """An interactive wp-cli prompt: each line is one `wp` command (`eval CODE` / `php CODE` run PHP).

    History is kept per project in .wplambda/console_history; Ctrl-D exits.
    """
    cfg = config_mod.load(project)
    with remote.open_target(cfg, stack=stack, local=local, profile=profile,
                            progress=StderrReporter()) as target:
        console_mod.run(target, history=console_mod.history_path(cfg))


def register(app: typer.Typer) -> None:
    extra = {"allow_extra_args": True, "ignore_unknown_options": True}
    app.command(context_settings=extra)(wp)
    app.command()(console)
