"""The local front door of ``wplambda serve``: what CloudFront, S3 and API Gateway do when deployed.

Static paths are answered from the build's ``assets/`` (as the assets bucket would) and uploads
from a local directory or an S3-compatible bucket (:mod:`wp_lambda.local.s3_uploads`);
``*.php`` and everything else becomes an HTTP API payload v2 event handed to the Lambda handler
through the Runtime API emulator. The event carries the Host, cookies and body, so WordPress
behaves exactly as it does deployed.

It also holds the line an edge would hold (:class:`Limits`): a body over Lambda's request payload
quota is refused before it is read, a malformed ``Content-Length`` gets 400, a client that stops
sending gets 408, a ``Host`` that is not serve's own gets 421 (so no link, redirect or mail can name
another site), and ``X-Forwarded-*`` are the gateway's own, never the client's. Every response
carries the security headers the distribution's response headers policy adds
(:func:`wp_lambda.runtime.contract.security_headers`). Pages the function answers pass through
the page cache as the distribution's (:mod:`wp_lambda.local.edge_cache`), which the runtime purges
through ``POST`` contract.LOCAL_PURGE_PATH.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote

from wp_lambda.assets_sync import cache_control, content_type
from wp_lambda.config import Assets
from wp_lambda.local import edge_cache, ranges
from wp_lambda.local.mailbox import MailboxPage
from wp_lambda.local.request_body import Refused, body_length, cross_site
from wp_lambda.local.runtime_api import Throttled
from wp_lambda.runtime import contract, routing
from wp_lambda.runtime.cgi import AUTHORIZATION_COPY_HEADER, ORIGIN_SECRET_HEADER, VIEWER_ADDRESS_HEADER
from wp_lambda.runtime.contract import LAMBDA_REQUEST_LIMIT
from wp_lambda.runtime.events import INIT_HEADER

log = logging.getLogger("wplambda.serve")

Invoke = Callable[[dict[str, Any]], dict[str, Any]]


Response = tuple[int, list[tuple[str, str]], bytes]

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "[::1]"})
_WILDCARD = frozenset({"", "0.0.0.0", "::"})
# Headers only the edge sets deployed (CloudFront overwrites a viewer's copy of its origin custom
# header, the distribution's function sets X-Forwarded-Host and the runtime's private headers,
# CloudFront-* are CloudFront's own):
# the gateway plays that edge, so a client's copies never reach the event, whatever serve trusts.
_EDGE_ONLY = frozenset({ORIGIN_SECRET_HEADER, "x-forwarded-host", AUTHORIZATION_COPY_HEADER, VIEWER_ADDRESS_HEADER,
                        contract.CACHE_BYPASS_HEADER.lower()})
# What the distribution's response headers policy adds, from the same definition. serve is plain
# HTTP on no domain of its own, so no HSTS, as deployed without site.domains.
_SECURITY_HEADERS = contract.security_headers(own_domain=False)
# The largest purge request read: thousands of paths, far more than one change affects.
PURGE_BODY_LIMIT = 256 * 1024


@dataclass(frozen=True)
class Limits:
    """Every limit the gateway enforces, in one place."""

    # The largest request body accepted (413 above it); ``serve --max-body`` raises it.
    max_body: int = LAMBDA_REQUEST_LIMIT
    # Seconds a connection may go without sending a byte (request line, headers or body): a
    # trickling body is answered 408 and closed, an idle keep-alive connection is closed. Long
    # enough for a slow network, short enough that a stalled client does not hold a thread.
    read_timeout: float = 20.0
    # After a refusal, seconds the gateway keeps reading (and discarding) what the client still
    # sends, as nginx's lingering close does: a client that is mid-upload reads the 413 instead of
    # a connection reset, and nothing of it is kept.
    linger: float = 2.0
    # What the front door answers when Lambda throttles the function (serve --concurrency): see
    # throttle_status.
    throttle_status: int = 503


def throttle_status(front_door: str) -> int:
    """The status a viewer's request gets when the site's function is at its reserved concurrency.

    Lambda refuses a synchronous invocation beyond it with a throttling error, status 429
    (https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html), and a Function URL
    passes that on. An HTTP API answers its integration's failure with a 5xx of its own; AWS's
    pages do not pin the code for a throttle, and 503 Service Unavailable is the one serve gives.
    What follows matters more than the number: CloudFront serves a cached copy in place of a 5xx
    (stale-if-error), never of a 4xx, so only behind an HTTP API does a throttled visitor to a
    cached page get the page (docs/guides/deploy.md).
    """
    return 429 if front_door == "function-url" else 503


def own_hosts(host: str, port: int) -> frozenset[str]:
    """The ``Host`` values serve answers to: its address and port, plus every loopback name when it
    listens on loopback or on all addresses (and the machine's name for the latter; ``0.0.0.0``
    itself stays, as serve prints its URL with it).

    Without a custom domain WordPress builds its links, redirects and mails from ``Host``; serve
    has no CloudFront secret to vouch for another, so any other value is refused, which also
    keeps a DNS-rebinding page from reading the site.
    """
    names = {f"[{host}]" if ":" in host else host}
    if host in _LOOPBACK or host == "::1" or host.startswith("127.") or host in _WILDCARD:
        names |= _LOOPBACK
    if host in _WILDCARD:
        names.add(socket.gethostname())
    return frozenset(f"{name.lower()}:{port}" for name in names if name)


def authority(host: str) -> str:
    """A ``Host`` value as ``name:port`` in lower case, port 80 when it names none."""
    value = host.strip().lower()
    return value if ":" in value.rsplit("]", 1)[-1] else f"{value}:80"


class Origin(Protocol):
    """Where CloudFront's static behaviours read from: a bucket, or a local stand-in for one."""

    def fetch(self, key: str, request_headers: dict[str, str], *, head: bool) -> Response:
        """The answer for ``key``: the URL path without its leading slash, still URL-encoded."""
        ...


