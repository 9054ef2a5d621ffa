"""``plugin adopt``: pin a plugin (or theme) installed from wp-admin at the version on EFS.

Registered on the ``plugin`` sub-app (:data:`wp_lambda.cli.build.plugin_app`) by its own module, so
the ``plugin`` commands can move without touching this one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from wp_lambda import config as config_mod
from wp_lambda import efs
from wp_lambda.aws import aws_errors, connect
from wp_lambda.cli.app import JsonOption, ProjectOption, out, print_json
from wp_lambda.cli.build import ThemeOption, _edit
from wp_lambda.cli.deploy import ProfileOption, RegionOption
from wp_lambda.deploy import stack as stack_mod
from wp_lambda.errors import UserError
from wp_lambda.runtime.content import CONTENT_DIR_ENV


def _local_invoker(cfg: config_mod.Config) -> efs.Invoke:
    """``serve``'s file system, read by the same handler code a deployed function runs."""
    from wp_lambda.build import output_dir
    from wp_lambda.runtime.handler import Runtime
    from wp_lambda.serve import LocalPaths

    mounted = LocalPaths.of(cfg).efs

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        if not mounted.is_dir():
            raise UserError(f"no local EFS directory {mounted}", "run `wplambda serve` once, or pass --stack NAME")
        runtime = Runtime({"WPLAMBDA_DOCUMENT_ROOT": str(output_dir(cfg, "serve") / "function"),
                           CONTENT_DIR_ENV: str(mounted)})
        return runtime.handle(event, None)

    return invoke


def adopt(
    slug: Annotated[str, typer.Argument(help="The plugin's (or theme's) folder name on EFS.")],
    theme: ThemeOption = False,
    stack: Annotated[str | None, typer.Option("--stack", "-s", help="Read EFS of this deployed stack "
                                              "(default: serve's local .wplambda/local/efs).")] = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    project: ProjectOption = Path(),
    json_output: JsonOption = False,
) -> None:
    """Pin a plugin installed from wp-admin (storage.mode = "efs") at the version on EFS.

    Later deploys then keep it in step with wplambda.toml; the build installs it from
    build.plugin_mirror, which must have that version.
    """
    cfg = config_mod.load(project)
    if stack is None:
        where, invoke = "serve's local EFS directory", _local_invoker(cfg)
    else:
        aws = connect(cfg, profile=profile, region=region)

        def invoke(event: dict[str, Any]) -> dict[str, Any]:
            outputs = stack_mod.outputs(stack_mod.require(aws.client("cloudformation"), stack))
            return efs.deployed_invoker(aws, outputs, stack)(event)

        where = f"EFS of stack {stack}"
    with aws_errors():
        version = efs.adoptable_version(cfg, slug, invoke, theme=theme)
    table = "themes" if theme else "plugins"
    _edit(cfg.root, "add", table, slug, version)
    result: dict[str, Any] = {"kind": table[:-1], "slug": slug, "version": version, "source": where}
    if json_output:
        print_json(result)
        return
    out.print(f"pinned {table[:-1]} {slug} = \"{version}\" in wplambda.toml (the version on {where}); "
              "the next build installs it from build.plugin_mirror")


def register(plugin_app: typer.Typer) -> None:
    plugin_app.command("adopt")(adopt)
