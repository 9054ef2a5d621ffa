"""Whether the PHP a deployed site would run is still supported and has its security fixes.

A site on ``php.source = "bref"`` runs the PHP inside Bref's pinned layer: its branch is
``php.version``, and its patch release is what Bref built into that layer (``php-versions.json``
beside the ARNs, :func:`wp_lambda.bref_layers.layer_php_release`). Two facts make such a PHP unfit
for the internet, and both are recorded, with their sources, in ``wp_lambda/data/php_security.json``
(refreshed by ``scripts/refresh_bref_layers.py`` like Bref's data):

- the branch is past its end of life, after which PHP publishes no security fixes for it
  (https://www.php.net/supported-versions.php);
- the patch release is below the one that fixed a known vulnerability (each advisory lists, per
  branch, the first release with the fix).

``validate``, ``doctor`` and the deploy preflight ask :func:`assess` and refuse (exit 2) what it
finds, naming each risk by an identifier (``CVE-...``, or ``PHP-8.2-EOL`` for an ended branch). The
one way past is ``php.accept_vulnerable_php``, which lists those identifiers one by one: it is in the
project file, so it is reviewed like code; a risk found later is refused again until it is listed
too; and each accepted risk prints a warning every time a command checks.

With ``php.source = "dir"`` (PHP binaries of the user's own) or a ``php.layer_arn`` of the user's
own, the kit has no record of the patch release: the branch's end of life is still checked, and a
note names the lowest patched release the user's PHP must be at or above.

Only today's date (UTC) varies; :func:`assess` takes it as ``today`` so tests fix the clock.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from wp_lambda import bref_layers
from wp_lambda.common.errors import UserError
from wp_lambda.config import Config

DATA_FILE = "php_security.json"
ACCEPT_KEY = "php.accept_vulnerable_php"
_RELEASE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


@cache
def data() -> dict[str, Any]:
    """The packaged PHP security facts (end of life per branch, advisories with their fixes)."""
    return dict(json.loads(resources.files("wp_lambda").joinpath("data", DATA_FILE).read_text()))


def release_key(release: str) -> tuple[int, int, int]:
    """``8.3.32`` -> ``(8, 3, 32)``, for comparing releases as numbers (8.3.9 is below 8.3.32)."""
    match = _RELEASE.match(release)
    if not match:
        # Only a hand-edited data file gets here (the refresh script checks the shape): name it,
        # rather than a traceback from validate, doctor or deploy.
        raise UserError(f"{release!r} in Bref's php-versions.json or {DATA_FILE} is not a PHP release such as 8.3.32",
                        "refresh the data with scripts/refresh_bref_layers.py (or unset WPLAMBDA_BREF_DATA)")
    return int(match[1]), int(match[2]), int(match[3])


def branch_of(release: str) -> str:
    major, minor, _ = release_key(release)
    return f"{major}.{minor}"


def eol_id(branch: str) -> str:
    """The identifier an ended branch is refused under (and accepted with)."""
    return f"PHP-{branch}-EOL"


def end_of_life(branch: str, facts: dict[str, Any] | None = None) -> datetime.date | None:
    """The last day PHP supports ``branch`` with security fixes; None when no date is recorded."""
    entry = (facts or data())["branches"].get(branch)
    return datetime.date.fromisoformat(entry["end_of_life"]) if entry else None


def lowest_patched(branch: str, facts: dict[str, Any] | None = None) -> str | None:
    """The first release of ``branch`` with every recorded advisory's fix; None when none applies."""
    fixes = [adv["fixed_in"][branch] for adv in (facts or data())["advisories"] if branch in adv["fixed_in"]]
    return max(fixes, key=release_key) if fixes else None


@dataclass(frozen=True)
class Risk:
    """One reason the PHP is unfit: ``id`` is what the refusal names and the override lists."""

    id: str
    detail: str


def risks(branch: str, release: str | None, today: datetime.date,
          facts: dict[str, Any] | None = None) -> list[Risk]:
    """What is wrong with PHP ``release`` of ``branch`` on ``today``: the branch's end of life when
    past, and every advisory whose fix ``release`` lacks (not judged when ``release`` is None)."""
    facts = facts or data()
    out = []
    ended = end_of_life(branch, facts)
    if ended is not None and today > ended:
        out.append(Risk(eol_id(branch), f"PHP {branch} reached its end of life on {ended}: PHP publishes no "
                        "security fixes for it any more"))
    if release is not None:
        for adv in facts["advisories"]:
            fixed = adv["fixed_in"].get(branch)
            if fixed and release_key(release) < release_key(fixed):
                out.extend(Risk(cve, f"{cve} ({adv['summary']}) is fixed in PHP {fixed}") for cve in adv["ids"])
    return out


