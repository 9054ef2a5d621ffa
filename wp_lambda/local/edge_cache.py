"""serve's page cache: what the distribution's page cache does deployed ([cache] pages), in memory.

The gateway asks :class:`EdgeCache` for every request the function would answer. The rule that
sends a request around the cache is the runtime's, contract.request_cache_bypass (the
viewer-request function is rendered from the same values), read on the request as PHP will: every
Cookie header, each name as $_COOKIE holds it, ``Authorization`` and the method-override headers.
The key is the page cache policy's: the path and the whole query string as sent, and whether the
viewer accepts gzip (EnableAcceptEncodingGzip); never a cookie, never ``Host``.

What is stored, and for how long, follows CloudFront's expiration rules with the page cache
policy's TTLs (contract.page_cache_ttls, rendered into the template from the same function),
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Expiration.html:

- ``s-maxage`` wins over ``max-age``, which wins over ``Expires``; without any, DefaultTTL (0:
  not stored); the result is held between MinTTL and MaxTTL (``cache.ttl``);
- ``private``, ``no-store`` and ``no-cache`` keep a response out of the cache while MinTTL is 0
  (https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CachePolicyConfig.html);
- ``stale-while-revalidate=N``: for N seconds past the TTL the cached page is served at once while
  one background request refreshes it; ``stale-if-error=N``: for N seconds past the TTL the cached
  page is served in place of the origin's 5xx, and in place of no answer at all (CloudFront counts
  an origin that does not respond as a 5xx, HTTPStatusCodes.html below), so a throttled request
  (``serve --concurrency``, 503 behind an HTTP API) gets the page too
  (https://aws.amazon.com/about-aws/whats-new/2023/05/amazon-cloudfront-stale-while-revalidate-stale-if-error-cache-control-directives);
- errors: CloudFront caches a GET's 400, 403, 404, 405, 414, 500, 501, 502, 503 and 504
  (contract.CACHED_ERROR_CODES) for the error caching minimum TTL (10 s by default; longer when
  the origin's max-age says so), and honours ``no-store``, ``no-cache`` and ``private`` only on
  404, 414 and 501 (serve keeps no ``private`` or ``no-store`` error at all: below); serve stores
  no other error (a 410, a 429)
  (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/HTTPStatusCodes.html,
  https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/custom-error-pages-expiration.html).

Stricter than CloudFront in two ways:

- a response with ``Set-Cookie`` is never stored (the runtime already makes it ``private,
  no-store``; CloudFront would keep the cookie with the page and hand it out,
  https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Cookies.html);
- a response marked ``private`` or ``no-store`` is never stored, whatever its status: the
  mu-plugin marks an error so when it was made for one visitor, and CloudFront's default error
  caching would keep a 500 or 503 for 10 s regardless. Deployed, the distribution's
  CustomErrorResponses set the error caching minimum TTL of those codes to 0 (template.yaml.j2).

The answer carries CloudFront's ``X-Cache`` and ``Age``: ``Miss from cloudfront`` (the function
answered), ``Hit from cloudfront`` (a fresh copy), ``RefreshHit from cloudfront`` (an expired copy,
served within ``stale-while-revalidate`` or ``stale-if-error``).

Simultaneous misses for one page are collapsed as CloudFront collapses them ("Simultaneous
requests for the same object", https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/RequestAndResponseBehaviorCustomOrigin.html#request-custom-traffic-spikes):
the first request for a key that is not in the cache goes to the function; requests for the same
key (only the same key: the docs forward every non-identical request) arriving before it answers
wait for it, for at most ``collapse_wait`` seconds (the docs say only that CloudFront "pauses
briefly"; the bound is ours), then go to the function themselves. A waiting request is answered
from the stored page, ``Hit from cloudfront`` with its Age: CloudFront logs the requests it held
during the pause as ``Hit``
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/RequestAndResponseBehaviorS3Origin.html#request-s3-traffic-spikes).
Stricter than CloudFront, which hands even a ``no-cache`` answer to the requests it held (same
page): a waiting request is only ever answered from what the cache stored, so an answer that is
not stored (``private``, ``no-store``, ``Set-Cookie``, a status never cached) or a function that
failed sends each waiting request to the function on its own, and no visitor gets an answer made
for another. Bypass requests never reach the cache, so they never wait.

A purge (:meth:`EdgeCache.purge`) takes paths in CloudFront's invalidation syntax
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/invalidation-specifying-objects.html):
a leading ``/``, case-sensitive, ``*`` only as the last character and matching any run of
characters after the prefix (query string included); a path without ``*`` is the page with exactly
that query string (``/a/`` is not ``/a/?p=2``: ``/a/*`` is both); every variant of the key goes.
"""

