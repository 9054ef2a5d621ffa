"""The build's refusal to ship private files, and ``build.exclude``, which drops files on purpose.

A database dump, an archive, a backup or a copy of ``wp-config.php`` in the WordPress source is a
leak waiting to happen: shipped in the function zip it sits in an S3 bucket and on every
instance, and a deny-list elsewhere is all that keeps it from visitors. So the build stops
instead (exit 2, nothing written) and names each file; the user removes it, or lists it in
``build.exclude`` when it is meant to stay in the source (a plugin's test data, say). What counts
as private is :func:`wp_lambda.runtime.private.kind`, the rule the handler also serves by.

The check runs on the assembled function tree, so it covers core, themes and the plugins the kit
unpacks from their zips (the zips themselves are never kept), with paths laid out as in the
WordPress source, which is what ``build.exclude`` globs are relative to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from wp_lambda.bundle.tree import walk
from wp_lambda.common.errors import UserError
from wp_lambda.runtime import private

# Files of a stock WordPress tree that match the wp-config rule but hold no secret: core's sample,
# which routing never serves either.
_CORE_SAMPLE = "wp-config-sample.php"


def _pattern(glob: str) -> str:
    """A glob as a regex: ``**/`` is any number of folders, ``**`` anything, ``*`` and ``?`` stay
    within one folder; a glob naming a folder also matches everything under it."""
    out, i, glob = [], 0, glob.rstrip("/")
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        else:
            out.append({"*": "[^/]*", "?": "[^/]"}.get(glob[i], re.escape(glob[i])))
            i += 1
    return "".join(out) + "(?:/.*)?"


def excluder(globs: Iterable[str]) -> Callable[[str], bool]:
    """A predicate on posix paths relative to the WordPress source: does a ``build.exclude`` glob
    match it? Case-sensitive, like the file systems the sources live on."""
    patterns = [_pattern(glob) for glob in globs]
    if not patterns:
        return lambda rel: False
    matcher = re.compile("|".join(f"(?:{p})" for p in patterns))
    return lambda rel: matcher.fullmatch(rel) is not None


def _exclude_glob(rel: str, kind: str) -> str:
    """The ``build.exclude`` entry the refusal suggests: a backup plugin's whole folder, else the file."""
    return "/".join(rel.split("/")[:2]) if kind == private.BACKUP_FOLDER else rel


def _remove(path: Path, root: Path) -> None:
    """Delete the file, and the folders it leaves empty up to ``root``: an excluded folder is gone."""
    path.unlink()
    for parent in path.parents:
        if parent == root or any(parent.iterdir()):
            break
        parent.rmdir()


def drop_excluded_and_refuse_private(function: Path, excluded: Callable[[str], bool], kit_files: set[str],
                                     source: str) -> None:
    """Delete the excluded files from ``function`` (never the kit's own ``kit_files``), then raise
    a :class:`UserError` naming every private file left."""
    found: list[tuple[str, str]] = []
    for rel, path in walk(function):
        if rel in kit_files:
            continue
        if excluded(rel):
            _remove(path, function)
            continue
        kind = private.kind(rel)
        if kind is not None and rel != _CORE_SAMPLE:
            found.append((rel, kind))
    if found:
        listing = "\n".join(f"  {rel} ({kind})" for rel, kind in found)
        globs = list(dict.fromkeys(_exclude_glob(rel, kind) for rel, kind in found))
        raise UserError(
            f"the WordPress source holds {len(found)} private file(s) (database dumps, archives, backups, "
            f"copies of wp-config) that would be shipped with the site and could be served:\n{listing}",
            f"remove them from {source} (or from the plugin or theme that brings them), or leave them out on "
            f"purpose: under [build] in wplambda.toml, exclude = {json.dumps(globs)}")
