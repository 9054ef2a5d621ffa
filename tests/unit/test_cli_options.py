"""The shared options mean one thing in every command (wp_lambda/cli/options.py defines them once).

Read from the typer app itself, in-process: a command that declared its own ``--stack`` with
another default or help, or brought back an AWS ``--region``, fails here by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer

from wp_lambda.cli import app

# --region only where it is not the AWS session's region: `init` writes aws.region with it and
# `layers` prints the ARN of the region it names.
REGION_IS_DATA = {"init", "layers"}


# click's classes are not named: typer >= 0.29 builds the commands from its own copy of click.
def _commands(group: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


def _option(command: Any, flag: str) -> Any:
    return next((p for p in command.params if p.param_type_name == "option" and flag in p.opts), None)


COMMANDS = dict(_commands(typer.main.get_command(app)))


def test_stack_is_one_option_with_one_default_everywhere() -> None:
    stacks = {name: _option(command, "--stack") for name, command in COMMANDS.items()}
    found = {name: option for name, option in stacks.items() if option is not None}
    assert {"deploy", "destroy", "status", "wp", "export", "import", "plugin adopt", "plugin status"} <= set(found)
    for name, option in found.items():
        assert (option.opts, option.required, option.default) == (["--stack", "-s"], False, None), name
        assert option.help == "The deployed stack (default: site.name from wplambda.toml).", name


# Where --local has no deployed counterpart: SES keeps no copy of the mail it sent.
LOCAL_ONLY = {"mail list", "mail show"}


def test_local_comes_with_stack() -> None:
    for name, command in COMMANDS.items():
        if _option(command, "--local") is not None and name not in LOCAL_ONLY:
            assert _option(command, "--stack") is not None, name


def test_no_aws_command_takes_region() -> None:
    with_region = {name for name, command in COMMANDS.items() if _option(command, "--region") is not None}
    assert with_region == REGION_IS_DATA


def test_shared_options_have_one_help_text() -> None:
    for flag in ("--project", "--json", "--profile", "--dry-run", "--yes"):
        helps = {name: option.help for name, command in COMMANDS.items()
                 if (option := _option(command, flag)) is not None}
        assert len(helps) >= 2 and len(set(helps.values())) == 1, (flag, helps)