from __future__ import annotations

import email.utils
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from wp_lambda.runtime import contract

Answer = tuple[int, list[tuple[str, str]], bytes]
Fetch = Callable[[], Answer]
# The page's key: the request target (path?query, as sent) and whether the viewer takes gzip.
Key = tuple[str, bool]

HIT = "Hit from cloudfront"
MISS = "Miss from cloudfront"
REFRESH_HIT = "RefreshHit from cloudfront"
# Statuses stored by their Cache-Control like a page. A 206 or a 304 answers one viewer's Range or
# validator, never the page itself.
STORED_BY_HEADERS = frozenset({200, 203, 300, 301})
# CloudFront's error caching (the docs above): the codes it caches, the default error caching
# minimum TTL, and the codes on which it honours no-store/no-cache/private.
CACHED_ERRORS = frozenset(contract.CACHED_ERROR_CODES)
ERROR_CACHING_MIN_TTL = 10
ERRORS_HONOURING_NO_STORE = frozenset({404, 414, 501})
# The longest invalidation path CloudFront takes (the invalidation page above).
MAX_PURGE_PATH = 4000
# How long a request waits for the same page's request already at the function before it goes
# there itself. CloudFront's docs say only "pauses briefly" (the module docstring): ours is longer
# than a page takes under a local spike, and shorter than the origin response timeout (30 s).
COLLAPSE_WAIT = 10.0
# How many times a waiting request waits again when the answer it waited for was storable but a
# purge took it out before it could be read (a purge while a page renders, as on publish): it then
# joins the request that fetches the page anew rather than all of them going to the function.
COLLAPSE_ROUNDS = 3

_DIRECTIVE = re.compile(r"^\s*([a-z-]+)\s*(?:=\s*\"?([^\"]*)\"?)?\s*$")
_NEVER = frozenset({"private", "no-store", "no-cache"})
# Never stored by serve, whatever the status (an error too).
_PRIVATE = frozenset({"private", "no-store"})


@dataclass(frozen=True)
class Lifetime:
    """How long a shared cache may keep a response: fresh for ``ttl``, then stale for the two windows."""

    ttl: float
    while_revalidate: float = 0.0
    if_error: float = 0.0


def _directives(headers: Iterable[tuple[str, str]]) -> dict[str, int | None]:
    """The Cache-Control directives of every Cache-Control header, names in lower case; a value
    that is not a number of seconds is None (``private="Set-Cookie"`` is still ``private``)."""
    found: dict[str, int | None] = {}
    for name, value in headers:
        if name.lower() != "cache-control":
            continue
        for part in value.lower().split(","):
            match = _DIRECTIVE.match(part)
            if match:
                number = match.group(2)
                found[match.group(1)] = int(number) if number and number.isdigit() else None
    return found


def _expires_in(headers: Iterable[tuple[str, str]]) -> float | None:
    """Seconds until ``Expires``, counted from the response's ``Date`` (now without one); an
    unreadable Expires is already expired, as HTTP says."""
    values = {name.lower(): value for name, value in headers}
    if "expires" not in values:
        return None
    try:
        expires = email.utils.parsedate_to_datetime(values["expires"]).timestamp()
    except (TypeError, ValueError):
        return 0.0
    try:
        date = email.utils.parsedate_to_datetime(values["date"]).timestamp() if "date" in values else time.time()
    except (TypeError, ValueError):
        date = time.time()
    return expires - date


def lifetime(status: int, headers: list[tuple[str, str]], ttls: contract.PageCacheTTLs) -> Lifetime | None:
    """The response's lifetime in the page cache, or None when it must not be stored."""
    if any(name.lower() == "set-cookie" for name, _ in headers):
        return None
    directives = _directives(headers)
    if _PRIVATE & directives.keys():
        return None  # whatever the status: stricter than CloudFront's error caching (the docstring)
    never = bool(_NEVER & directives.keys())
    given = directives.get("s-maxage")
    if given is None:
        given = directives.get("max-age")
    seconds = float(given) if given is not None else _expires_in(headers)
    if status in CACHED_ERRORS:
        if never and status in ERRORS_HONOURING_NO_STORE:
            return None
        return Lifetime(max(min(seconds or 0.0, ttls.max), ERROR_CACHING_MIN_TTL))
    if status not in STORED_BY_HEADERS or (never and ttls.min == 0):
        return None
    ttl = min(max(ttls.default if seconds is None else seconds, ttls.min), ttls.max)
    if ttl <= 0:
        return None
    return Lifetime(ttl, float(directives.get("stale-while-revalidate") or 0),
                    float(directives.get("stale-if-error") or 0))