@dataclass(frozen=True)
class Directory:
    """A bucket stand-in: the object at ``key`` is the file ``root/<key without strip>``, served
    with the Content-Type and Cache-Control that sync-assets would have uploaded it with."""

    root: Path
    caching: Assets
    strip: str = ""

    def fetch(self, key: str, request_headers: dict[str, str], *, head: bool) -> Response:
        return static_response(_safe_file(self.root, key.removeprefix(self.strip)), key, request_headers,
                               caching=self.caching, head=head)


@dataclass(frozen=True)
class Routes:
    """The origins of the static behaviours: the assets bucket and the uploads bucket; with
    ``efs``, plugin and theme files fall back from the assets bucket to the function."""

    assets: Origin
    uploads: Origin
    efs: bool = False


def route(path: str, efs: bool = False) -> str:
    """Which origin a path goes to: the deployed distribution's cache behaviours, in their order
    (``function``, ``uploads``, ``assets``, or with storage.mode = "efs" ``assets-then-function``,
    the template's origin group). Both read :mod:`wp_lambda.runtime.contract`."""
    return contract.origin_for(path, efs)


def _safe_file(root: Path, url_path: str) -> Path | None:
    """The file under ``root`` for a URL path, or None for anything outside it or hidden.

    The traversal rules are the runtime's own (:func:`wp_lambda.runtime.routing.unsafe`), so the
    local stand-in for the buckets refuses exactly what the handler refuses.
    """
    if routing.unsafe(url_path):
        return None
    parts = [p for p in unquote(url_path).split("/") if p]
    if any(p.startswith(".") for p in parts):
        return None
    try:
        resolved = root.joinpath(*parts).resolve()
        if not resolved.is_relative_to(root.resolve()) or not resolved.is_file():
            return None
    except OSError:
        return None
    return resolved


