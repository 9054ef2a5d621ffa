"""Make the live site's plugin activation and theme match what ``wplambda.toml`` declares.

Planning is a pure function, from the declared state and what ``wp plugin list`` / ``wp theme
list`` report, to a list of actions; executing runs those actions through a target's wp-cli (the
deployed stack's console function, or the local site). Only what the file declares is touched:
a plugin pinned without ``active`` keeps whatever state the site gave it, nothing is installed or
deleted (the build does that), and a second run against an already reconciled site plans nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from wp_lambda.bundle.plugins import KINDS
from wp_lambda.common.errors import UserError
from wp_lambda.config import Config, declared_active
from wp_lambda.remote import Target

ACTIVE = ("active", "active-network")
FIXED = ("must-use", "dropin")  # always loaded: no activation to manage


@dataclass(frozen=True)
class Live:
    """One plugin or theme as wp-cli lists it on the site."""

    slug: str
    status: str
    version: str


@dataclass(frozen=True)
class Action:
    """One wp-cli change; ``was`` is kept so the report says what the site had before."""

    kind: str  # "plugin" or "theme"
    slug: str
    verb: str  # "activate" or "deactivate"
    was: str  # the status before, for the report

    def describe(self) -> str:
        return f"{self.kind} {self.verb} {self.slug} (was {self.was})"


@dataclass
class Plan:
    """The changes to make, and what stops them (a declared item the site does not have)."""

    actions: list[Action] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    skipped: str = ""  # why nothing could be surveyed (WordPress not installed yet)

    def to_dict(self) -> dict[str, Any]:
        return {"actions": [a.__dict__ for a in self.actions], "problems": self.problems, "skipped": self.skipped}


def declares_state(config: Config) -> bool:
    """Whether the file declares any activation at all (otherwise a deploy has nothing to reconcile)."""
    return bool(config.plugins_active or config.active_theme)


def require_wp_cli(config: Config) -> None:
    """Refuse, before a deploy changes anything, declarations the console function could not apply:
    without ``build.wp_cli`` the layer carries no wp-cli."""
    if declares_state(config) and not config.build.wp_cli:
        declared = sorted(config.plugins_active) + ([config.active_theme] if config.active_theme else [])
        raise UserError(f"wplambda.toml declares `active` for {', '.join(declared)}, but build.wp_cli is empty, so "
                        "the deployed site has no wp-cli to apply it with",
                        "set build.wp_cli = \"pinned\" (or a wp-cli.phar path), or deploy with --no-reconcile")


def parse_list(stdout: str, what: str) -> dict[str, Live]:
    """``wp plugin list --format=json`` (or ``theme list``) output, by slug."""
    try:
        rows = json.loads(stdout.strip() or "[]")
    except json.JSONDecodeError:
        raise UserError(f"`wp {what} list --format=json` did not print JSON: {stdout[:200]!r}",
                        "run `wplambda wp` with the same command to see what the site prints") from None
    return {row["name"]: Live(row["name"], row.get("status", ""), row.get("version", "")) for row in rows}


def plan(config: Config, plugins: dict[str, Live], themes: dict[str, Live]) -> Plan:
    """The actions that make ``plugins``/``themes`` (the live site) match the declarations."""
    out = Plan()
    for slug, want in sorted(config.plugins_active.items()):
        live = plugins.get(slug)
        if live is None:
            out.problems.append(f"plugin {slug} is declared active = {str(want).lower()} but is not installed on "
                                "the site; deploy a build that includes it")
        elif live.status in FIXED:
            out.problems.append(f"plugin {slug} is a {live.status} plugin, always loaded; drop its `active`")
        elif want and live.status not in ACTIVE:
            out.actions.append(Action("plugin", slug, "activate", live.status))
        elif not want and live.status in ACTIVE:
            out.actions.append(Action("plugin", slug, "deactivate", live.status))
    if config.active_theme:
        live = themes.get(config.active_theme)
        if live is None:
            out.problems.append(f"theme {config.active_theme} is declared active but is not installed on the site; "
                                "deploy a build that includes it")
        elif live.status != "active":
            out.actions.append(Action("theme", config.active_theme, "activate", live.status))
    return out


def _wp(target: Target, args: list[str]) -> str:
    result = target.wp(args)
    if result.exit_code != 0:
        raise UserError(f"`wp {' '.join(args)}` failed on {target.name} (exit {result.exit_code}): "
                        f"{(result.stderr or result.stdout).strip()[:500]}",
                        "fix the site (see `wplambda plugin status`), then deploy again")
    return result.stdout


def survey(target: Target) -> tuple[dict[str, Live], dict[str, Live]]:
    """What the site has: its plugins and themes with their status and version."""
    fields = "--fields=name,status,version"
    return (parse_list(_wp(target, ["plugin", "list", "--format=json", fields]), "plugin"),
            parse_list(_wp(target, ["theme", "list", "--format=json", fields]), "theme"))


def execute(target: Target, actions: list[Action]) -> None:
    """Run the plan: one wp-cli call per kind and verb (each call is an invocation on Lambda)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for action in actions:
        groups.setdefault((action.kind, action.verb), []).append(action.slug)
    for (kind, verb), slugs in groups.items():
        _wp(target, [kind, verb, *slugs])


def reconcile(config: Config, target: Target, *, dry_run: bool = False) -> Plan:
    """Survey, plan, and (unless ``dry_run``) execute; problems stop it before anything changes.

    A site whose WordPress is not installed yet (a first deploy) has no activation to change:
    that is reported as ``skipped``, not an error, and the next deploy (or ``plugin reconcile``)
    after the install applies the declarations.
    """
    if target.wp(["core", "is-installed"]).exit_code != 0:
        return Plan(skipped=f"WordPress is not installed on the {target.name} yet; after installing it run "
                            "`wplambda plugin reconcile` (or deploy again) to apply the declared states")
    planned = plan(config, *survey(target))
    if planned.problems and not dry_run:
        raise UserError(f"cannot reconcile the {target.name}: " + "; ".join(planned.problems),
                        "the declared plugins and themes must be in the deployed build")
    if not dry_run:
        execute(target, planned.actions)
    return planned


def status(config: Config, plugins: dict[str, Live], themes: dict[str, Live]) -> list[dict[str, Any]]:
    """Pinned, deployed and active side by side: every pinned item, then what the site has unpinned.

    ``declared`` is the file's ``active`` (None: left to the site); ``pending`` is what a reconcile
    would do to the item now.
    """
    pending = {(a.kind, a.slug): a.verb for a in plan(config, plugins, themes).actions}
    rows: list[dict[str, Any]] = []
    for kind, pinned, live_items in (("plugin", config.plugins, plugins), ("theme", config.themes, themes)):
        for slug in [*sorted(pinned), *sorted(set(live_items) - set(pinned))]:
            live = live_items.get(slug)
            declared = declared_active(config, KINDS[kind], slug)
            rows.append({"kind": kind, "slug": slug, "pinned": pinned.get(slug),
                         "deployed": live.version if live else None, "status": live.status if live else None,
                         "declared_active": declared, "pending": pending.get((kind, slug))})
    return rows