def check_purge_paths(paths: object) -> list[str]:
    """``paths`` as CloudFront's CreateInvalidation takes them; ValueError says what is wrong."""
    if not isinstance(paths, list) or not paths:
        raise ValueError('"paths" must be a non-empty list of strings')
    for path in paths:
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"each path must be a string that starts with '/': {str(path)[:80]!r}")
        if len(path) > MAX_PURGE_PATH:
            raise ValueError(f"a path is longer than {MAX_PURGE_PATH} characters: {path[:80]!r}...")
        if "*" in path[:-1]:
            raise ValueError(f"'*' may only be a path's last character: {path[:80]!r}")
    return list(paths)


def _matches(target: str, path: str) -> bool:
    return target.startswith(path[:-1]) if path.endswith("*") else target == path


@dataclass
class _Entry:
    answer: Answer
    stored: float
    life: Lifetime
    size: int
    refreshing: bool = False


@dataclass
class _Flight:
    """One request for a key at the function, which others for the key wait for (collapsing)."""

    done: threading.Event = field(default_factory=threading.Event)
    waiters: int = 0  # how many wait: what lets a test see them all waiting before it lets go
    # What the waiters may do once ``done`` is set: "cached" (the answer was storable: look in the
    # cache again), "stale" (the function failed and the stale copy stood in: serve it too),
    # "alone" (not storable, or the request raised: each waiter goes to the function itself).
    outcome: str = "alone"