def plain_response(status: int, text: str, head: bool) -> Response:
    """A short text/plain answer; with Content-Length, since the gateway keeps connections open."""
    body = f"{text}\n".encode()
    return status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))], b"" if head else body


def static_response(file: Path | None, key: str, request_headers: dict[str, str], *, caching: Assets,
                    head: bool) -> Response:
    """What the bucket would answer for ``key`` after sync-assets: the same Content-Type and
    Cache-Control it uploads with, plus ETag, Last-Modified and 304 support."""
    if file is None:
        return plain_response(404, "Not Found", head)
    stat = file.stat()
    etag = '"' + hashlib.md5(f"{stat.st_size}-{stat.st_mtime_ns}".encode(), usedforsecurity=False).hexdigest() + '"'
    headers = [
        ("Content-Type", content_type(key)),
        ("Cache-Control", cache_control(key, caching)),
        ("ETag", etag),
        ("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True)),
    ]
    if request_headers.get("if-none-match") == etag:
        return 304, headers, b""
    headers.append(("Accept-Ranges", "bytes"))
    try:
        selected = ranges.resolve(request_headers.get("range"), stat.st_size)
    except ranges.Unsatisfiable as exc:
        return unsatisfiable(exc.size, head)
    if selected is None:
        headers.append(("Content-Length", str(stat.st_size)))
        return 200, headers, b"" if head else file.read_bytes()
    headers += [("Content-Range", selected.content_range), ("Content-Length", str(selected.length))]
    if head:
        return 206, headers, b""
    with file.open("rb") as stream:
        stream.seek(selected.start)
        return 206, headers, stream.read(selected.length)


def unsatisfiable(size: int, head: bool) -> Response:
    """416 as S3 answers it: the object's size in ``Content-Range``, so a player can retry."""
    status, headers, body = plain_response(416, "Requested Range Not Satisfiable", head)
    return status, [*headers, ("Content-Range", f"bytes */{size}")], body


def to_event(method: str, target: str, headers: list[tuple[str, str]], body: bytes, client_ip: str,
             scheme: str, port: int = 80) -> dict[str, Any]:
    """An HTTP API payload v2 event, shaped as API Gateway sends it.

    ``X-Forwarded-Proto``, ``-For`` and ``-Port`` are the gateway's, replacing any the client sent,
    as API Gateway sets them: the runtime takes HTTPS from the proto (a client's ``https`` over
    plain HTTP would make WordPress link and redirect to https), and PHP code that reads the
    forwarded address must see the peer's, not one the client made up.
    """
    path, _, query = target.partition("?")
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key in _EDGE_ONLY or key.startswith("cloudfront-"):
            continue
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    merged["x-forwarded-proto"] = scheme
    merged["x-forwarded-for"] = client_ip
    merged["x-forwarded-port"] = str(port)
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": merged,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": merged.get("host", "localhost"),
            "domainPrefix": merged.get("host", "localhost").split(".")[0],
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": client_ip,
                     "userAgent": merged.get("user-agent", "")},
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": bool(body),
    }
    if cookies:
        event["cookies"] = cookies
    if body:
        event["body"] = base64.b64encode(body).decode()
    return event


def from_result(result: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes, bool | None]:
    """HTTP status, headers (one Set-Cookie each), body and cold/warm from a v2 handler result."""
    status = int(result.get("statusCode", 200))
    headers: list[tuple[str, str]] = []
    cold = None
    for name, value in (result.get("headers") or {}).items():
        if name.lower() == INIT_HEADER.lower():
            cold = value == "cold"
            continue
        headers.append((name, str(value)))
    headers.extend(("Set-Cookie", cookie) for cookie in result.get("cookies") or [])
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return status, headers, body, cold


