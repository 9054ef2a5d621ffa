"""A local Lambda Runtime API, so the handler runs under AWS's own ``awslambdaric`` as on Lambda.

The emulator implements the runtime side of the API (``/2018-06-01/runtime/invocation/next``,
``.../{id}/response``, ``.../{id}/error``, ``/runtime/init/error``) over HTTP/1.1 with the
``Lambda-Runtime-*`` headers. Callers submit events from Python (:meth:`RuntimeAPI.invoke`) and
any number of runtime processes long-poll ``next``: each invocation goes to exactly one of them,
which is how ``wplambda serve`` gets several concurrent workers from one front.

Starting the runtime processes that poll it is :mod:`wp_lambda.local.runtime_process`'s part.
"""

from __future__ import annotations

import contextlib
import json
import queue
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

from wp_lambda.local.loopback import LoopbackServer

PREFIX = "/2018-06-01/runtime"
RESPONSE_LIMIT = 6 * 1024 * 1024


class InvocationError(RuntimeError):
    """The function reported an error (the runtime posted to ``/error``)."""

    def __init__(self, payload: Any, error_type: str) -> None:
        self.payload = payload
        self.error_type = error_type
        message = payload.get("errorMessage") if isinstance(payload, dict) else payload
        super().__init__(f"{error_type}: {message}")


class InvocationTimeout(TimeoutError):
    """No runtime answered the invocation before its deadline."""


class Throttled(RuntimeError):
    """The function already runs its reserved concurrency's worth of invocations (``serve
    --concurrency``): Lambda refuses the invocation rather than queueing it."""


@dataclass
class Invocation:
    """One submitted event; :meth:`result` waits for the runtime's answer."""

    event: Any
    timeout: float
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    trace_id: str = field(default_factory=lambda: f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}")
    deadline_ms: int = 0
    payload: Any = None
    error_type: str | None = None
    done: threading.Event = field(default_factory=threading.Event)
    # Set when the caller gave up; a runtime never picks up an abandoned event.
    abandoned: bool = False

    def result(self, grace: float = 2.0) -> Any:
        """The function's return value; raises InvocationError or InvocationTimeout.

        The wait covers time in the queue too, so an event no runtime picked up in time is
        abandoned rather than run late.
        """
        if not self.done.wait(self.timeout + grace):
            self.abandoned = True
            raise InvocationTimeout(f"invocation {self.request_id} got no answer within {self.timeout:g} s "
                                    "(is a runtime process polling this emulator?)")
        if self.error_type is not None:
            raise InvocationError(self.payload, self.error_type)
        return self.payload


