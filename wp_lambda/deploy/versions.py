"""The site function's published versions: ``rollback``, the drift it leaves, and pruning after a deploy.

The ``live`` alias belongs to the stack (SAM's ``AutoPublishAlias``): CloudFormation points it at
the version the stack publishes, and only when that version changes. ``wplambda rollback`` moves it
outside CloudFormation, so a deploy of the same build (no stack change, or a change that publishes
no version) would leave the site on the older code while the stack says otherwise. The drift is
recorded where it happens, in the alias's own Description (UpdateAlias sets it; CloudFormation's
alias resource does not use it): the version the stack deployed, and the one rollback moved to.
Every deploy then reconciles it (:func:`restore`): an alias still at the rolled-back version goes
back to the deployed one; one CloudFormation has since moved (a new version) just loses the mark.
This works the same on AWS and moto, and needs neither a template parameter nor a stack update for
the rollback, which would take minutes where UpdateAlias takes one call.
https://docs.aws.amazon.com/lambda/latest/api/API_UpdateAlias.html
https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-resource-function.html#sam-function-autopublishalias

Pruning: SAM keeps every version it publishes (its Version resources are retained), and with
SnapStart each published version keeps a cached snapshot that is billed for as long as the version
exists; deleting the version deletes its snapshot. So after each deploy the newest
``function.versions_kept`` versions stay, together with every version an alias points at (with its
routing config's extra version) and the one ``rollback`` would move each alias to; older ones are
deleted (``DeleteFunction`` with a version as Qualifier).
https://docs.aws.amazon.com/lambda/latest/dg/snapstart.html#snapstart-pricing
https://docs.aws.amazon.com/lambda/latest/dg/snapstart-activate.html#snapshot-delete
https://docs.aws.amazon.com/lambda/latest/api/API_DeleteFunction.html
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from wp_lambda import stack as stack_mod
from wp_lambda.aws import error_code
from wp_lambda.common.errors import UserError

# The alias Description rollback writes (at most 256 characters, as UpdateAlias allows).
ROLLBACK_MARK = "wplambda rollback: deployed version {deployed}, rolled back to {rolled_back}"
_MARK_RE = re.compile(r"wplambda rollback: deployed version ([1-9][0-9]*), rolled back to ([1-9][0-9]*)")


@dataclass(frozen=True)
class Pruned:
    """What pruning kept and deleted (version numbers, oldest first); ``dry_run``: nothing was deleted."""

    kept: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    dry_run: bool = False

    def summary(self) -> dict[str, Any]:
        return {"kept": len(self.kept), "kept_versions": self.kept, "deleted": self.deleted, "dry_run": self.dry_run}

    def line(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        kept = ", ".join(map(str, self.kept)) or "none"
        gone = f"; {verb} {', '.join(map(str, self.deleted))}" if self.deleted else ""
        return f"function versions: kept {len(self.kept)} ({kept}){gone}"


def _alias(lam: Any, function: str) -> dict[str, Any] | None:
    try:
        return dict(lam.get_alias(FunctionName=function, Name=stack_mod.FUNCTION_ALIAS))
    except Exception as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise


def published(lam: Any, function: str) -> list[int]:
    """The function's published version numbers, oldest first ($LATEST is not one)."""
    found: list[int] = []
    for page in lam.get_paginator("list_versions_by_function").paginate(FunctionName=function):
        found += [int(v["Version"]) for v in page["Versions"] if v["Version"].isdigit()]
    return sorted(found)


def deployed_version(alias: dict[str, Any]) -> str:
    """The version the stack deployed: the alias's own, unless a rollback marked it as moved."""
    mark = _MARK_RE.fullmatch(alias.get("Description") or "")
    if mark and mark.group(2) == alias["FunctionVersion"]:
        return mark.group(1)
    return str(alias["FunctionVersion"])


def rollback(lam: Any, function: str) -> tuple[str, str]:
    """Point the ``live`` alias at the published version before its current one; returns (old, new).

    The alias's Description records the deployed version (kept through several rollbacks in a row),
    which the next deploy moves it back to (:func:`restore`).
    """
    alias = _alias(lam, function)
    if alias is None:
        raise UserError(f"{function} has no {stack_mod.FUNCTION_ALIAS!r} alias",
                        "deploy with the kit's template (AutoPublishAlias: live)")
    current = str(alias["FunctionVersion"])
    earlier = [v for v in published(lam, function) if current.isdigit() and v < int(current)]
    if not earlier:
        raise UserError(f"{function}:{stack_mod.FUNCTION_ALIAS} is at version {current}; there is no earlier one",
                        "nothing to roll back to")
    previous = str(max(earlier))
    lam.update_alias(FunctionName=function, Name=stack_mod.FUNCTION_ALIAS, FunctionVersion=previous,
                     Description=ROLLBACK_MARK.format(deployed=deployed_version(alias), rolled_back=previous))
    return current, previous


def restore(lam: Any, function: str, *, dry_run: bool) -> str | None:
    """Undo a rollback's drift after a deploy; returns what was (or would be) done, or None.

    Called once the stack is what this deploy wants: if the alias is still where a rollback put it,
    CloudFormation did not move it, so the deployed version is still the one the mark names.
    """
    alias = _alias(lam, function)
    if alias is None:
        return None
    mark = _MARK_RE.fullmatch(alias.get("Description") or "")
    if mark is None:
        return None
    deployed, rolled_back = mark.groups()
    name = stack_mod.FUNCTION_ALIAS
    if alias["FunctionVersion"] != rolled_back:
        if not dry_run:
            lam.update_alias(FunctionName=function, Name=name, Description="")
        return None  # CloudFormation moved it to a new version: the rollback is over
    if not dry_run:
        lam.update_alias(FunctionName=function, Name=name, FunctionVersion=deployed, Description="")
    verb = "would move" if dry_run else "moved"
    return (f"alias {name} was rolled back to version {rolled_back} (`wplambda rollback`): {verb} it back to "
            f"version {deployed}, the one the stack deployed")


def prune(lam: Any, function: str, keep: int, *, dry_run: bool) -> Pruned:
    """Delete the published versions outside the rollback window (module docstring); ``keep`` >= 2."""
    versions = published(lam, function)
    protected: set[int] = set()
    for page in lam.get_paginator("list_aliases").paginate(FunctionName=function):
        for alias in page["Aliases"]:
            targets = [alias["FunctionVersion"],
                       *(alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights", {})]
            for target in (int(t) for t in targets if str(t).isdigit()):
                protected.add(target)
                earlier = [v for v in versions if v < target]
                if earlier:
                    protected.add(max(earlier))  # where `wplambda rollback` would move this alias
    kept = sorted(set(versions[-keep:]) | (protected & set(versions)))
    deleted = [v for v in versions if v not in kept]
    if dry_run:
        return Pruned(kept=kept, deleted=deleted, dry_run=True)
    gone: list[int] = []
    for version in deleted:
        try:
            lam.delete_function(FunctionName=function, Qualifier=str(version))
            gone.append(version)
        except Exception as exc:
            # Something outside the kit uses it (an alias made since the listing, an event source
            # mapping): it stays, and the next deploy tries again.
            if error_code(exc) != "ResourceConflictException":
                raise
    return Pruned(kept=sorted(set(versions) - set(gone)), deleted=gone)
