"""Where a request goes: like nginx ``try_files $uri $uri/ /index.php?$args`` with PATH_INFO.

The decoded path is checked before anything touches the disk: ``..``/``.`` segments (in any
percent-encoding depth), NUL bytes, backslashes and empty segments are refused, dotfiles,
``wp-config.php``, Composer files and the ``vendor`` tree are never served, a private file on disk
(dump, archive, backup, copy of wp-config, backup plugin's folder: :mod:`wp_lambda.runtime.private`)
is answered 404 whatever its type, and a static file is served only when its extension is on the allow-list
of static types (:data:`wp_lambda.runtime.static.STATIC_TYPES`) and its real path (symlinks
resolved) stays inside the document root. Everything else WordPress answers itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import unquote, unquote_to_bytes

from wp_lambda.runtime import private
from wp_lambda.runtime.static import STATIC_TYPES

PHP_SUFFIXES = (".php", ".phtml", ".phar", ".php3", ".php4", ".php5", ".php7", ".php8", ".phps", ".pht", ".inc")
# Files that exist in a WordPress tree but must never leave it, whatever their extension.
DENIED_NAMES = frozenset({"wp-config.php", "wp-config-sample.php", "composer.json", "composer.lock",
                          "auth.json", "package.json", "package-lock.json", "php.ini", ".user.ini"})
# Top-level directories of the function tree that are code, not content.
DENIED_ROOTS = frozenset({"vendor", "node_modules"})
ALLOWED_DOT_SEGMENTS = frozenset({".well-known"})
# The wp-content folders served from EFS in storage.mode = "efs" (languages and upgrade live there
# too, but PHP reads them; nobody fetches them over HTTP).
CONTENT_DIRS = frozenset({"plugins", "themes"})
_DECODE_DEPTH = 4


@dataclass(frozen=True)
class Route:
    """The outcome of routing: ``kind`` is "php", "static", "redirect" or "deny"."""

    kind: str
    script_name: str = ""
    filename: str = ""
    path_info: str = ""
    status: int = 0
    location: str = ""


def _deny(status: int) -> Route:
    return Route("deny", status=status)


def unsafe(raw_path: str) -> bool:
    """True when the path could point outside the document root in any decoding of it."""
    current = raw_path
    for _ in range(_DECODE_DEPTH):
        if "\0" in current or "\\" in current or "//" in current:
            return True
        if any(segment in (".", "..") for segment in current.split("/")):
            return True
        decoded = unquote(current, errors="surrogateescape")
        if decoded == current:
            return False
        current = decoded
    return True  # still changing after several decodings: nobody legitimate does that


def _denied(segments: list[str]) -> bool:
    if segments and segments[0] in DENIED_ROOTS:
        return True
    for segment in segments:
        if segment.startswith(".") and segment not in ALLOWED_DOT_SEGMENTS:
            return True
        if segment.lower() in DENIED_NAMES:
            return True
    return False


def _private(segments: list[str]) -> bool:
    """A private file is answered 404 when it exists. The rule is applied to files found on disk
    only, not to every URL: ``/sitemap.xml.gz`` or ``/download/report.zip`` may be WordPress's own
    virtual URLs, and a path with no file behind it still reaches WordPress like any other."""
    return private.kind("/".join(segments)) is not None


def static_file(rel: str) -> bool:
    """Whether the document root's file ``rel`` (posix, no leading slash) may be answered as a
    static file: the handler's rule, which the build's assets step applies too, so the assets
    bucket never holds a file the function would refuse."""
    segments = rel.split("/")
    return not _denied(segments) and not _private(segments) and os.path.splitext(rel)[1].lower() in STATIC_TYPES


def _inside(root: str, path: str) -> bool:
    real = os.path.realpath(path)
    return real == root or real.startswith(root + os.sep)


def _base(document_root: str, segments: list[str], content_dir: str | None) -> tuple[str, list[str]]:
    """The directory a path's files are looked up in, and the path's segments below it.

    With EFS (``content_dir``), ``/wp-content/plugins/...`` and ``/wp-content/themes/...`` are
    files on the file system, where wp-config.php's WP_CONTENT_DIR points; the rest of
    ``/wp-content/`` (the kit's must-use plugins) stays in the package.
    """
    if content_dir and len(segments) >= 2 and segments[0] == "wp-content" and segments[1] in CONTENT_DIRS:
        return content_dir, segments[1:]
    return document_root, segments


def route(document_root: str, raw_path: str, query: str, content_dir: str | None = None) -> Route:
    """Map a raw request path to a script, a static file, a redirect or a refusal.

    ``document_root`` and ``content_dir`` (EFS mode's wp-content, else None) must already be real
    paths (no symlinks, no trailing slash).
    """
    if not raw_path.startswith("/") or unsafe(raw_path):
        return _deny(403)
    try:
        path = unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        return _deny(404)
    segments = [s for s in path.split("/") if s]
    if _denied(segments):
        return _deny(404)
    base, below = _base(document_root, segments, content_dir)
    skipped = len(segments) - len(below)  # URL segments above ``base`` (``wp-content`` with EFS)
    # fastcgi_split_path_info ^(.+?\.php)(/.*)$ : the first segment naming a PHP file is the script.
    for index, segment in enumerate(segments):
        if segment.lower().endswith(PHP_SUFFIXES):
            if [s.lower() for s in segments[:2]] == ["wp-content", "uploads"]:
                return _deny(404)  # uploaded files never run as code
            script = "/" + "/".join(segments[:index + 1])
            filename = base + "/" + "/".join(segments[skipped:index + 1])
            if segment.lower().endswith(".php") and os.path.isfile(filename) and _inside(base, filename):
                if _private(segments[:index + 1]):
                    return _deny(404)
                rest = segments[index + 1:]
                path_info = ("/" + "/".join(rest) + ("/" if path.endswith("/") else "")) if rest else ""
                return Route("php", script_name=script, filename=filename, path_info=path_info)
            return _front_controller(document_root)
    target = base + "/" + "/".join(below)
    if not segments:
        target = document_root
    if os.path.isfile(target):
        if not _inside(base, target):
            return _deny(404)
        if os.path.splitext(target)[1].lower() not in STATIC_TYPES or _private(segments):
            return _deny(404)
        return Route("static", filename=target)
    if os.path.isdir(target) and _inside(base, target):
        if not path.endswith("/"):
            location = raw_path + "/" + (f"?{query}" if query else "")
            return Route("redirect", status=301, location=location)
        if _private([*segments, "index.php"]):
            return _deny(404)  # a backup plugin's folder: neither its index.php nor index.html
        index_php = os.path.join(target, "index.php")
        if os.path.isfile(index_php):
            script = "/" + "/".join([*segments, "index.php"])
            return Route("php", script_name=script, filename=index_php)
        index_html = os.path.join(target, "index.html")
        if os.path.isfile(index_html):
            return Route("static", filename=index_html)
    return _front_controller(document_root)


def _front_controller(document_root: str) -> Route:
    return Route("php", script_name="/index.php", filename=document_root + "/index.php")
