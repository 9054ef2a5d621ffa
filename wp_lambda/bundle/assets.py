"""The static files ``sync-assets`` uploads: laid out by URL path, nothing a visitor must not get.

PHP source, dotfiles, Composer metadata and internals (``vendor/composer/``, ``vendor/bin/``),
``node_modules`` and the translation catalogues PHP reads itself never leave the function;
everything else under wp-admin, wp-includes and wp-content is served by CloudFront from the
assets bucket. A ``vendor/`` folder as such is not private: WordPress itself loads React, lodash
and moment from ``wp-includes/js/dist/vendor/``, and the block editor is blank without them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from wp_lambda.bundle.tree import is_hidden, walk

PUBLIC_ROOTS = ("wp-admin/", "wp-includes/", "wp-content/")
_COMPOSER_INTERNALS = re.compile(r"(^|/)vendor/(composer|bin)/")
_PRIVATE_SUFFIX = re.compile(r"\.(php\d?|phtml|phar|inc|mo|po|pot|sql|log|sh)$", re.IGNORECASE)


def is_asset(rel: str) -> bool:
    """Whether the function tree's file ``rel`` is a public static file."""
    if not rel.startswith(PUBLIC_ROOTS) or is_hidden(rel):
        return False
    parts = rel.split("/")
    name = parts[-1]
    if _COMPOSER_INTERNALS.search(rel) or "node_modules" in parts or name.startswith("composer.") \
            or rel.startswith("wp-content/uploads/"):
        return False
    return not _PRIVATE_SUFFIX.search(name)


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
