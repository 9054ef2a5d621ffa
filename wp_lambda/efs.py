"""EFS mode from the operator's side: the sync a deploy (and ``serve``) asks the function for, its
report as lines a person reads, and ``plugin adopt``.

The work on the file system itself happens in the console function (:mod:`wp_lambda.runtime.content`;
it mounts EFS like the site's function, and its timeout allows a first copy of a large wp-content).
This module builds the invocation and reads the answer; :mod:`wp_lambda.remote` sends it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wp_lambda import config as config_mod
from wp_lambda.common.errors import UserError
from wp_lambda.config import Config
from wp_lambda.runtime import contract

Invoke = Callable[[dict[str, Any]], dict[str, Any]]


def sync_event(config: Config) -> dict[str, Any]:
    """The direct invocation that seeds EFS (first time) and syncs the pinned plugins and themes."""
    return {contract.DIRECT_KEY: contract.CONTENT, "action": "sync",
            "pinned": {"plugins": dict(config.plugins), "themes": dict(config.themes)}}


def report_lines(report: dict[str, Any]) -> list[str]:
    """One line per thing the sync did or left alone, most important last (what to do about it)."""
    if not report:
        return []
    lines = []
    if report.get("seeded"):
        lines.append("wp-content seeded on EFS from the package (plugins, themes, languages)")
    lines += [f"added {item}" for item in report.get("added", [])]
    lines += [f"updated {item}" for item in report.get("updated", [])]
    for item in report.get("kept", []):
        lines.append(f"kept {item['kind']} {item['slug']} {item['version']} as it is on EFS (installed or "
                     f"changed from wp-admin); wplambda.toml pins {item['pinned']}")
    for item in report.get("hand_installed", []):
        lines.append(f"installed from wp-admin, not in wplambda.toml: {item['kind']} {item['slug']} "
                     f"{item['version'] or '(no version)'} (pin it: wplambda plugin adopt {item['slug']}"
                     f"{' --theme' if item['kind'] == 'theme' else ''})")
    if len(lines) == (1 if report.get("seeded") else 0):
        lines.append("pinned plugins and themes on EFS are up to date")
    return lines


def require_efs(config: Config) -> None:
    """Refuse EFS-only commands in package mode, before anything is started or invoked for them."""
    if config.storage.mode != "efs":
        raise UserError(f"{config.root / config_mod.CONFIG_FILE}: storage.mode is {config.storage.mode!r}; "
                        "plugins are only installed from wp-admin in EFS mode",
                        "set storage.mode = \"efs\" (needs a VPC network mode) to install plugins from wp-admin")


def adoptable_version(config: Config, slug: str, invoke: Invoke, *, theme: bool = False) -> str:
    """The version of ``slug`` on EFS, which ``plugin adopt`` pins in wplambda.toml.

    ``invoke`` reaches the console function (``wp_lambda.remote``: deployed, or the local one).
    Refused when the plugin is not on EFS, declares no version, or is already pinned (``plugin
    add`` changes a pin).
    """
    require_efs(config)
    kind = "themes" if theme else "plugins"
    listing = invoke({contract.DIRECT_KEY: contract.CONTENT, "action": "list"})
    if "error" in listing:
        raise UserError(f"could not list wp-content on EFS: {listing['error']}")
    found = listing.get(kind, {})
    label = kind[:-1]
    if slug not in found:
        on_efs = ", ".join(sorted(found)) or "none"
        raise UserError(f"no {label} {slug!r} on EFS (there: {on_efs})",
                        f"install it from wp-admin first, or pin it from the mirror: wplambda plugin add {slug}")
    version = found[slug]["version"]
    if not version:
        raise UserError(f"the {label} {slug!r} on EFS declares no Version: header, so it cannot be pinned",
                        "pin a released version with `wplambda plugin add SLUG --version X.Y.Z`")
    pinned = getattr(config, kind)
    if slug in pinned:
        raise UserError(f"{config.root / config_mod.CONFIG_FILE}: {kind}.{slug} is already pinned at {pinned[slug]}",
                        f"change the pin with `wplambda plugin add {slug} --version {version}`")
    return version
