"""A local Lambda ``Invoke`` endpoint, as ``sam local start-lambda`` gives one.

``POST /2015-03-31/functions/{name}/invocations`` on 127.0.0.1 hands the body to the function's
local Runtime API (:class:`wp_lambda.local.runtime_api.RuntimeAPI`) and answers as Lambda does:
200 with the return value, ``X-Amz-Function-Error: Unhandled`` with the error payload when the
function failed or ran out of time, ``x-amzn-RequestId``, 202 for ``Event`` and 204 for ``DryRun``
invocations, and 404 ``ResourceNotFoundException`` for an unknown function. So boto3 pointed at it
with ``AWS_ENDPOINT_URL_LAMBDA`` takes exactly the path it takes against AWS.

A function is found by its local name, its logical id (``ConsoleFunction``), or a name of the
shape CloudFormation gives a function it names itself (``<stack>-<LogicalId>-<suffix>``), with or
without an ARN prefix and a qualifier: a stack deployed elsewhere (moto in the tests) names the
functions, and this endpoint runs the local ones that have those logical ids.
"""

from __future__ import annotations

import contextlib
import json
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from wp_lambda.local.loopback import LoopbackServer
from wp_lambda.local.runtime_api import InvocationError, InvocationTimeout, RuntimeAPI

PATH_PREFIX = "/2015-03-31/functions/"


@dataclass(frozen=True)
class LocalFunction:
    """One function the endpoint serves: its logical id, local name and Runtime API."""

    logical_id: str
    name: str
    api: RuntimeAPI

    def matches(self, requested: str) -> bool:
        name = requested.split(":function:")[-1].split(":")[0]
        return name in (self.name, self.logical_id) or f"-{self.logical_id}-" in name


class InvokeEndpoint:
    """The endpoint's HTTP server; :meth:`start` serves in a thread, :meth:`stop` ends it."""

    def __init__(self, functions: list[LocalFunction], host: str = "127.0.0.1", port: int = 0) -> None:
        self.functions = functions
        self._http = LoopbackServer(host, port, _handler_class(self), "invoke-endpoint")

    @property
    def address(self) -> str:
        return self._http.address

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def find(self, requested: str) -> LocalFunction | None:
        return next((f for f in self.functions if f.matches(requested)), None)

    def start(self) -> InvokeEndpoint:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()


def _handler_class(endpoint: InvokeEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the function logs each invocation itself."""

        def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        def _error(self, status: int, error_type: str, message: str) -> None:
            body = json.dumps({"Type": "User", "message": message}).encode()
            self._reply(status, body, {"x-amzn-ErrorType": error_type, "x-amzn-RequestId": "local"})

        def do_POST(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not (path.startswith(PATH_PREFIX) and path.endswith("/invocations")):
                self._error(404, "UnknownOperationException", f"unknown path {path}")
                return
            requested = urllib.parse.unquote(path[len(PATH_PREFIX):-len("/invocations")])
            function = endpoint.find(requested)
            if function is None:
                known = ", ".join(f"{f.logical_id} ({f.name})" for f in endpoint.functions)
                self._error(404, "ResourceNotFoundException",
                            f"Function not found: {requested} (this local endpoint serves {known})")
                return
            try:
                event = json.loads(data) if data else {}
            except ValueError:
                self._error(400, "InvalidRequestContentException", "Could not parse request body into json")
                return
            kind = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
            if kind == "DryRun":
                self._reply(204, b"", {"x-amzn-RequestId": "dry-run"})
                return
            invocation = function.api.submit(event)
            headers = {"x-amzn-RequestId": invocation.request_id, "X-Amz-Executed-Version": "$LATEST"}
            if kind == "Event":
                self._reply(202, b"", headers)
                return
            try:
                payload = invocation.result()
            except InvocationError as exc:
                payload = exc.payload
                headers["X-Amz-Function-Error"] = "Unhandled"
            except InvocationTimeout:
                payload = {"errorType": "Sandbox.Timedout",
                           "errorMessage": f"{invocation.request_id} Task timed out after "
                                           f"{function.api.timeout:.2f} seconds"}
                headers["X-Amz-Function-Error"] = "Unhandled"
            self._reply(200, json.dumps(payload).encode(), headers)

    return Handler