class _Handler(BaseHTTPRequestHandler):
    server: Gateway
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Each read (and write) on the socket that makes no progress for this long raises
        # TimeoutError: 408 for a body, a silent close for an idle keep-alive connection.
        self.connection.settimeout(self.server.limits.read_timeout)

    def _respond(self) -> None:
        started = time.perf_counter()
        try:
            length = self._admit()
        except Refused as refused:
            self._refuse(refused.status, refused.reason, started)
            return
        path = self.path.split("?", 1)[0]
        if path == contract.LOCAL_PURGE_PATH:
            self._purge(length, started)
            return
        body = self._read_body(length, started)
        if body is None:
            return
        method = self.command
        routes = self.server.routes
        origin = route(path, routes.efs)
        cold: bool | None = None
        request_headers = {k.lower(): v for k, v in self.headers.items()}
        if path == contract.LOCAL_MAIL_PATH and self.server.mailbox is not None:
            # serve's own page, answered here: never an event, never WordPress.
            status, headers, payload = self.server.mailbox.answer(method, self.path, request_headers)
            self._send(status, headers, payload)
            self._log(started, str(status), "mailbox")
            return
        x_cache = ""
        if origin == contract.FUNCTION_ORIGIN:
            status, headers, payload, cold, x_cache = self._function(method, body, request_headers)
        else:
            bucket = routes.uploads if origin == contract.UPLOADS_ORIGIN else routes.assets
            status, headers, payload = bucket.fetch(path.lstrip("/"), request_headers, head=method == "HEAD")
            if origin == contract.ASSETS_THEN_FUNCTION:
                origin = contract.ASSETS_ORIGIN
                if status in contract.FAILOVER_STATUSES:
                    status, headers, payload, cold = self._call(self._event(method, body), method)
                    origin = contract.FUNCTION_ORIGIN
        self._send(status, headers, payload)
        kind = origin if origin != contract.FUNCTION_ORIGIN else ("cold" if cold else "warm")
        if x_cache and x_cache != edge_cache.MISS:
            kind = x_cache.split()[0].lower()  # hit, refreshhit: the function was not waited for
        # The request body's size: what would count against Lambda's 6 MB invocation payload.
        self._log(started, str(status), f"{kind} in={len(body)}B")

    def _read_body(self, length: int, started: float) -> bytes | None:
        """The request's body, or None once a client that stopped sending has been answered."""
        try:
            body = self.rfile.read(length) if length else b""
        except TimeoutError:
            self._refuse(408, f"no body bytes for {self.server.limits.read_timeout:g}s", started)
            return None
        if len(body) < length:
            self.close_connection = True
            self._log(started, "-", f"closed: the client sent {len(body)} of {length} body bytes")
            return None
        return body

    def _function(self, method: str, body: bytes, request_headers: dict[str, str],
                  ) -> tuple[int, list[tuple[str, str]], bytes, bool | None, str]:
        """The function's answer, through the page cache when the request may share one: status,
        headers, body, cold or warm (None when the function was not waited for), X-Cache."""
        cache = self.server.cache
        bypass = cache is None or cache.bypasses(method, self.path, self.headers.items())
        event = self._event(method, body)
        if cache is not None and bypass:
            # As the viewer-request function: a bypass request is marked with its own id, and the
            # runtime answers it private, no-store.
            event["headers"][contract.CACHE_BYPASS_HEADER.lower()] = event["requestContext"]["requestId"]
        if cache is None or bypass:
            return (*self._call(event, method), "")
        # CloudFront sends the origin only the Accept-Encoding it normalised into the key, never the
        # viewer's own
        # (https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ParametersInCacheKeyAndForwardedToOrigin.html,
        # https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/ServingCompressedFiles.html).
        # serve's key records gzip or not, so PHP gets "gzip" or nothing: a deflate or br body is
        # never stored under the key of a viewer that cannot read it.
        key = cache.key(self.path, request_headers)
        event["headers"].pop("accept-encoding", None)
        if key[1]:
            event["headers"]["accept-encoding"] = "gzip"
        colds: list[bool | None] = []

        def fetch() -> Response:
            # The event is made now: a background refresh runs after this connection moved on.
            fetched_status, fetched_headers, fetched_payload, cold = self._call(event, method)
            colds.append(cold)
            return fetched_status, fetched_headers, fetched_payload

        status, headers, payload = cache.answer(key, fetch, head=method == "HEAD")
        x_cache = next((v for k, v in headers if k == "X-Cache"), "")
        return status, headers, payload, colds[0] if colds and x_cache == edge_cache.MISS else None, x_cache

    def _purge(self, length: int, started: float) -> None:
        """POST contract.LOCAL_PURGE_PATH: the runtime's invalidation, in place of CloudFront's.

        Only a program on this machine holding this run's token may purge: the peer must be a
        loopback address (or serve's own), the request must not look sent by a browser (a page
        could otherwise make the developer's browser flush the cache over and over), the token is
        compared in constant time, and the body is read only when it is small.
        """
        refused = self._purge_refusal(length)
        if refused is not None:
            self._refuse(*refused, started)
            return
        body = self._read_body(length, started)
        if body is None:
            return
        token = self.server.purge_token
        given = self.headers.get("Authorization", "")
        if token is None or not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            self._refuse(403, "the purge endpoint needs this run's token (Authorization: Bearer ...)", started)
            return
        try:
            paths = edge_cache.check_purge_paths(json.loads(body).get("paths"))
        except (ValueError, AttributeError) as exc:
            self._refuse(400, f'send JSON {{"paths": ["/path", "/prefix*"]}}: {exc}', started)
            return
        purged = self.server.cache.purge(paths) if self.server.cache is not None else 0
        payload = json.dumps({"purged": purged}).encode()
        self._send(200, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))], payload)
        self._log(started, "200", f"purge paths={len(paths)} pages={purged}")

    def _purge_refusal(self, length: int) -> tuple[int, str] | None:
        """Why a request to the purge endpoint is refused before its body is read, or None."""
        if self.command != "POST":
            return 405, "the purge endpoint takes POST only"
        peer = self.client_address[0]
        address = ipaddress.ip_address(peer.split("%", 1)[0])
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        if not (address.is_loopback or (mapped is not None and mapped.is_loopback)
                or peer == self.server.server_address[0]):
            return 403, "the purge endpoint answers this machine only"
        browser = cross_site(self.headers, self.server.hosts)
        if browser is not None:
            return 403, f"the purge endpoint refuses this request: {browser}"
        if length > PURGE_BODY_LIMIT:
            return 413, f"a purge body is at most {PURGE_BODY_LIMIT} bytes"
        return None

    def _admit(self) -> int:
        """The body's length once the request line, ``Host`` and length are acceptable; raises
        :class:`Refused` otherwise, with nothing of the body read yet."""
        if not self.path.startswith("/"):
            raise Refused(400, "the request target must be a path (no absolute URL)")
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1:
            raise Refused(400, "exactly one Host header is required")
        if authority(hosts[0]) not in self.server.hosts:
            # The refusal does not echo the Host: nothing a client sends comes back as the site's.
            raise Refused(421, f"this Host is not this site's: use {self.server.url}")
        return body_length(self.headers.get_all("Content-Length") or [], self.headers.get("Transfer-Encoding"),
                           self.server.limits.max_body, lift_hint="; serve --max-body raises it")

    def _refuse(self, status: int, reason: str, started: float) -> None:
        """Answer a client's mistake in one line and close: the unread body must not be parsed
        as the next request."""
        self.close_connection = True
        _, headers, payload = plain_response(status, reason, self.command == "HEAD")
        try:
            self._send(status, [*headers, ("Connection", "close")], payload)
            self.wfile.flush()
        except OSError:  # the client is gone already: the log line says what happened
            self._log(started, str(status), f"refused: {reason} (the client did not wait for the answer)")
            return
        self._log(started, str(status), f"refused: {reason}")
        with contextlib.suppress(OSError):
            self._linger()

    def _linger(self) -> None:
        """Discard what the client still sends, for at most ``Limits.linger`` seconds, then close."""
        self.connection.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + self.server.limits.linger
        while (left := deadline - time.monotonic()) > 0:
            self.connection.settimeout(left)
            if not self.connection.recv(65536):
                return

    def _send(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        """Send one response, with the security headers the distribution would add to it."""
        self.send_response(status)
        for name, value in contract.add_security_headers(headers, _SECURITY_HEADERS):
            self.send_header(name, value)
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def _log(self, started: float, status: str, outcome: str) -> None:
        """One line per request (docs/internals.md): ``METHOD PATH STATUS Nms OUTCOME``."""
        elapsed = (time.perf_counter() - started) * 1000
        # The mailbox page's query carries the run's token: never in the log, even for a refusal.
        target = contract.LOCAL_MAIL_PATH if self.path.startswith(contract.LOCAL_MAIL_PATH + "?") else self.path
        self.server.log_request_line(f"{self.command} {target} {status} {elapsed:.0f}ms {outcome}")

    def _event(self, method: str, body: bytes) -> dict[str, Any]:
        """The request as an HTTP API event to the handler."""
        return to_event(method, self.path, list(self.headers.items()), body, self.client_address[0],
                        self.server.scheme, self.server.server_address[1])

    def _call(self, event: dict[str, Any], method: str) -> tuple[int, list[tuple[str, str]], bytes, bool | None]:
        """The handler's answer to ``event``, with a correct length. Reads nothing of this
        connection, so a background refresh may call it after the connection moved on."""
        cold = None
        try:
            status, headers, payload, cold = from_result(self.server.invoke(event))
        except Throttled:
            status = self.server.limits.throttle_status
            headers = [("Content-Type", "application/json")]
            payload = json.dumps({"message": HTTPStatus(status).phrase}).encode()
        except Exception as exc:
            log.error("handler invocation failed: %s", exc)
            status, headers, payload = 502, [("Content-Type", "text/plain")], b"Bad Gateway\n"
        headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "transfer-encoding")]
        headers.append(("Content-Length", str(len(payload))))
        return status, headers, b"" if method == "HEAD" else payload, cold

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _respond

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are logged once, by :meth:`_respond`, in the kit's own one-line format."""

    def log_error(self, format: str, *args: Any) -> None:
        """http.server's own refusals (a malformed request line, headers over its limits): one line
        each. An idle keep-alive connection reaching the read timeout is closed without one."""
        message = format % args
        if not message.startswith("Request timed out"):
            self.server.log_request_line(f"{getattr(self, 'requestline', '') or '-'} refused: {message}")


