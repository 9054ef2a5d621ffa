"""The local front door of ``wplambda serve``: what CloudFront, S3 and API Gateway do when deployed.

Static paths are answered from the build's ``assets/`` (as the assets bucket would) and uploads
from a local directory or an S3-compatible bucket (:mod:`wp_lambda.local.s3_uploads`);
``*.php`` and everything else becomes an HTTP API payload v2 event handed to the Lambda handler
through the Runtime API emulator. The event carries the real Host, cookies and body, so
WordPress behaves exactly as it does deployed.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote

from wp_lambda.assets_sync import cache_control, content_type
from wp_lambda.config import Assets
from wp_lambda.local import ranges
from wp_lambda.runtime import contract, routing
from wp_lambda.runtime.events import INIT_HEADER

log = logging.getLogger("wplambda.serve")

Invoke = Callable[[dict[str, Any]], dict[str, Any]]


Response = tuple[int, list[tuple[str, str]], bytes]


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
             scheme: str) -> dict[str, Any]:
    """An HTTP API payload v2 event, shaped as API Gateway sends it."""
    path, _, query = target.partition("?")
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    merged.setdefault("x-forwarded-proto", scheme)
    merged["x-forwarded-for"] = client_ip
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

    def _respond(self) -> None:
        started = time.perf_counter()
        method = self.command
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        routes = self.server.routes
        origin = route(path, routes.efs)
        cold: bool | None = None
        request_headers = {k.lower(): v for k, v in self.headers.items()}
        if origin == contract.FUNCTION_ORIGIN:
            status, headers, payload, cold = self._invoke(method, body)
        else:
            bucket = routes.uploads if origin == contract.UPLOADS_ORIGIN else routes.assets
            status, headers, payload = bucket.fetch(path.lstrip("/"), request_headers, head=method == "HEAD")
            if origin == contract.ASSETS_THEN_FUNCTION:
                origin = contract.ASSETS_ORIGIN
                if status in contract.FAILOVER_STATUSES:
                    status, headers, payload, cold = self._invoke(method, body)
                    origin = contract.FUNCTION_ORIGIN
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if payload:
            self.wfile.write(payload)
        elapsed = (time.perf_counter() - started) * 1000
        kind = origin if origin != contract.FUNCTION_ORIGIN else ("cold" if cold else "warm")
        # The request body's size: what would count against Lambda's 6 MB invocation payload.
        self.server.log_request_line(f"{method} {self.path} {status} {elapsed:.0f}ms {kind} in={len(body)}B")

    def _invoke(self, method: str, body: bytes) -> tuple[int, list[tuple[str, str]], bytes, bool | None]:
        """The request as an HTTP API event to the handler; its answer, with a correct length."""
        event = to_event(method, self.path, list(self.headers.items()), body, self.client_address[0],
                         self.server.scheme)
        cold = None
        try:
            status, headers, payload, cold = from_result(self.server.invoke(event))
        except Exception as exc:
            log.error("handler invocation failed: %s", exc)
            status, headers, payload = 502, [("Content-Type", "text/plain")], b"Bad Gateway\n"
        headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "transfer-encoding")]
        headers.append(("Content-Length", str(len(payload))))
        return status, headers, b"" if method == "HEAD" else payload, cold

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _respond

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are logged once, by :meth:`_respond`, in the kit's own one-line format."""


class Gateway(ThreadingHTTPServer):
    """A threaded HTTP server; each request is routed as the deployed CloudFront would."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], *, routes: Routes, invoke: Invoke,
                 log_line: Callable[[str], None], scheme: str = "http") -> None:
        super().__init__(address, _Handler)
        self.routes = routes
        self.invoke = invoke
        self.scheme = scheme
        self.log_request_line = log_line
