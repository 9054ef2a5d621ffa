"""Purge: take the pages a change affected out of CloudFront's cache (or serve's), once per request.

The kit's mu-plugin (wordpress/mu-plugins/wplambda-purge.php) knows what a change affects: when a
post is published, updated, trashed or unpublished, or a comment approved, it computes the paths
(the permalink, the home page, feeds, archives, sitemaps, the REST API) and hands them here, and
the runtime sends them: one batched invalidation per request, checked and bounded in time, is what
keeps the bill and CloudFront's limits in reach. This is a convenience, not a wall: PHP runs with
the role's credentials (S3 Uploads needs them), so PurgePolicy's cloudfront:CreateInvalidation on
this distribution is open to any plugin too, as the role's S3 actions are. The handoff:

* on a web request, PHP answers the private header contract.PURGE_HEADER; every copy of it is
  removed from every PHP response (:func:`take_header`), so a visitor never sees it;
* under the PHP CLI (wp-cli, cron, ``php``), PHP appends to the 0600 file :class:`CommandFile`
  names in contract.PURGE_FILE_ENV, read after the command.

The distribution is this request's (contract.DISTRIBUTION_HEADER, written by the viewer-request
function and believed only with the origin secret) or the console function's variable
(contract.DISTRIBUTION_ID_ENV). Under ``serve`` the paths go to serve's own page cache instead
(contract.LOCAL_PURGE_URL_ENV). The change already happened when the purge is sent: a failure is
one log line, never a failed request or command; the pages then expire at cache.ttl. So is a purge
the invocation has no time left for: it runs after PHP, within the invocation's deadline
(:data:`CALL_TIME`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from wp_lambda.runtime import cgi, contract, secrets
from wp_lambda.runtime.events import Request, Response

log = logging.getLogger("wplambda")

_HEADER = contract.PURGE_HEADER.lower()
_DISTRIBUTION_HEADER = contract.DISTRIBUTION_HEADER.lower()
_DISTRIBUTION_ID = re.compile(contract.DISTRIBUTION_ID_PATTERN)
# What a path may hold as it is: visible ASCII but for RFC 1738's unsafe characters ("{", "}", "|",
# "\\", "^", "~", "[", "]", "`", "<", ">", "\"", "#"), and "%" only as the start of an %XX escape.
# CloudFront wants non-ASCII and unsafe characters URL-encoded, and nothing else
# (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/invalidation-specifying-objects.html,
# "Non-ASCII or unsafe characters in the path"); the mu-plugin encodes exactly these.
_UNSAFE = frozenset('{}|\\^~[]`<>"#')
_BARE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# What PHP may hand over in one command's file: far more than any honest list, small enough to read.
_FILE_LIMIT = 256 * 1024
# The longest one call may take (a connect and a read, each bounded by make_client's timeout): a
# purge, or its fallback, is skipped when less than this is left before the invocation must answer,
# so a purge never pushes a request or a command past Lambda's timeout (the client's creation is
# included in the slack: it reads no network).
CALL_TIME = 2 * contract.SECRETS_REREAD_TIMEOUT


def encoded(path: str) -> str:
    """``path`` with what CloudFront wants URL-encoded so encoded (_UNSAFE, a "%" that starts no
    escape, spaces, control characters, non-ASCII as UTF-8), every other character as it was."""
    path = _BARE_PERCENT.sub("%25", path)
    return "".join(char if "\x21" <= char <= "\x7e" and char not in _UNSAFE
                   else "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass")) for char in path)


def path_problem(path: str) -> str | None:
    """Why ``path`` is not a CloudFront invalidation path (contract's rules), or None when it is."""
    if not path.startswith("/"):
        return "it must begin with \"/\""
    if len(path) > contract.PURGE_PATH_MAX_LENGTH:
        return f"it is longer than {contract.PURGE_PATH_MAX_LENGTH} characters"
    if encoded(path) != path:
        return (f"it holds a space, a control character, non-ASCII or a character unsafe in a URL (RFC 1738): "
                f"URL-encode them, as {encoded(path)[:200]!r}")
    if "*" in path[:-1]:
        return "\"*\" may only be its last character"
    return None


def batch(paths: Iterable[str]) -> list[str]:
    """The invalidation for ``paths``: valid ones once each in order, less those another one's
    wildcard already covers ("/books/dune/*" under "/books/*": each path is billed), or [PURGE_ALL]
    when it is among them or they are more than contract.PURGE_MAX_PATHS. An invalid path is dropped
    with a log line (its first 100 characters): PHP made it, and the rest of the list still stands."""
    out: list[str] = []
    for path in paths:
        problem = path_problem(path)
        if problem is not None:
            log.warning("wplambda: purge: dropped %.100r: %s", path, problem)
        elif path not in out:
            out.append(path)
    prefixes = [path[:-1] for path in out if path.endswith("*")]
    out = [path for path in out if not any(path != prefix + "*" and path.startswith(prefix) for prefix in prefixes)]
    if contract.PURGE_ALL in out or len(out) > contract.PURGE_MAX_PATHS:
        return [contract.PURGE_ALL]
    return out


def exact(paths: list[str]) -> list[str]:
    """``paths`` without wildcards, for when CloudFront refuses more of them: each "PATH/*" becomes
    "PATH/" (the post's or archive's own page, the one most visitors see), an exact path stays, any
    other wildcard ("/wp-sitemap*", "/*") is left to cache.ttl. At most 15 wildcard paths may be in
    progress on a distribution, while exact ones have a limit of their own, 3,000
    (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/InvalidationLimits.html)."""
    out = [path[:-1] if path.endswith("/*") and path != contract.PURGE_ALL else path for path in paths]
    return list(dict.fromkeys(path for path in out if not path.endswith("*")))


def _error_code(exc: BaseException) -> str:
    """An AWS error's code (botocore's ClientError carries it), else the exception's type."""
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__)


