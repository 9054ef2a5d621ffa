"""``wplambda.lock``: the sha256 of every pinned plugin and theme zip, checked on every build.

A version number says nothing about the bytes behind it: a mirror, a compromised author account
or a re-tagged release can serve different code under the same ``slug.version.zip``. The first
build (or ``plugin add``/``update``) records what it got; from then on a zip whose bytes differ
under the same version stops the build with exit 2 before anything is installed or written,
because that is a supply-chain warning, not an update. Re-pinning to a new version replaces the
entry; the lock is meant to be committed next to ``wplambda.toml``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from wp_lambda.common.errors import UserError
from wp_lambda.common.files import write_if_changed
from wp_lambda.config import Config

LOCK_FILE = "wplambda.lock"
FORMAT = 1
TABLES = {"plugin": "plugins", "theme": "themes"}

# kind -> slug -> {"version", "sha256"}
Entries = dict[str, dict[str, dict[str, str]]]


def path(config: Config) -> Path:
    return config.root / LOCK_FILE


def read(config: Config) -> Entries:
    """The recorded entries; an absent lock is empty (the next build writes it)."""
    file = path(config)
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        return {kind: {} for kind in TABLES}
    except json.JSONDecodeError as exc:
        raise UserError(f"{file} is not valid JSON ({exc})",
                        "restore it from version control, or delete it to record the zips afresh") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UserError(f"{file}: unknown lock format {data.get('format') if isinstance(data, dict) else data!r}",
                        f"this wplambda writes format {FORMAT}; upgrade wplambda, or delete the file to re-record")
    return {kind: dict(data.get(table, {})) for kind, table in TABLES.items()}


def verify(entries: Entries, kind: str, slug: str, version: str, sha256: str, source: str) -> None:
    """Refuse a zip whose bytes differ from the ones recorded for the same version."""
    recorded = entries.get(kind, {}).get(slug)
    if recorded is None or recorded.get("version") != version or recorded.get("sha256") == sha256:
        return
    raise UserError(
        f"{LOCK_FILE}: {TABLES[kind]}.{slug} {version} has changed: {source} has sha256 {sha256}, "
        f"but the lock recorded {recorded['sha256']} for the same version. Nothing was installed or written",
        "this may be a tampered mirror or a re-released version: find out why the bytes changed; if the new zip "
        f"is trusted, delete the {slug} entry from {LOCK_FILE} (or pin another version) and build again")


def merged(config: Config, entries: Entries, fresh: Iterable[dict[str, Any]]) -> Entries:
    """The lock after a build or a re-pin: exactly the pinned items, with ``fresh`` (manifest-style
    ``{kind, slug, version, sha256}`` rows) replacing what they cover."""
    out: Entries = {kind: {} for kind in TABLES}
    for kind, table in TABLES.items():
        for slug, version in getattr(config, table).items():
            old = entries.get(kind, {}).get(slug)
            if old and old.get("version") == version:
                out[kind][slug] = {"version": version, "sha256": old["sha256"]}
    for row in fresh:
        if getattr(config, TABLES[row["kind"]]).get(row["slug"]) == row["version"]:
            out[row["kind"]][row["slug"]] = {"version": row["version"], "sha256": row["sha256"]}
    return out


def agrees(entries: Entries, built: Iterable[dict[str, Any]]) -> bool:
    """Whether a previous build's zips are exactly the locked ones (so skipping the build is safe)."""
    return all(entries.get(row["kind"], {}).get(row["slug"]) == {"version": row["version"], "sha256": row["sha256"]}
               for row in built)


def write(config: Config, entries: Entries) -> bool:
    """Write the lock atomically (sorted, so it diffs well); untouched when nothing changed, and
    not created for a project that pins nothing."""
    if not any(entries.values()) and not path(config).exists():
        return False
    data: dict[str, Any] = {"format": FORMAT,
                            "comment": "sha256 of each pinned zip, written by wplambda; commit it, never edit it"}
    for kind, table in TABLES.items():
        data[table] = {slug: entries[kind][slug] for slug in sorted(entries[kind])}
    return write_if_changed(path(config), json.dumps(data, indent=2, sort_keys=True) + "\n")
