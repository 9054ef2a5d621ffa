"""The options several commands share, each defined once, so a flag means the same in every command.

A command declares the ones it takes as parameters (``stack: StackOption = None``); its ``--help``
then shows the same text everywhere. The rules they carry:

- ``--stack NAME`` is the deployed stack, ``site.name`` from ``wplambda.toml`` when not given
  (:func:`wp_lambda.stack.stack_name`). Commands that can also act on serve's local site take
  ``--local`` instead of it; giving both is refused.
- The AWS-facing commands take no ``--region``: the stack lives in ``aws.region`` of
  ``wplambda.toml``, which the rendered template is made for (its Bref layer ARNs are per region).
  ``init --region`` writes ``aws.region``; ``layers --region`` only picks which ARN to print.
- ``--yes`` never asks: it confirms what the command would ask about, even a deletion.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ProjectOption = Annotated[
    Path, typer.Option("--project", "-C", help="Project directory (where wplambda.toml is).",
                       file_okay=False, resolve_path=True)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]
ProfileOption = Annotated[str | None, typer.Option(
    "--profile", help="AWS profile (default: aws.profile, then the standard boto3 chain).")]
StackOption = Annotated[str | None, typer.Option(
    "--stack", "-s", help="The deployed stack (default: site.name from wplambda.toml).")]
LocalOption = Annotated[bool, typer.Option(
    "--local", help="The local site instead of a deployed stack: the running `wplambda serve`, else the "
                    "private MariaDB started for the command.")]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Never ask: confirm, and take the defaults.")]
ThemeOption = Annotated[bool, typer.Option("--theme", help="A theme instead of a plugin.")]
RotateOriginSecretOption = Annotated[bool, typer.Option(
    "--rotate-origin-secret", help="Replace the secret CloudFront sends to the function, without downtime: the "
                                   "function accepts the old and the new value while CloudFront switches.")]
