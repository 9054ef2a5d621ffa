"""Purge: take the pages a change affected out of CloudFront's cache (or serve's), once per request.

The kit's mu-plugin (wordpress/mu-plugins/wplambda-purge.php) knows what a change affects: when a
post is published, updated, trashed or unpublished, or a comment approved, it computes the paths
(the permalink, the home page, feeds, archives, sitemaps, the REST API) and hands them here. PHP
cannot call CloudFront itself without the role's credentials in its environment, and one batched
invalidation per request is what keeps the bill and CloudFront's limits in reach, so the runtime
sends it:

* on a web request, PHP answers the private header contract.PURGE_HEADER; every copy of it is
  removed from every PHP response (:func:`take_header`), so a visitor never sees it;
* under the PHP CLI (wp-cli, cron, ``php``), PHP appends to the 0600 file :class:`CommandFile`
  names in contract.PURGE_FILE_ENV, read after the command.

The distribution is this request's (contract.DISTRIBUTION_HEADER, written by the viewer-request
function and believed only with the origin secret) or the console function's variable
(contract.DISTRIBUTION_ID_ENV). Under ``serve`` the paths go to serve's own page cache instead
(contract.LOCAL_PURGE_URL_ENV). The change already happened when the purge is sent: a failure is
one log line, never a failed request or command; the pages then expire at cache.ttl.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from wp_lambda.runtime import cgi, contract
from wp_lambda.runtime.events import Request, Response

log = logging.getLogger("wplambda")

_HEADER = contract.PURGE_HEADER.lower()
_DISTRIBUTION_HEADER = contract.DISTRIBUTION_HEADER.lower()
_DISTRIBUTION_ID = re.compile(contract.DISTRIBUTION_ID_PATTERN)
# Visible ASCII but for the space: PHP URL-encodes anything else (CloudFront wants non-ASCII and
# unsafe characters encoded, contract's invalidation rules).
_PATH_CHARACTERS = re.compile(r"^/[\x21-\x7e]*$")
# What PHP may hand over in one command's file: far more than any honest list, small enough to read.
_FILE_LIMIT = 256 * 1024


def path_problem(path: str) -> str | None:
    """Why ``path`` is not a CloudFront invalidation path (contract's rules), or None when it is."""
    if not path.startswith("/"):
        return "it must begin with \"/\""
    if len(path) > contract.PURGE_PATH_MAX_LENGTH:
        return f"it is longer than {contract.PURGE_PATH_MAX_LENGTH} characters"
    if not _PATH_CHARACTERS.match(path):
        return "it holds a space, a control character or non-ASCII (URL-encode them)"
    if "*" in path[:-1]:
        return "\"*\" may only be its last character"
    return None


def batch(paths: Iterable[str]) -> list[str]:
    """The invalidation for ``paths``: valid ones once each in order, or [PURGE_ALL] when it is among
    them or they are more than contract.PURGE_MAX_PATHS. An invalid path is dropped with a log line
    (its first 100 characters): PHP made it, and the rest of the list still stands."""
    out: list[str] = []
    for path in paths:
        problem = path_problem(path)
        if problem is not None:
            log.warning("wplambda: purge: dropped %.100r: %s", path, problem)
        elif path not in out:
            out.append(path)
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
    import boto3  # lazily: only deployed functions need it, and Lambda provides it
    from botocore.config import Config

    timeout = contract.SECRETS_REREAD_TIMEOUT
    return boto3.client("cloudfront", config=Config(connect_timeout=timeout, read_timeout=timeout,
                                                    retries={"total_max_attempts": 1}))


class Purger:
    """Sends one batched invalidation: to CloudFront, or to serve's page cache under serve."""

    def __init__(self, environ: Mapping[str, str], client: Callable[[], Any] = make_client) -> None:
        self.environ = environ
        self._make_client = client
        self._client: Any = None

    def send(self, paths: Iterable[str], distribution: str | None) -> str | None:
        """Purge ``paths`` (through :func:`batch`); the invalidation's id ("local" under serve), or
        None when nothing was sent. Never raises: a failure is one log line."""
        items = batch(paths)
        if not items:
            return None
        if not self.environ.get(contract.PAGE_CACHE_ENV):
            # [cache] pages off: CloudFront stores no page to take out (the mu-plugin is inert too).
            log.debug("wplambda: purge: %d paths ignored, pages are not cached", len(items))
            return None
        try:
            if self.environ.get(contract.LOCAL_ENV) == "1" and self.environ.get(contract.LOCAL_PURGE_URL_ENV):
                return self._local(items)
            if distribution is None:
                log.debug("wplambda: purge: %d paths, but no distribution is known (not behind CloudFront)",
                          len(items))
                return None
            return self._cloudfront(items, distribution)
        except Exception as exc:  # the change already happened; its pages expire at cache.ttl
            fallback = exact(items)
            if _error_code(exc) == "TooManyInvalidationsInProgress" and fallback and fallback != items:
                log.warning("wplambda: purge: too many wildcard invalidations in progress; sending the %d "
                            "paths without wildcards", len(fallback))
                return self.send(fallback, distribution)
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
        with urllib.request.urlopen(request, timeout=contract.SECRETS_REREAD_TIMEOUT) as answer:
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
def command(purger: Purger, env: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """Run a PHP CLI command inside: yields its environment with a purge file; the paths PHP wrote
    are sent (to the console function's distribution) when the block ends, whatever its outcome."""
    with CommandFile() as channel:
        try:
            yield channel.environ(env)
        finally:
            paths = channel.paths()
            if paths:
                purger.send(paths, distribution_id(None, purger.environ))
