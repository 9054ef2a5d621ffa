"""``plugin adopt``: pin a plugin (or theme) installed from wp-admin at the version on EFS.

Registered on the ``plugin`` sub-app (:data:`wp_lambda.cli.plugin.plugin_app`) by its own module, so
the ``plugin`` commands can move without touching this one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from wp_lambda import config as config_mod
from wp_lambda import efs, remote
from wp_lambda.cli.app import ConsoleReporter, out, print_json
from wp_lambda.cli.options import JsonOption, LocalOption, ProfileOption, ProjectOption, StackOption, ThemeOption
from wp_lambda.plugins import pins


def adopt(
    slug: Annotated[str, typer.Argument(help="The plugin's (or theme's) folder name on EFS.")],
    theme: ThemeOption = False,
    stack: StackOption = None,
    local: LocalOption = False,
    profile: ProfileOption = None,
    project: ProjectOption = Path(),
    json_output: JsonOption = False,
) -> None:
    """Pin a plugin installed from wp-admin (storage.mode = "efs") at the version on EFS.

    It reads EFS of the deployed stack, or with --local the local site's .wplambda/local/efs.
    Later deploys then keep it in step with wplambda.toml; the build installs it from
    build.plugin_mirror, which must have that version.
    """
    cfg = config_mod.load(project)
    efs.require_efs(cfg)  # before a local console session is started for nothing
    with remote.open_target(cfg, stack=stack, local=local, profile=profile,
                            progress=ConsoleReporter(quiet=json_output)) as target:
        version = efs.adoptable_version(cfg, slug, target.invoke, theme=theme)
    table = "themes" if theme else "plugins"
    pins.pin_found(cfg, table[:-1], slug, version)
    where = "the local EFS directory (.wplambda/local/efs)" if local else f"EFS of {target.name}"
    result: dict[str, Any] = {"kind": table[:-1], "slug": slug, "version": version, "source": where}
    if json_output:
        print_json(result)
        return
    out.print(f"pinned {table[:-1]} {slug} = \"{version}\" in wplambda.toml (the version on {where}); "
              "the next build installs it from build.plugin_mirror")


def register(plugin_app: typer.Typer) -> None:
    plugin_app.command("adopt")(adopt)