class EdgeCache:
    """Pages keyed on path and query string (the page cache policy's key), shared by the gateway's
    threads, bounded in entries and bytes (the least recently used page goes first, as an edge
    evicts what is rarely asked for)."""

    def __init__(self, ttls: contract.PageCacheTTLs, *, clock: Callable[[], float] = time.monotonic,
                 max_entries: int = 2000, max_bytes: int = 128 * 1024 * 1024,
                 collapse_wait: float = COLLAPSE_WAIT) -> None:
        self.ttls = ttls
        self.clock = clock
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.collapse_wait = collapse_wait
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        # The keys whose page a request is fetching now, and what the others wait on.
        self._flights: dict[Key, _Flight] = {}
        self._bytes = 0
        # Bumped by every purge: an answer fetched before a purge is not stored after it.
        self._purges = 0
        self._lock = threading.Lock()

    @staticmethod
    def bypasses(method: str, target: str, headers: Iterable[tuple[str, str]]) -> bool:
        """Whether the request goes around the cache: contract.request_cache_bypass, the runtime's own
        decision, on ``headers`` as sent (every Cookie header among them: all reach PHP), so serve
        never stores a page PHP made for a session; ``target`` as path?query."""
        path, _, query = target.partition("?")
        return contract.request_cache_bypass(method, path, query, headers) is not None

    @staticmethod
    def key(target: str, headers: Mapping[str, str]) -> Key:
        """The cache key: the target and the normalized Accept-Encoding (gzip or not)."""
        accepts = {part.split(";")[0].strip().lower() for part in headers.get("accept-encoding", "").split(",")}
        return target, "gzip" in accepts

    def __len__(self) -> int:
        return len(self._entries)

    def answer(self, key: Key, fetch: Fetch, *, head: bool) -> Answer:
        """The answer to a GET or HEAD that may be shared: from the cache, or from ``fetch`` (the
        function), stored when its headers allow; with X-Cache and Age. A miss while another
        request for ``key`` is at the function waits for that one (the module docstring)."""
        for _ in range(COLLAPSE_ROUNDS):
            with self._lock:
                cached = self._cached(key, fetch, head)
                if cached is not None:
                    return cached
                entry, purges = self._entries.get(key), self._purges
                flight = self._flights.get(key)
                # A HEAD leads no one: its answer is not stored, so there would be nothing to share.
                lead = flight is None and not head
                if lead:
                    flight = self._flights[key] = _Flight()
                elif flight is not None:
                    flight.waiters += 1
            if flight is None:
                break
            if lead:
                return self._lead(key, fetch, flight, entry, purges)
            if not flight.done.wait(self.collapse_wait) or flight.outcome == "alone":
                break
            if flight.outcome == "stale":
                with self._lock:
                    stale = self._stale_if_error(key, self._entries.get(key), head)
                if stale is not None:
                    return stale
        with self._lock:
            entry, purges = self._entries.get(key), self._purges
        return self._miss(key, fetch, head, entry, purges)[0]

    def _cached(self, key: Key, fetch: Fetch, head: bool) -> Answer | None:
        """The cached answer when there is one to give now (the lock held): a fresh copy, or a
        stale one within stale-while-revalidate while one background request refreshes it."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        age = self.clock() - entry.stored
        if age < entry.life.ttl:
            return self._copy(entry, HIT, age, head)
        if age >= entry.life.ttl + entry.life.while_revalidate:
            return None
        # One refresh per page at a time; a HEAD's answer has no page to store.
        refresh = not entry.refreshing and not head
        entry.refreshing = entry.refreshing or refresh
        if refresh:
            threading.Thread(target=self._refresh, args=(key, fetch, self._purges),
                             name="edge-cache-refresh", daemon=True).start()
        return self._copy(entry, REFRESH_HIT, age, head)

    def _lead(self, key: Key, fetch: Fetch, flight: _Flight, entry: _Entry | None, purges: int) -> Answer:
        """Fetch ``key``'s page for this request and the ones that wait on ``flight``. Whatever
        happens, even ``fetch`` raising, the waiters are woken and the flight is gone."""
        try:
            answered, flight.outcome = self._miss(key, fetch, False, entry, purges)
            return answered
        finally:
            with self._lock:
                if self._flights.get(key) is flight:  # a purge may have let a newer request lead
                    del self._flights[key]
            flight.done.set()

    def _miss(self, key: Key, fetch: Fetch, head: bool, entry: _Entry | None, purges: int) -> tuple[Answer, str]:
        """Ask the function (the lock not held): its answer, stored when its headers allow, or the
        stale copy in place of its 5xx within stale-if-error; and what requests waiting for this
        one may do (_Flight.outcome)."""
        fetched = fetch()
        if fetched[0] >= 500 and entry is not None:
            with self._lock:
                stale = self._stale_if_error(key, entry, head)
            if stale is not None:
                return stale, "stale"
        storable = not head and self._store(key, fetched, purges)
        status, headers, body = fetched
        return (status, [*headers, ("X-Cache", MISS)], body), "cached" if storable else "alone"

    def _stale_if_error(self, key: Key, entry: _Entry | None, head: bool) -> Answer | None:
        """``entry``'s copy in place of an error, while it is still the cached one (not purged
        meanwhile) and within stale-if-error (the lock held)."""
        if entry is None or self._entries.get(key) is not entry:
            return None
        age = self.clock() - entry.stored
        if age >= entry.life.ttl + entry.life.if_error:
            return None
        return self._copy(entry, REFRESH_HIT, age, head)

    def purge(self, paths: Iterable[str]) -> int:
        """Drop every page whose target matches one of ``paths`` (check_purge_paths' syntax); the
        number of pages dropped."""
        paths = list(paths)
        with self._lock:
            self._purges += 1
            # A request that arrives after the purge does not wait for a page fetched before it.
            for key in [key for key in self._flights if any(_matches(key[0], path) for path in paths)]:
                del self._flights[key]
            gone = [key for key in self._entries if any(_matches(key[0], path) for path in paths)]
            for key in gone:
                self._drop(key)
        return len(gone)

    def _refresh(self, key: Key, fetch: Fetch, purges: int) -> None:
        """Fetch the page again in the background (stale-while-revalidate); a 5xx keeps the old copy."""
        try:
            fetched = fetch()
        finally:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None:
                    entry.refreshing = False
        if fetched[0] < 500:
            self._store(key, fetched, purges)

    def _store(self, key: Key, fetched: Answer, purges: int) -> bool:
        """Store the answer when its headers allow; whether it was storable (stored, or left out
        only because a purge came while it was fetched)."""
        status, headers, body = fetched
        life = lifetime(status, headers, self.ttls)
        size = len(body) + sum(len(n) + len(v) for n, v in headers)
        storable = life is not None and size <= self.max_bytes
        with self._lock:
            if purges != self._purges:
                return storable  # fetched before a purge: it may be what the purge took out
            self._drop(key)
            if life is None or not storable:
                return False
            self._entries[key] = _Entry(fetched, self.clock(), life, size)
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))
        return True

    def _drop(self, key: Key) -> None:
        """Remove ``key``'s page (the lock held)."""
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.size

    @staticmethod
    def _copy(entry: _Entry, x_cache: str, age: float, head: bool) -> Answer:
        status, headers, body = entry.answer
        return status, [*headers, ("X-Cache", x_cache), ("Age", str(int(age)))], b"" if head else body
