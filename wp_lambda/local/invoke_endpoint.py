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

The endpoint runs any PHP its caller sends, as the developer, so it answers only this run's
holder of :class:`InvokeCredentials` (kept 0600 in serve's state), and refuses before reading a
body anything that looks like a browser sent it: a foreign ``Host`` (DNS rebinding), ``Origin``
or ``Sec-Fetch-Site``, or a ``Content-Type`` a cross-site form may send without a preflight.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import hmac
import json
import secrets
import urllib.parse
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler
from typing import Any

from wp_lambda.local.loopback import LoopbackServer
from wp_lambda.local.request_body import Refused, body_length, cross_site
from wp_lambda.local.runtime_api import InvocationError, InvocationTimeout, RuntimeAPI
from wp_lambda.runtime.contract import LAMBDA_REQUEST_LIMIT

PATH_PREFIX = "/2015-03-31/functions/"
# Seconds a client may take to send a request's next bytes before its connection is dropped.
READ_TIMEOUT = 30
# How far a SigV4 X-Amz-Date may be from now: a captured request cannot be replayed later.
SIGNATURE_SKEW = datetime.timedelta(minutes=5)
SIGV4 = "AWS4-HMAC-SHA256"
BEARER = "Bearer"


@dataclass(frozen=True)
class InvokeCredentials:
    """One run's credentials for its invoke endpoint: an AWS-style key pair, so boto3 (or any AWS
    SDK) signs its Invoke requests with them as against AWS, and the endpoint verifies the SigV4
    signature with the secret; tools without a SigV4 signer (the kit's own ``--local`` client,
    curl) send ``Authorization: Bearer SECRET`` instead. The secret never appears in a repr."""

    access_key_id: str
    secret_access_key: str = field(repr=False)

    @classmethod
    def generate(cls) -> InvokeCredentials:
        return cls(f"WPLAMBDA{secrets.token_hex(6).upper()}", secrets.token_urlsafe(32))

    def bearer(self) -> str:
        """The ``Authorization`` header value of the bearer scheme."""
        return f"{BEARER} {self.secret_access_key}"

    def allows(self, method: str, target: str, headers: Message, body: bytes,
               now: datetime.datetime | None = None) -> bool:
        """Whether the request carries these credentials: a bearer header with the secret, or a
        SigV4 signature made with it (recomputed here, compared in constant time)."""
        authorization = headers.get("Authorization", "")
        scheme, _, rest = authorization.partition(" ")
        if scheme == BEARER:
            return hmac.compare_digest(rest.strip().encode(), self.secret_access_key.encode())
        if scheme == SIGV4:
            return self._signed(method, target, headers, body, rest, now or datetime.datetime.now(datetime.UTC))
        return False

    def _signed(self, method: str, target: str, headers: Message, body: bytes, fields: str,
                now: datetime.datetime) -> bool:
        """SigV4 as AWS verifies it: the canonical request rebuilt from what arrived, the string to
        sign over its hash, and the HMAC chain of the date-scoped key.
        https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html"""
        parts = dict(item.strip().partition("=")[::2] for item in fields.split(","))
        credential = parts.get("Credential", "").split("/")
        signed = parts.get("SignedHeaders", "").split(";")
        amz_date = headers.get("X-Amz-Date", "")
        if len(credential) != 5 or credential[4] != "aws4_request" or not {"host", "x-amz-date"} <= set(signed):
            return False
        key_id, day, region, service, _ = credential
        try:
            sent = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
        except ValueError:
            return False
        if day != amz_date[:8] or abs(now - sent) > SIGNATURE_SKEW:
            return False
        path, _, query = target.partition("?")
        pairs = sorted((urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~"))
                       for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True))
        lines = []
        for name in signed:
            values = headers.get_all(name)
            if not values:
                return False
            lines.append(f"{name}:{','.join(' '.join(str(v).split()) for v in values)}\n")
        canonical = "\n".join([
            method,
            urllib.parse.quote(path, safe="/~"),  # AWS services but S3 encode the (encoded) path again
            "&".join(f"{k}={v}" for k, v in pairs),
            "".join(lines),
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        ])
        scope = f"{day}/{region}/{service}/aws4_request"
        to_sign = f"{SIGV4}\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = f"AWS4{self.secret_access_key}".encode()
        for step in (day, region, service, "aws4_request"):
            key = hmac.new(key, step.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        # Both compared, neither short-circuiting the other: no timing tells which one was wrong.
        key_ok = hmac.compare_digest(key_id.encode(), self.access_key_id.encode())
        signature_ok = hmac.compare_digest(parts.get("Signature", "").encode(), expected.encode())
        return key_ok & signature_ok


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

    def __init__(self, functions: list[LocalFunction], credentials: InvokeCredentials, *, where: str,
                 port: int = 0) -> None:
        """``where`` tells a refused caller where the credentials are (a path, never the secret)."""
        self.functions = functions
        self.credentials = credentials
        self.where = where
        self._http = LoopbackServer("127.0.0.1", port, _handler_class(self), "invoke-endpoint")

    @property
    def own_hosts(self) -> frozenset[str]:
        """The ``Host`` values a request to this endpoint carries; any other is DNS rebinding."""
        port = self.address.rsplit(":", 1)[1]
        return frozenset({self.address, f"localhost:{port}"})

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
        timeout = READ_TIMEOUT

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

        def _body(self) -> bytes | None:
            """The request's body, or None once an error has been answered."""
            try:
                length = body_length(self.headers.get_all("Content-Length") or [],
                                     self.headers.get("Transfer-Encoding"), LAMBDA_REQUEST_LIMIT)
            except Refused as refused:
                self.close_connection = True
                if refused.status == 413:  # in Lambda's own words
                    self._error(413, "RequestTooLargeException", f"Request must be smaller than "
                                f"{LAMBDA_REQUEST_LIMIT} bytes for the InvokeFunction operation")
                else:
                    self._error(refused.status, "InvalidRequestContentException", refused.reason)
                return None
            return self.rfile.read(length)

        def do_POST(self) -> None:
            refused = cross_site(self.headers, endpoint.own_hosts)
            if refused is not None:
                self.close_connection = True
                self._error(403, "AccessDeniedException", f"the local invoke endpoint refuses this request: {refused}")
                return
            data = self._body()
            if data is None:
                return
            if not endpoint.credentials.allows("POST", self.path, self.headers, data):
                self._error(403, "UnrecognizedClientException",
                            f"the local invoke endpoint needs this run's credentials ({endpoint.where}): "
                            "sign with access_key_id/secret_access_key as boto3 does, or send "
                            "'Authorization: Bearer <secret_access_key>'")
                return
            path = urllib.parse.urlsplit(self.path).path
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