class Gateway(ThreadingHTTPServer):
    """A threaded HTTP server; each request is routed as the deployed CloudFront would."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], *, routes: Routes, invoke: Invoke,
                 log_line: Callable[[str], None], scheme: str = "http", limits: Limits = Limits(),
                 cache: edge_cache.EdgeCache | None = None, purge_token: str | None = None,
                 mailbox: MailboxPage | None = None) -> None:
        super().__init__(address, _Handler)
        # The page cache ([cache] pages; None: serve --no-cache, or pages off), as the distribution's.
        self.cache = cache
        # The bearer token of contract.LOCAL_PURGE_PATH (None: nobody may purge).
        self.purge_token = purge_token
        self.routes = routes
        self.invoke = invoke
        self.scheme = scheme
        self.limits = limits
        self.log_request_line = log_line
        self.mailbox = mailbox
        port = self.server_address[1]
        self.hosts = own_hosts(address[0], port)
        self.url = f"{scheme}://{'[' + address[0] + ']' if ':' in address[0] else address[0]}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that failed (reset, broken pipe, garbage): one line, no traceback; a
        client's mistake is not the gateway's error. The traceback stays available at debug level."""
        exc = sys.exc_info()[1]
        self.log_request_line(f"connection from {client_address[0]} dropped: {type(exc).__name__}: {exc}")
        log.debug("connection from %s dropped", client_address[0], exc_info=True)
