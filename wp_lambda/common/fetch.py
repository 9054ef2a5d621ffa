"""Downloads for the build: HTTPS (or a local mirror), retried with backoff, cached, verified.

Everything the build fetches (WordPress releases, plugin and theme zips, wp-cli) goes through
:func:`fetch`, so a mirror on 127.0.0.1, a local directory and wordpress.org behave the same
and the tests exercise the code path real users hit.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from wp_lambda import __version__
from wp_lambda.common.errors import UserError
from wp_lambda.common.files import atomic_write

CHUNK = 1 << 16
RETRIES = 3
BACKOFF_SECONDS = 0.5
TIMEOUT_SECONDS = 30.0

# Called with (bytes received so far, total bytes or None) while a download runs.
ProgressFn = Callable[[int, int | None], None]


class NotFound(Exception):
    """The server (or mirror directory) answered, and the file is not there."""


def cache_dir() -> Path:
    """The user's cache dir for wplambda (``WPLAMBDA_CACHE_DIR`` overrides it; tests use that)."""
    override = os.environ.get("WPLAMBDA_CACHE_DIR")
    if override:
        return Path(override)
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "wplambda"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wplambda"


def is_url(source: str) -> bool:
    return source.startswith(("https://", "http://"))


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _get(url: str, progress: ProgressFn | None) -> bytes:
    """One HTTP GET; raises NotFound on 404/410, OSError-family errors for the network."""
    request = urllib.request.Request(url, headers={"User-Agent": f"wplambda/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            chunks, received = [], 0
            while chunk := response.read(CHUNK):
                chunks.append(chunk)
                received += len(chunk)
                if progress:
                    progress(received, total)
            return b"".join(chunks)
    except urllib.error.HTTPError as exc:
        if exc.code in (404, 410):
            raise NotFound(url) from exc
        raise


def fetch_bytes(url: str, *, progress: ProgressFn | None = None, what: str = "file") -> bytes:
    """GET ``url`` with retries and exponential backoff; a clear offline error when it never answers."""
    last: Exception | None = None
    for attempt in range(RETRIES):
        try:
            return _get(url, progress)
        except NotFound:
            raise
        except urllib.error.HTTPError as exc:
            last = exc
            if exc.code < 500:  # a client error will not fix itself
                break
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        if attempt + 1 < RETRIES:
            time.sleep(BACKOFF_SECONDS * 2**attempt)
    reason = getattr(last, "reason", last)
    raise UserError(f"cannot download the {what} from {url}: {reason} (tried {RETRIES} times)",
                    "check the network (are you offline?), or point the build at a local copy: "
                    "a tarball or directory for wordpress.source, a directory of zips for build.plugin_mirror")


def fetch(source: str, *, progress: ProgressFn | None = None, what: str = "file") -> bytes:
    """The bytes at ``source``: a URL, or a path on disk (a local mirror). NotFound when absent."""
    if is_url(source):
        return fetch_bytes(source, progress=progress, what=what)
    path = Path(source)
    if not path.is_file():
        raise NotFound(source)
    return path.read_bytes()


def join(base: str, relative: str) -> str:
    """``relative`` under a mirror base that is either a URL or a directory."""
    if is_url(base):
        return base.rstrip("/") + "/" + relative
    return str(Path(base) / relative)


def cached(key: str, produce: Callable[[], bytes]) -> Path:
    """The cache file named ``key``, produced (and written atomically) on first use."""
    path = cache_dir() / key
    if not path.is_file():
        atomic_write(path, produce())
    return path
