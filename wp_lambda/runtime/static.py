"""Static files served by the handler itself: the fallback when CloudFront sends a static path to
the function, and what ``wplambda serve`` uses for everything that is not PHP.

The content-type table is our own rather than :mod:`mimetypes`, whose answers depend on the
host's /etc/mime.types. It is the kit's only such table: ``sync-assets`` sets the S3 objects'
Content-Type from it too, so a file has the same type whether CloudFront gets it from the assets
bucket or from the function. Its static part, :data:`STATIC_TYPES`, is also the allow-list of
what may leave the code tree at all: the build ships exactly those types as assets
(:mod:`wp_lambda.bundle.assets`) and the handler serves no other (:mod:`wp_lambda.runtime.routing`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime

from wp_lambda.runtime.contract import DEFAULT_MAX_AGE_ENV, VERSIONED_MAX_AGE_ENV
from wp_lambda.runtime.events import Request, Response

# The allow-list of static files: what the build ships to the assets bucket, and what the handler
# (and so serve) answers from the document root. A type missing here is neither shipped nor served,
# so it lists what WordPress, its themes and plugins link to from a page (checked against Debian's
# whole tree: wp-admin has css, js, png, gif, svg; wp-includes adds json, woff/woff2/ttf/eot, xml),
# and nothing PHP only reads (.mo/.po, .crt, .md, .scss sources) or a backup could be named (.txt,
# .csv, .sql, archives): those stay in the function, where only PHP opens them.
STATIC_TYPES: dict[str, str] = {
    ".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8", ".map": "application/json", ".json": "application/json",
    ".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
    ".xml": "application/xml", ".xsl": "application/xml",  # wp-includes/wlwmanifest.xml, sitemap styles
    ".wasm": "application/wasm",
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".webp": "image/webp", ".avif": "image/avif", ".svg": "image/svg+xml", ".ico": "image/x-icon",
    ".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff",
    ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
    ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".wav": "audio/wav", ".m4a": "audio/mp4",
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime",
}
# Types only the media library holds (WordPress accepts them as uploads): they get their type when
# serve answers a local upload, but never come out of the code tree, where a file of these types is
# more likely an export or a backup than something a page links to.
MEDIA_TYPES: dict[str, str] = {
    ".txt": "text/plain; charset=utf-8", ".csv": "text/csv; charset=utf-8",
    ".pdf": "application/pdf", ".zip": "application/zip", ".gz": "application/gzip",
    ".doc": "application/msword", ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel", ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".ppt": "application/vnd.ms-powerpoint",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
}
CONTENT_TYPES: dict[str, str] = {**STATIC_TYPES, **MEDIA_TYPES}
# The config's [assets] max-ages reach the function in these (set by the template and by
# `wplambda serve`), so a file the function answers is cached like its copy in the bucket.


@dataclass(frozen=True)
class Caching:
    """Cache-Control max-ages: for files WordPress links with ``?ver=``, and for the rest."""

    versioned: int = 31536000  # the [assets] defaults
    default: int = 3600

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Caching:
        def read(name: str, fallback: int) -> int:
            value = env.get(name, "")
            return int(value) if value.isdigit() else fallback

        return cls(read(VERSIONED_MAX_AGE_ENV, cls.versioned), read(DEFAULT_MAX_AGE_ENV, cls.default))

_etags: dict[tuple[str, int, int], str] = {}


def _etag(path: str, stat: os.stat_result, data: bytes) -> str:
    """A strong ETag from the content: zips built deterministically share one mtime, so mtime+size
    alone could repeat across deployments. Cached per (path, mtime, size)."""
    key = (path, stat.st_mtime_ns, stat.st_size)
    tag = _etags.get(key)
    if tag is None:
        tag = '"' + hashlib.blake2b(data, digest_size=16).hexdigest() + '"'
        _etags[key] = tag
    return tag


def _not_modified(request: Request, etag: str, mtime: float) -> bool:
    if_none_match = request.header("if-none-match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or etag in tags
    since = request.header("if-modified-since")
    if since:
        try:
            return int(mtime) <= parsedate_to_datetime(since).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
    return False


def serve(request: Request, filename: str, caching: Caching = Caching()) -> Response:
    """The file's response: 200 with validators, 304 when the client's copy is current."""
    if request.method not in ("GET", "HEAD"):
        return Response(405, [("Allow", "GET, HEAD"), ("Content-Type", "text/plain; charset=utf-8")],
                        b"Method not allowed for a static file.\n")
    with open(filename, "rb") as handle:
        stat = os.fstat(handle.fileno())
        data = handle.read()
    etag = _etag(filename, stat, data)
    versioned = any(part.startswith("ver=") for part in request.query.split("&"))
    max_age = caching.versioned if versioned else caching.default
    headers = [("Content-Type", STATIC_TYPES[os.path.splitext(filename)[1].lower()]),
               ("Cache-Control", f"public, max-age={max_age}" + (", immutable" if versioned else "")),
               ("ETag", etag), ("Last-Modified", formatdate(stat.st_mtime, usegmt=True)),
               ("X-Content-Type-Options", "nosniff")]
    if _not_modified(request, etag, stat.st_mtime):
        return Response(304, headers)
    return Response(200, headers, data)
