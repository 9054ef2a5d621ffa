"""Changing what ``wplambda.toml`` pins: ``plugin add``, ``remove``, ``outdated`` and ``update``.

Edits go through tomlkit so the user's comments, order and formatting survive, an entry written
as ``{ version = "...", active = true }`` keeps its table and its ``active``, and the new text is
validated (and its zips fetched and checked against ``wplambda.lock``) before one atomic write.
The lock is updated in the same step, so ``--no-build`` still leaves a lock that matches the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import tomlkit

from wp_lambda import config as config_mod
from wp_lambda.bundle import lock, output_dir, read_manifest
from wp_lambda.bundle.plugins import KINDS, download, mirror
from wp_lambda.common import fetch
from wp_lambda.common.errors import UserError
from wp_lambda.common.files import atomic_write
from wp_lambda.common.report import Reporter
from wp_lambda.config import Config
from wp_lambda.plugins import directory

# (kind, slug) -> the new pinned version, or None to unpin.
Changes = dict[tuple[str, str], str | None]


@dataclass(frozen=True)
class Pin:
    """One pinned item against the newest release the directory (or a local mirror) offers."""

    kind: str
    slug: str
    pinned: str
    latest: str

    @property
    def outdated(self) -> bool:
        return directory.version_key(self.latest) > directory.version_key(self.pinned)


def _edited(config: Config, changes: Changes,
            active: dict[tuple[str, str], bool] | None = None) -> tuple[str, Config]:
    """wplambda.toml's text with ``changes`` made (comments kept), and the config it parses to;
    raises ConfigError, before anything is written, when the result is not valid."""
    path = config.root / config_mod.CONFIG_FILE
    doc = tomlkit.parse(path.read_text())
    for (kind, slug), version in changes.items():
        table = KINDS[kind]
        if table not in doc:
            doc.add(table, tomlkit.table())
        section = doc[table]
        if version is None:
            if slug not in section:
                raise UserError(f"{path}: {table}.{slug} is not pinned", "see `wplambda plugin list`")
            del section[slug]
        elif active and (kind, slug) in active:
            section[slug] = config_mod.pin_value(version, active[(kind, slug)])
        elif isinstance(section.get(slug), dict):
            section[slug]["version"] = version
        else:
            section[slug] = version
    text = tomlkit.dumps(doc)
    return text, config_mod.parse(text, root=config.root, path=path)


def apply(config: Config, changes: Changes, reporter: Reporter,
          active: dict[tuple[str, str], bool] | None = None) -> Config:
    """Write ``changes`` into wplambda.toml and the lock; nothing is written unless all of it is valid
    and every newly pinned zip is fetched and passes the lock. ``active`` declares states too."""
    path = config.root / config_mod.CONFIG_FILE
    text, new = _edited(config, changes, active)
    locked = lock.read(new)
    fetched = []
    base = mirror(new) if any(v is not None for v in changes.values()) else ""
    for (kind, slug), version in changes.items():
        if version is not None:
            archive = download(base, kind, slug, version, reporter, locked)
            fetched.append({"kind": kind, "slug": slug, "version": version, "sha256": fetch.file_digest(archive)})
    atomic_write(path, text)
    lock.write(new, lock.merged(new, locked, fetched))
    return new


def newest(config: Config, kind: str, slug: str) -> str:
    """The version ``plugin add`` without ``--version`` pins: the directory API's latest, or the
    highest in the mirror when the mirror is a local directory (a build can only install those)."""
    base = mirror(config)
    if fetch.is_url(base):
        return directory.latest(config, kind, slug).version
    return directory.newest_in_directory(Path(base), kind, slug)


def add(config: Config, kind: str, slug: str, version: str | None, reporter: Reporter,
        active: bool | None = None) -> tuple[Config, str]:
    """Pin ``slug`` (to ``version``, else the newest; ``active`` declares its state); returns the new
    config and the pinned version."""
    chosen = version or newest(config, kind, slug)
    states = {(kind, slug): active} if active is not None else None
    return apply(config, {(kind, slug): chosen}, reporter, states), chosen


def pin_found(config: Config, kind: str, slug: str, version: str) -> Config:
    """Pin ``slug`` at a version found on a site (``plugin adopt``) without fetching its zip: the
    mirror may not have it yet, and the next build fetches it and records it in the lock."""
    text, new = _edited(config, {(kind, slug): version})
    atomic_write(config.root / config_mod.CONFIG_FILE, text)
    return new


def remove(config: Config, kind: str, slug: str, reporter: Reporter) -> Config:
    return apply(config, {(kind, slug): None}, reporter)


def pinned(config: Config) -> list[tuple[str, str, str]]:
    """(kind, slug, version) of everything pinned, plugins first."""
    return [(kind, slug, version) for kind, table in KINDS.items()
            for slug, version in sorted(getattr(config, table).items())]


def listing(config: Config) -> list[dict[str, str | None]]:
    """Everything pinned, with the sha256 of the zip the last deploy build installed (None when
    that build has not run since it was pinned): what ``plugin list`` shows."""
    manifest = read_manifest(output_dir(config, "deploy")) or {}
    built = {(p["kind"], p["slug"]): p for p in manifest.get("inputs", {}).get("plugins", [])}
    return [{"kind": kind, "slug": slug, "version": version,
             "built_sha256": built.get((kind, slug), {}).get("sha256")}
            for kind, slug, version in pinned(config)]


def check(config: Config, only: Iterable[tuple[str, str]] | None = None) -> list[Pin]:
    """Each pinned item (or those in ``only``) against the newest release."""
    wanted = set(only) if only is not None else None
    return [Pin(kind, slug, version, newest(config, kind, slug))
            for kind, slug, version in pinned(config) if wanted is None or (kind, slug) in wanted]


def resolve(config: Config, slugs: list[str], theme: bool) -> list[tuple[str, str]]:
    """The (kind, slug) pairs ``plugin update SLUG...`` means; an unpinned slug is an error."""
    kind = "theme" if theme else "plugin"
    table = getattr(config, KINDS[kind])
    missing = [slug for slug in slugs if slug not in table]
    if missing:
        raise UserError(f"{config.root / config_mod.CONFIG_FILE}: {KINDS[kind]}.{missing[0]} is not pinned",
                        f"pin it first: wplambda plugin add {missing[0]}{' --theme' if theme else ''}")
    return [(kind, slug) for slug in slugs]


def update(config: Config, targets: list[tuple[str, str]] | None, reporter: Reporter) -> tuple[Config, list[Pin]]:
    """Re-pin ``targets`` (None: everything) to their newest releases; returns what moved."""
    moved = [pin for pin in check(config, targets) if pin.outdated]
    if not moved:
        return config, []
    return apply(config, {(p.kind, p.slug): p.latest for p in moved}, reporter), moved