def take_header(response: Response) -> list[str]:
    """Remove every copy of the purge header from ``response``; the paths they held."""
    values = [value for name, value in response.headers if name.lower() == _HEADER]
    if values:
        response.headers = [(name, value) for name, value in response.headers if name.lower() != _HEADER]
    return [path for value in values for path in value.split()]


def distribution_id(request: Request | None, environ: Mapping[str, str]) -> str | None:
    """The distribution to invalidate: the one the request came through, when it carries the origin
    secret (a viewer cannot set the header then: the viewer-request function overwrites it), else
    the console function's variable; None when neither is there or has a distribution id's shape."""
    candidate = None
    if request is not None and cgi.from_cloudfront(request, dict(environ)):
        candidate = request.header(_DISTRIBUTION_HEADER)
    if candidate is None:
        candidate = environ.get(contract.DISTRIBUTION_ID_ENV)
    if candidate is not None and _DISTRIBUTION_ID.match(candidate.strip()):
        return candidate.strip()
    if candidate:
        log.warning("wplambda: purge: ignored a distribution id that is not one (%d characters)", len(candidate))
    return None


def make_client() -> Any:
    """A CloudFront client bounded like the secrets' re-reads (contract.SECRETS_REREAD_TIMEOUT, no
    retry): the invalidation runs at the end of an editor's request, which must not wait minutes."""
    return secrets.make_client(contract.SECRETS_REREAD_TIMEOUT, "cloudfront")


