"""The primed opcache file cache a ``build.opcache_file_cache`` build ships in the function package.

The build compiles the tree into ``<document root>/.wplambda-opcache/<system id>/...`` (see
wp_lambda/bundle/opcache_cache.py). PHP 8.2 switches its file cache off when the directory is not
writable, and the package is read-only on Lambda, so at cold start php-fpm is pointed at a
writable directory under /tmp that holds only symlinks to the packaged system-id directories.
Scripts the cache lacks are compiled as usual; PHP's attempt to store them fails quietly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

PACKAGED = ".wplambda-opcache"
# Names the packaged cache; "off" runs without it (the benchmark compares both on one tree).
ENV_VAR = "WPLAMBDA_OPCACHE_FILE_CACHE"


def packaged(document_root: str, environ: Mapping[str, str]) -> str | None:
    """The packaged cache directory php-fpm should read, or None when there is none (or it is off)."""
    setting = environ.get(ENV_VAR, "")
    if setting == "off":
        return None
    path = setting or os.path.join(document_root, PACKAGED)
    return path if os.path.isdir(path) else None


def link(cache: str, scratch: str) -> dict[str, str]:
    """Symlink each system-id directory of ``cache`` into ``scratch``/opcache (writable); return
    the php.ini settings that make php-fpm read it.

    Consistency checks are off: the files were written by the build and the tree they describe is
    read-only, so checksumming every script on load would only add to the cold start.
    """
    directory = os.path.join(scratch, "opcache")
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(cache):
        target, entry = os.path.join(cache, name), os.path.join(directory, name)
        if os.path.islink(entry) and os.readlink(entry) == target:
            continue
        if os.path.lexists(entry):
            os.unlink(entry)
        os.symlink(target, entry)
    return {"opcache.file_cache": directory, "opcache.file_cache_consistency_checks": "0"}
