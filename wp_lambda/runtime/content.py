"""wp-content on EFS (``storage.mode = "efs"``): seeding it from the package, and keeping the pinned
plugins and themes in step with ``wplambda.toml`` without touching what was installed from wp-admin.

It runs inside the function (a ``{"wplambda": "content"}`` direct invocation after each deploy,
because only the function can reach the file system) and under ``wplambda serve`` on the local
directory that stands in for EFS; so it is standard library only. The package's own
``wp-content`` (``/var/task/wp-content``) is the source: the build already installed every pinned
plugin and theme there, so nothing has to be uploaded.

What the kit put on the file system is recorded in :data:`STATE_FILE` (slug -> the version it
copied). That record is how a later sync tells the kit's copies from the site owner's: a plugin the
kit copied whose version is still the one it copied may be replaced by a newer pin; anything else
(installed or updated from wp-admin) is never overwritten or deleted, only reported.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE_FILE = ".wplambda-content.json"
KINDS = ("plugins", "themes")
# Seeded once from the package: the code folders. mu-plugins stay in the package (wp-config.php's
# WPMU_PLUGIN_DIR); uploads go to S3.
SEEDED = ("plugins", "themes", "languages")
# WordPress's own header parser (get_file_data) reads the first 8 KB.
_HEADER_BYTES = 8192
_TEMP_PREFIX = ".wplambda-"


def header(path: Path, name: str) -> str | None:
    """A WordPress file header (``Version:``, ``Plugin Name:``) the way get_file_data reads it."""
    try:
        with path.open("rb") as handle:
            text = handle.read(_HEADER_BYTES).decode("utf-8", "replace").replace("\r", "\n")
    except OSError:
        return None
    match = re.search(rf"^[ \t/*#@]*{re.escape(name)}:(.*)$", text, re.M | re.I)
    if not match:
        return None
    value = re.sub(r"\s*(?:\*/|\?>).*", "", match.group(1)).strip()
    return value or None


def _plugin_version(entry: Path) -> str | None:
    if entry.is_file():
        return header(entry, "Version") if header(entry, "Plugin Name") else None
    for main in sorted(entry.glob("*.php")):
        if header(main, "Plugin Name"):
            return header(main, "Version") or ""
    return None


def installed(content_dir: Path, kind: str) -> dict[str, str]:
    """Plugins (or themes) in a wp-content folder: slug -> version ("" when it declares none).

    A plugin is a folder with a PHP file carrying a ``Plugin Name:`` header, or such a single file
    (slug = its name without ``.php``, like WordPress's hello.php); a theme is a folder with a
    ``style.css``. Hidden entries (WordPress skips them too, and the kit's temp copies are hidden)
    are left out.
    """
    found: dict[str, str] = {}
    folder = content_dir / kind
    if not folder.is_dir():
        return found
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if kind == "plugins":
            version = _plugin_version(entry)
            if version is not None:
                found[entry.name.removesuffix(".php") if entry.is_file() else entry.name] = version
        elif (entry / "style.css").is_file():
            found[entry.name] = header(entry / "style.css", "Version") or ""
    return found


def _entry(folder: Path, slug: str) -> Path:
    """The file-system entry of a slug: its folder, or a single-file plugin."""
    directory = folder / slug
    single = folder / f"{slug}.php"
    return single if not directory.exists() and single.is_file() else directory


def _replace(source: Path, target: Path) -> None:
    """Copy ``source`` over ``target`` so that a reader never sees a half-copied plugin: copy into
    a hidden sibling, swap it in with renames, then remove the old copy."""
    temp = target.with_name(f"{_TEMP_PREFIX}new-{target.name}-{os.getpid()}")
    old = target.with_name(f"{_TEMP_PREFIX}old-{target.name}-{os.getpid()}")
    for leftover in (temp, old):
        _remove(leftover)
    if source.is_dir():
        shutil.copytree(source, temp, symlinks=False)
    else:
        shutil.copy2(source, temp)
    if target.exists():
        os.replace(target, old)
    os.replace(temp, target)
    _remove(old)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@dataclass
class SyncReport:
    """What one sync did, for the deploy's output (``--json`` too)."""

    seeded: bool = False
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    # Pinned, but the copy on EFS was installed or changed from wp-admin: left alone.
    kept: list[dict[str, str]] = field(default_factory=list)
    # On EFS, neither pinned nor put there by the kit: installed from wp-admin.
    hand_installed: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_state(content_dir: Path) -> dict[str, dict[str, str]] | None:
    try:
        data = json.loads((content_dir / STATE_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return {kind: dict(data.get(kind, {})) for kind in KINDS}


def _save_state(content_dir: Path, state: dict[str, dict[str, str]]) -> None:
    temp = content_dir / f"{STATE_FILE}.{os.getpid()}.tmp"
    temp.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(temp, content_dir / STATE_FILE)


def sync(source: Path, content_dir: Path, pinned: Mapping[str, Mapping[str, str]]) -> SyncReport:
    """Bring ``content_dir`` (EFS) in step with the package's ``source`` wp-content.

    The first time (no state file) every plugin, theme and language file of the package is
    copied. Later, only the ``pinned`` plugins and themes (``{"plugins": {slug: version}, ...}``)
    are added or updated; nothing is ever deleted.
    """
    content_dir.mkdir(parents=True, exist_ok=True)
    report = SyncReport()
    state = load_state(content_dir)
    if state is None:
        report.seeded = True
        state = {kind: {} for kind in KINDS}
        for folder in SEEDED:
            (content_dir / folder).mkdir(exist_ok=True)
            for entry in sorted((source / folder).iterdir()) if (source / folder).is_dir() else []:
                if not entry.name.startswith(".") and not (content_dir / folder / entry.name).exists():
                    _replace(entry, content_dir / folder / entry.name)
        for kind in KINDS:
            state[kind] = installed(content_dir, kind)
    for kind in KINDS:
        (content_dir / kind).mkdir(exist_ok=True)
        shipped = installed(source, kind)
        on_efs = installed(content_dir, kind)
        for slug, version in sorted(pinned.get(kind, {}).items()):
            if slug not in shipped:
                continue  # the build did not install it (a stale package); nothing to copy
            current, recorded = on_efs.get(slug), state[kind].get(slug)
            name = f"{kind[:-1]} {slug} {version}"
            if current is None:
                _replace(_entry(source / kind, slug), content_dir / kind / _entry(source / kind, slug).name)
                report.added.append(name)
            elif current == shipped[slug]:
                pass  # already this version (perhaps installed from wp-admin, now pinned: adopted)
            elif recorded is not None and current == recorded:
                _replace(_entry(source / kind, slug), _entry(content_dir / kind, slug))
                report.updated.append(f"{name} (was {current})")
            else:
                report.kept.append({"kind": kind[:-1], "slug": slug, "version": current, "pinned": version})
                continue
            state[kind][slug] = shipped[slug]
        for slug, version in installed(content_dir, kind).items():
            if slug not in state[kind] and slug not in pinned.get(kind, {}):
                report.hand_installed.append({"kind": kind[:-1], "slug": slug, "version": version})
    _save_state(content_dir, state)
    return report


def listing(content_dir: Path) -> dict[str, Any]:
    """Every plugin and theme on EFS with its version, and whether the kit put it there."""
    state = load_state(content_dir) or {kind: {} for kind in KINDS}
    return {kind: {slug: {"version": version, "managed": slug in state[kind]}
                   for slug, version in installed(content_dir, kind).items()} for kind in KINDS}