# serve's endpoint is on this machine: never through a proxy. urlopen honours http_proxy (set in
# many developers' shells), which would hand the bearer token, and the paths, to the proxy.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Purger:
    """Sends one batched invalidation: to CloudFront, or to serve's page cache under serve."""

    def __init__(self, environ: Mapping[str, str], client: Callable[[], Any] = make_client) -> None:
        self.environ = environ
        self._make_client = client
        self._client: Any = None
        # Path -> when (time.monotonic()) it was last sent to CloudFront: contract.PURGE_REPEAT_SECONDS.
        self._sent: dict[str, float] = {}

    def _unsent(self, paths: Iterable[str]) -> list[str]:
        """``paths`` less those sent to CloudFront within contract.PURGE_REPEAT_SECONDS, exactly or
        under a wildcard then sent (a "*" matches any characters after its prefix, so "/a/*" covers
        "/a/" and "/a/page/*")."""
        now = time.monotonic()
        self._sent = {path: at for path, at in self._sent.items() if now - at < contract.PURGE_REPEAT_SECONDS}
        prefixes = [path[:-1] for path in self._sent if path.endswith("*")]
        return [path for path in paths
                if path not in self._sent and not any(path.startswith(prefix) for prefix in prefixes)]

    def send(self, paths: Iterable[str], distribution: str | None, deadline: float | None = None) -> str | None:
        """Purge ``paths`` (through :func:`batch`); the invalidation's id ("local" under serve), or
        None when nothing was sent. ``deadline`` (time.monotonic()) is when the invocation must have
        answered: a call that might end after it is not made. Never raises: a failure is one log line."""
        items = batch(paths)
        if not items:
            return None
        if not self.environ.get(contract.PAGE_CACHE_ENV):
            # [cache] pages off: CloudFront stores no page to take out (the mu-plugin is inert too).
            log.debug("wplambda: purge: %d paths ignored, pages are not cached", len(items))
            return None
        local = self.environ.get(contract.LOCAL_ENV) == "1" and bool(self.environ.get(contract.LOCAL_PURGE_URL_ENV))
        if not local and distribution is None:
            log.debug("wplambda: purge: %d paths, but no distribution is known (not behind CloudFront)", len(items))
            return None
        if not local:  # serve's cache is free and has no limits: it gets every purge
            unsent = self._unsent(items)
            if not unsent:
                log.info("wplambda: purge: the %d paths were sent less than %.0f s ago", len(items),
                         contract.PURGE_REPEAT_SECONDS)
                return None
            items = unsent
        left = math.inf if deadline is None else deadline - time.monotonic()
        if left < CALL_TIME:
            log.warning("wplambda: purge of %d paths skipped: %.1f s left before the deadline, a call may take "
                        "%.0f s; the pages expire at cache.ttl instead", len(items), max(left, 0.0), CALL_TIME)
            return None
        try:
            if local:
                return self._local(items)
            assert distribution is not None
            return self._cloudfront(items, distribution)
        except Exception as exc:  # the change already happened; its pages expire at cache.ttl
            fallback = exact(items)
            if _error_code(exc) == "TooManyInvalidationsInProgress" and fallback and fallback != items:
                log.warning("wplambda: purge: too many wildcard invalidations in progress; sending the %d "
                            "paths without wildcards", len(fallback))
                return self.send(fallback, distribution, deadline)
            log.error("wplambda: purge of %d paths failed (%s); the pages expire at cache.ttl instead",
                      len(items), _error_code(exc))
            return None

    def _cloudfront(self, items: list[str], distribution: str) -> str:
        # https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CreateInvalidation.html:
        # CallerReference must be unique per request, or CloudFront takes it for a repeat.
        if self._client is None:
            self._client = self._make_client()
        answer = self._client.create_invalidation(
            DistributionId=distribution,
            InvalidationBatch={"Paths": {"Quantity": len(items), "Items": items},
                               "CallerReference": f"wplambda-{time.time_ns()}-{uuid.uuid4().hex[:8]}"})
        invalidation: str = answer["Invalidation"]["Id"]
        self._sent.update(dict.fromkeys(items, time.monotonic()))
        log.info("wplambda: purge: invalidation %s of %d paths on %s", invalidation, len(items), distribution)
        return invalidation

    def _local(self, items: list[str]) -> str:
        """POST {"paths": [...]} to serve's purge endpoint with its bearer token (contract)."""
        url = self.environ[contract.LOCAL_PURGE_URL_ENV]
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{contract.LOCAL_PURGE_URL_ENV} is not an http(s) URL")
        request = urllib.request.Request(
            url, data=json.dumps({"paths": items}).encode(), method="POST",
            headers={"Content-Type": "application/json",
                     "Authorization": f"Bearer {self.environ.get(contract.LOCAL_PURGE_TOKEN_ENV, '')}"})
        with _DIRECT.open(request, timeout=contract.SECRETS_REREAD_TIMEOUT) as answer:
            answer.read()
        log.info("wplambda: purge: %d paths sent to serve's page cache", len(items))
        return "local"


class CommandFile:
    """The CLI's channel: a 0600 file for one command, named in contract.PURGE_FILE_ENV; the mu-plugin
    appends one path per line. Made by mkstemp (owner-only, a fresh unpredictable name), so no other
    process can plant paths in it, and removed when read."""

    def __init__(self) -> None:
        self.path = ""

    def __enter__(self) -> CommandFile:
        fd, self.path = tempfile.mkstemp(prefix="wplambda-purge-", suffix=".txt")
        os.close(fd)
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    def environ(self, env: Mapping[str, str]) -> dict[str, str]:
        """``env`` with this file named for PHP."""
        return {**env, contract.PURGE_FILE_ENV: self.path}

    def paths(self) -> list[str]:
        """What PHP wrote (the first _FILE_LIMIT bytes), one path per line."""
        try:
            with open(self.path, "rb") as handle:
                data = handle.read(_FILE_LIMIT)
        except OSError:
            return []
        return data.decode("ascii", "replace").split()


@contextlib.contextmanager
def command(purger: Purger, env: Mapping[str, str], deadline: float | None = None) -> Iterator[dict[str, str]]:
    """Run a PHP CLI command inside: yields its environment with a purge file; the paths PHP wrote
    are sent (to the console function's distribution) when the block ends, whatever its outcome,
    if the invocation has time left before ``deadline`` (:meth:`Purger.send`)."""
    with CommandFile() as channel:
        try:
            yield channel.environ(env)
        finally:
            paths = channel.paths()
            if paths:
                purger.send(paths, distribution_id(None, purger.environ), deadline)