class RuntimeAPI:
    """The emulator. Use as a context manager, or :meth:`start` / :meth:`stop`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, timeout: float = 30.0,
                 function_name: str = "wplambda-local", region: str = "us-east-1",
                 concurrency: int | None = None) -> None:
        self.timeout = timeout
        # Reserved concurrency: at most this many invocations through invoke() at once, the rest
        # refused at once (Throttled), as Lambda throttles a function at its reservation:
        # https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
        self.concurrency = concurrency
        self._slots = threading.BoundedSemaphore(concurrency) if concurrency else None
        self.function_arn = f"arn:aws:lambda:{region}:000000000000:function:{function_name}"
        self.init_errors: list[Any] = []
        # SnapStart: a runtime initialized with AWS_LAMBDA_INITIALIZATION_TYPE=snap-start runs its
        # before-snapshot hooks, then asks for restore/next; the emulator "restores" at once.
        self.restores = 0
        self.restore_errors: list[Any] = []
        self._pending: queue.Queue[Invocation] = queue.Queue()
        self._running: dict[str, Invocation] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._polling = 0
        self._http = LoopbackServer(host, port, _handler_class(self), "runtime-api")

    @property
    def address(self) -> str:
        """``host:port``, the value of ``AWS_LAMBDA_RUNTIME_API`` for runtime processes."""
        return self._http.address

    def start(self) -> RuntimeAPI:
        self._http.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        self._http.stop()

    def __enter__(self) -> RuntimeAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def polling(self) -> int:
        """How many runtime processes are waiting in ``next`` right now (ready for an event)."""
        return self._polling

    def submit(self, event: Any, timeout: float | None = None) -> Invocation:
        """Queue ``event`` for the next runtime that polls; returns at once."""
        invocation = Invocation(event, self.timeout if timeout is None else timeout)
        self._pending.put(invocation)
        return invocation

    def invoke(self, event: Any, timeout: float | None = None) -> Any:
        """Submit ``event`` and wait for the function's return value; raises :class:`Throttled`
        when ``concurrency`` invocations are in flight already."""
        if self._slots is None:
            return self.submit(event, timeout).result()
        if not self._slots.acquire(blocking=False):
            raise Throttled(f"{self.concurrency} invocation(s) in flight, the function's reserved concurrency")
        try:
            return self.submit(event, timeout).result()
        finally:
            self._slots.release()

    # -- called by the HTTP handler --------------------------------------------------------------

    def _next(self, connected: Callable[[], bool]) -> Invocation | None:
        with self._lock:
            self._polling += 1
        try:
            invocation = self._take(connected)
        finally:
            with self._lock:
                self._polling -= 1
        if invocation is not None:
            # The deadline starts when a runtime picks the event up, as Lambda's does.
            invocation.deadline_ms = int((time.time() + invocation.timeout) * 1000)
            with self._lock:
                self._running[invocation.request_id] = invocation
        return invocation

    def _take(self, connected: Callable[[], bool]) -> Invocation | None:
        # A runtime that died while polling must not be handed an event it will never answer.
        while not self._closing.is_set() and connected():
            try:
                invocation = self._pending.get(timeout=0.2)
            except queue.Empty:
                continue
            if not invocation.abandoned:
                return invocation
        return None

    def _finish(self, request_id: str, payload: Any, error_type: str | None) -> bool:
        with self._lock:
            invocation = self._running.pop(request_id, None)
        if invocation is None:
            return False
        invocation.payload, invocation.error_type = payload, error_type
        invocation.done.set()
        return True


def _handler_class(api: RuntimeAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: one line per poll would drown the function's own log."""

        def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            # A runtime that was stopped while polling has closed its end: nobody to answer.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        def _connected(self) -> bool:
            """False once the runtime closed its end (a readable socket with nothing to read)."""
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return True
            try:
                return self.connection.recv(1, socket.MSG_PEEK) != b""
            except OSError:
                return False

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:
            if self.path == f"{PREFIX}/restore/next":
                api.restores += 1
                self._reply(200, {})
                return
            if self.path != f"{PREFIX}/invocation/next":
                self._reply(404, {"errorMessage": f"unknown path {self.path}", "errorType": "NotFound"})
                return
            invocation = api._next(self._connected)
            if invocation is None:
                self.close_connection = True
                self._reply(503, {"errorMessage": "emulator shutting down", "errorType": "ServiceUnavailable"})
                return
            self._reply(200, invocation.event, {
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
                "Lambda-Runtime-Trace-Id": invocation.trace_id,
            })

        def do_POST(self) -> None:
            body = self._body()
            parts = self.path.removeprefix(PREFIX).strip("/").split("/")
            if parts in (["init", "error"], ["restore", "error"]):
                (api.init_errors if parts[0] == "init" else api.restore_errors).append(_json_or_text(body))
                self._reply(202, {"status": "OK"})
                return
            if len(parts) != 3 or parts[0] != "invocation" or parts[2] not in ("response", "error"):
                self._reply(404, {"errorMessage": f"unknown path {self.path}", "errorType": "NotFound"})
                return
            request_id, kind = parts[1], parts[2]
            if kind == "response" and len(body) > RESPONSE_LIMIT:
                api._finish(request_id, {"errorMessage": f"Response payload size ({len(body)} bytes) exceeded "
                                         f"maximum allowed payload size ({RESPONSE_LIMIT} bytes).",
                                         "errorType": "Function.ResponseSizeTooLarge"}, "Function.ResponseSizeTooLarge")
                self._reply(413, {"errorMessage": "response too large", "errorType": "RequestEntityTooLarge"})
                return
            error_type = (self.headers.get("Lambda-Runtime-Function-Error-Type") or "Unhandled"
                          if kind == "error" else None)
            if not api._finish(request_id, _json_or_text(body), error_type):
                self._reply(400, {"errorMessage": f"invalid request id {request_id}", "errorType": "InvalidRequestID"})
                return
            self._reply(202, {"status": HTTPStatus.ACCEPTED.phrase})

    return Handler


def _json_or_text(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body.decode("utf-8", "replace")
