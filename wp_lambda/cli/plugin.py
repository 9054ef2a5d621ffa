"""``plugin add/remove/list/outdated/update/status``: the plugins and themes ``wplambda.toml`` pins.

Parsing and printing only: the edits live in :mod:`wp_lambda.plugins.pins`, the comparison with
the live site in :mod:`wp_lambda.plugins.reconcile`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wp_lambda import bundle as build_mod
from wp_lambda import config as config_mod
from wp_lambda import remote
from wp_lambda.bundle.plugins import KINDS
from wp_lambda.cli.app import ConsoleReporter, StderrReporter, out, print_build_result, print_json, print_reconciled
from wp_lambda.cli.options import (
    DryRunOption,
    JsonOption,
    LocalOption,
    ProfileOption,
    ProjectOption,
    StackOption,
    ThemeOption,
)
from wp_lambda.common.errors import UserError
from wp_lambda.plugins import pins, reconcile

plugin_app = typer.Typer(help="Pin plugins (or themes) in wplambda.toml; they are installed at build time, "
                              "checked against wplambda.lock, and activated as declared after each deploy.",
                         no_args_is_help=True)
NoBuildOption = Annotated[bool, typer.Option("--no-build", help="Only edit wplambda.toml and wplambda.lock.")]


def _rebuild(cfg: config_mod.Config, no_build: bool) -> None:
    if not no_build:
        print_build_result(build_mod.build(cfg, progress=ConsoleReporter()))


@plugin_app.command("add")
def plugin_add(
    name: Annotated[str, typer.Argument(help="wordpress.org slug, e.g. akismet.")],
    version: Annotated[str | None, typer.Option(help="Pinned version (default: the latest the directory API "
                                                     "(build.plugin_api) states, or the newest in a local "
                                                     "mirror directory).")] = None,
    theme: ThemeOption = False,
    active: Annotated[bool | None, typer.Option("--active/--inactive", help="Declare it active (or, for a "
                                                "plugin, inactive): each deploy makes the site match.",
                                                show_default=False)] = None,
    no_build: NoBuildOption = False,
    project: ProjectOption = Path(),
) -> None:
    """Pin a plugin (or theme) in wplambda.toml and record its zip in wplambda.lock, then rebuild."""
    kind = "theme" if theme else "plugin"
    cfg, pinned = pins.add(config_mod.load(project), kind, name, version, ConsoleReporter(), active)
    out.print(f"pinned {KINDS[kind]}.{name} = \"{pinned}\"", highlight=False)
    _rebuild(cfg, no_build)


@plugin_app.command("remove")
def plugin_remove(
    name: Annotated[str, typer.Argument(help="The slug to unpin.")],
    theme: ThemeOption = False,
    no_build: NoBuildOption = False,
    project: ProjectOption = Path(),
) -> None:
    """Unpin a plugin (or theme) from wplambda.toml and wplambda.lock, then rebuild."""
    kind = "theme" if theme else "plugin"
    cfg = pins.remove(config_mod.load(project), kind, name, ConsoleReporter())
    out.print(f"removed {KINDS[kind]}.{name}", highlight=False)
    _rebuild(cfg, no_build)


@plugin_app.command("list")
def plugin_list(project: ProjectOption = Path(), json_output: JsonOption = False) -> None:
    """The pinned plugins and themes, and what the last build installed."""
    rows = pins.listing(config_mod.load(project))
    if json_output:
        print_json(rows)
        return
    if not rows:
        out.print("no plugins or themes pinned (add one: wplambda plugin add SLUG)")
    for row in rows:
        sha = row["built_sha256"][:16] if row["built_sha256"] else "not built yet"
        print(f"{row['kind']:<7} {row['slug']:<30} {row['version']:<12} {sha}")


@plugin_app.command("outdated")
def plugin_outdated(project: ProjectOption = Path(), json_output: JsonOption = False) -> None:
    """Each pinned plugin and theme against the latest release (build.plugin_api, or a local mirror)."""
    found = pins.check(config_mod.load(project))
    if json_output:
        print_json([{"kind": p.kind, "slug": p.slug, "pinned": p.pinned, "latest": p.latest, "outdated": p.outdated}
                    for p in found])
        return
    if not found:
        out.print("no plugins or themes pinned")
    for pin in found:
        mark = "outdated" if pin.outdated else "up to date"
        print(f"{pin.kind:<7} {pin.slug:<30} {pin.pinned:<12} -> {pin.latest:<12} {mark}")


@plugin_app.command("update")
def plugin_update(
    names: Annotated[list[str] | None, typer.Argument(help="Slugs to re-pin (or --all).", show_default=False)]
    = None,
    all_pinned: Annotated[bool, typer.Option("--all", help="Every pinned plugin and theme.")] = False,
    theme: ThemeOption = False,
    no_build: NoBuildOption = False,
    project: ProjectOption = Path(),
    json_output: JsonOption = False,
) -> None:
    """Re-pin plugins (or themes) to their latest release, update wplambda.lock, then rebuild."""
    if bool(names) == all_pinned:
        raise UserError("say what to update: one or more slugs, or --all", "e.g. wplambda plugin update akismet")
    cfg = config_mod.load(project)
    targets = None if all_pinned else pins.resolve(cfg, list(names or []), theme)
    cfg, moved = pins.update(cfg, targets, ConsoleReporter(quiet=json_output))
    if json_output:
        built = None
        if moved and not no_build:
            built = str(build_mod.build(cfg, progress=ConsoleReporter(quiet=True)).root)
        print_json({"updated": [{"kind": p.kind, "slug": p.slug, "from": p.pinned, "to": p.latest} for p in moved],
                    "built": built})
        return
    if not moved:
        out.print("everything is at its latest version: nothing to update")
    for pin in moved:
        out.print(f"updated {KINDS[pin.kind]}.{pin.slug}: {pin.pinned} -> {pin.latest}", highlight=False)
    if moved:
        _rebuild(cfg, no_build)


@plugin_app.command("status")
def plugin_status(
    stack: StackOption = None,
    local: LocalOption = False,
    project: ProjectOption = Path(),
    json_output: JsonOption = False,
    profile: ProfileOption = None,
) -> None:
    """Pinned, deployed and active side by side, read from the site with wp-cli (the stack, or --local)."""
    cfg = config_mod.load(project)
    with remote.open_target(cfg, stack=stack, local=local, profile=profile,
                            progress=StderrReporter()) as target:
        rows = reconcile.status(cfg, *reconcile.survey(target))
    if json_output:
        print_json({"target": target.name, "items": rows})
        return
    print(f"{'kind':<7} {'slug':<28} {'pinned':<12} {'deployed':<12} {'status':<10} {'declared':<9} pending")

    def show(value: object) -> str:
        return "-" if value is None else str(value).lower() if isinstance(value, bool) else str(value)

    for row in rows:
        print(f"{row['kind']:<7} {row['slug']:<28} {show(row['pinned']):<12} {show(row['deployed']):<12} "
              f"{show(row['status']):<10} {show(row['declared_active']):<9} {show(row['pending'])}")


@plugin_app.command("reconcile")
def plugin_reconcile(
    stack: StackOption = None,
    local: LocalOption = False,
    dry_run: DryRunOption = False,
    project: ProjectOption = Path(),
    json_output: JsonOption = False,
    profile: ProfileOption = None,
) -> None:
    """Activate or deactivate plugins and switch the theme as wplambda.toml declares (`active`);
    deploy does this itself, this is for a site installed after its first deploy, or the local one."""
    cfg = config_mod.load(project)
    with remote.open_target(cfg, stack=stack, local=local, profile=profile,
                            progress=StderrReporter()) as target:
        plan = reconcile.reconcile(cfg, target, dry_run=dry_run)
    if json_output:
        print_json({"target": target.name, "dry_run": dry_run, **plan.to_dict()})
    else:
        print_reconciled(plan, dry_run=dry_run)


def register(app: typer.Typer) -> None:
    app.add_typer(plugin_app, name="plugin")