@dataclass
class Assessment:
    """What :func:`assess` found for one config: the risks that refuse the deploy, the ones the
    config accepts (each printed as a warning), and notes on what could not be judged."""

    subject: str
    refused: list[Risk] = field(default_factory=list)
    accepted: list[Risk] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fix: str = ""

    @property
    def ok(self) -> bool:
        return not self.refused

    def problem(self) -> str:
        """What is wrong: the subject and each refused risk."""
        return f"{self.subject} is unfit to serve a site: " + "; ".join(risk.detail for risk in self.refused)

    def remedy(self) -> str:
        """The ways out, the override last, with the exact identifiers to list."""
        ids = ", ".join(f'"{risk.id}"' for risk in self.refused)
        return f"{self.fix}; or, only if you accept the risk, set {ACCEPT_KEY} = [{ids}]"

    def refusal(self) -> str:
        """One message: the problem, then ``fix:`` and the remedy."""
        return f"{self.problem()}; fix: {self.remedy()}"

    def warnings(self) -> list[str]:
        """The loud lines printed every time while the config accepts a known risk, then the notes."""
        return [f"WARNING: {self.subject} has a known vulnerability, deployed anyway because {ACCEPT_KEY} "
                f"lists {risk.id}: {risk.detail}" for risk in self.accepted] + self.notes

    def summary(self) -> str:
        """The line for a passing check."""
        return f"{self.subject}: supported and patched" if not self.accepted else \
            f"{self.subject}: {len(self.accepted)} known risks accepted by {ACCEPT_KEY}"


def _patched_branches(config: Config, today: datetime.date) -> list[str]:
    """The other ``php.version`` values whose pinned Bref layer is fine today, for the fix."""
    return [branch for branch in bref_layers.php_versions() if branch != config.php.version
            and (release := bref_layers.layer_php_release(branch, config.aws.architecture)) is not None
            and not risks(branch, release, today)]


def assess(config: Config, today: datetime.date | None = None) -> Assessment:
    """Judge the PHP ``config`` deploys, on ``today`` (default: today's date in UTC)."""
    today = today or datetime.datetime.now(datetime.UTC).date()
    branch = config.php.version
    # Bref's own layer named in php.layer_arn is judged like the pinned one (an older version's
    # release is at most the pinned one's); any other ARN is the user's build.
    bref_arn = bref_layers.pinned_or_older(config.php.layer_arn) \
        if config.php.source == "bref" and config.php.layer_arn else None
    if bref_arn is not None:
        branch = bref_arn[0]
    lowest = lowest_patched(branch)
    own = config.php.source == "dir" or (bool(config.php.layer_arn) and bref_arn is None)
    if own:
        where = "php.dir" if config.php.source == "dir" else "php.layer_arn"
        release = None
        result = Assessment(f"PHP {branch} from {where}")
        result.notes.append(f"PHP {branch} from {where} is your own build: the kit checks its branch's end of life "
                            "but has no record of its patch release"
                            + (f"; keep it at {lowest} or later ({', '.join(_advisory_ids(branch))})" if lowest
                               else ""))
        result.fix = f"use a supported branch (php.version) for the PHP in {where}"
    else:
        if bref_arn is not None:
            name, release = config.php.layer_arn, bref_arn[1]
            result = Assessment(f"Bref's layer {name} from php.layer_arn (PHP {release} or older)")
        else:
            name = bref_layers.layer_name(branch, config.aws.architecture)
            release = bref_layers.layer_php_release(branch, config.aws.architecture)
            result = Assessment(f"Bref's {name} layer (PHP {release or branch + '.?'})")
        source = bref_layers.php_releases_source()
        if release is None:
            result.notes.append(f"Bref's data records no PHP release for its {name} layer: its patch level is "
                                "unchecked; refresh Bref's data (scripts/refresh_bref_layers.py --php-versions)")
        if "read_from" in source:
            result.notes.append(f"WARNING: the PHP releases of Bref's layers were read from {source['read_from']} "
                                f"({bref_layers.DATA_ENV}), not from the kit's packaged data: unset it unless this "
                                "is the test suite's patched fixture")
        others = _patched_branches(config, today)
        result.fix = ("refresh Bref's data from its newest release (scripts/refresh_bref_layers.py, see "
                      "docs/guides/php-security.md), "
                      + (f"choose php.version = {' or '.join(others)} (patched layers)" if others
                         else "or choose another php.version once Bref publishes a patched layer")
                      + ", or set php.source = \"dir\" with a patched PHP of your own")
    if end_of_life(branch) is None:
        result.notes.append(f"no end-of-life date is recorded for PHP {branch}: refresh "
                            f"wp_lambda/data/{DATA_FILE} (scripts/refresh_bref_layers.py --php-security)")
    found = risks(branch, release, today)
    accepted = set(config.php.accept_vulnerable_php)
    result.refused = [risk for risk in found if risk.id not in accepted]
    result.accepted = [risk for risk in found if risk.id in accepted]
    stale = sorted(accepted - {risk.id for risk in found})
    if stale:
        result.notes.append(f"{ACCEPT_KEY} lists {', '.join(stale)}, which no longer applies to {result.subject}: "
                            "remove it")
    return result


def _advisory_ids(branch: str) -> list[str]:
    return [cve for adv in data()["advisories"] if branch in adv["fixed_in"] for cve in adv["ids"]]
