"""The static files ``sync-assets`` uploads: laid out by URL path, an allow-list of types.

A file is an asset when the handler would serve it as a static file
(:func:`wp_lambda.runtime.routing.static_file`: a type on the allow-list
:data:`wp_lambda.runtime.static.STATIC_TYPES`, not a dotfile, not a private file) and it lies
under wp-admin, wp-includes or wp-content, outside uploads and outside Composer's and npm's
internals. Everything else (PHP, translation catalogues, readmes, licences, data files, any type
nobody listed) stays in the function, where only PHP reads it: a type that is not known is not
published. A ``vendor/`` folder as such is not private: WordPress itself loads React, lodash and
moment from ``wp-includes/js/dist/vendor/``, and the block editor is blank without them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from wp_lambda.bundle.tree import walk
from wp_lambda.runtime.contract import UPLOADS_KEY_PREFIX
from wp_lambda.runtime.routing import static_file

PUBLIC_ROOTS = ("wp-admin/", "wp-includes/", "wp-content/")
_COMPOSER_INTERNALS = re.compile(r"(^|/)vendor/(composer|bin)/")


def is_asset(rel: str) -> bool:
    """Whether the function tree's file ``rel`` is a public static file."""
    if not rel.startswith(PUBLIC_ROOTS) or rel.startswith(UPLOADS_KEY_PREFIX):
        return False
    if _COMPOSER_INTERNALS.search(rel) or "node_modules" in rel.split("/"):
        return False
    return static_file(rel)


def collect(function_dir: Path, assets_dir: Path) -> tuple[int, int]:
    """Hard-link (or copy) every asset into ``assets_dir``; return (file count, bytes)."""
    count = size = 0
    for rel, path in walk(function_dir):
        if not is_asset(rel):
            continue
        dest = assets_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, dest)
        except OSError:
            dest.write_bytes(path.read_bytes())
            os.chmod(dest, 0o644)
        count += 1
        size += path.stat().st_size
    return count, size
