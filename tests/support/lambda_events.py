"""Events as each front door sends them, and their responses read back, for the runtime tests.

The shapes follow AWS's documented examples (docs/architecture.md#events-by-shape); ``Client`` plays a browser that
keeps cookies, so the same conversation can run through any event source.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

Headers = dict[str, str]


@dataclass
class Context:
    """What the handler uses of Lambda's context: the time left."""

    timeout: float = 30.0
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self.deadline - time.monotonic()) * 1000), 0)


def _body(body: bytes) -> tuple[str | None, bool]:
    if not body:
        return None, False
    return base64.b64encode(body).decode(), True


def v2(method: str, path: str, query: str = "", headers: Headers | None = None, cookies: list[str] | None = None,
       body: bytes = b"", stage: str = "$default") -> dict[str, Any]:
    """HTTP API payload 2.0 (a Function URL sends the same)."""
    text, b64 = _body(body)
    raw_path = path if stage == "$default" else f"/{stage}{path}"
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": "$default", "rawPath": raw_path, "rawQueryString": query,
        "headers": {"host": "abc123.execute-api.us-east-1.amazonaws.com", "x-forwarded-proto": "https",
                    "x-forwarded-port": "443", **{k.lower(): v for k, v in (headers or {}).items()}},
        "requestContext": {"accountId": "123456789012", "apiId": "abc123", "domainName":
                           "abc123.execute-api.us-east-1.amazonaws.com", "stage": stage,
                           "requestId": str(uuid.uuid4()), "timeEpoch": int(time.time() * 1000),
                           "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1",
                                    "sourceIp": "203.0.113.7", "userAgent": "pytest"}},
        "isBase64Encoded": b64,
    }
    if text is not None:
        event["body"] = text
    if cookies:
        event["cookies"] = cookies
    return event


def _multi_query(query: str, decode: bool) -> dict[str, list[str]] | None:
    if not query:
        return None
    out: dict[str, list[str]] = {}
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if decode:
            name, value = unquote(name.replace("+", " ")), unquote(value.replace("+", " "))
        out.setdefault(name, []).append(value)
    return out


def v1(method: str, path: str, query: str = "", headers: Headers | None = None, cookies: list[str] | None = None,
       body: bytes = b"", stage: str = "prod") -> dict[str, Any]:
    """REST API payload 1.0 with a named stage: ``path`` lacks it, ``requestContext.path`` has it."""
    all_headers = {"Host": "abc123.execute-api.us-east-1.amazonaws.com", "X-Forwarded-Proto": "https",
                   **(headers or {})}
    if cookies:
        all_headers["Cookie"] = "; ".join(cookies)
    multi_query = _multi_query(query, decode=True)
    text, b64 = _body(body)
    return {
        "resource": "/{proxy+}", "path": path, "httpMethod": method,
        "headers": all_headers, "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} if multi_query else None,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": {"proxy": path.lstrip("/")}, "stageVariables": None,
        "requestContext": {"accountId": "123456789012", "apiId": "abc123", "stage": stage,
                           "path": f"/{stage}{path}", "httpMethod": method, "requestId": str(uuid.uuid4()),
                           "identity": {"sourceIp": "203.0.113.7"}},
        "body": text, "isBase64Encoded": b64,
    }


def alb(method: str, path: str, query: str = "", headers: Headers | None = None, cookies: list[str] | None = None,
        body: bytes = b"", multi: bool = False) -> dict[str, Any]:
    """ALB target-group event; query values stay URL-encoded; ``multi``: multi-value headers on."""
    all_headers = {"host": "wp-alb-123.us-east-1.elb.amazonaws.com", "x-forwarded-proto": "https",
                   "x-forwarded-for": "203.0.113.7", **{k.lower(): v for k, v in (headers or {}).items()}}
    if cookies:
        all_headers["cookie"] = "; ".join(cookies)
    query_map = _multi_query(query, decode=False) or {}
    text, b64 = _body(body)
    event: dict[str, Any] = {
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
                                                     "targetgroup/wp/0123456789abcdef"}},
        "httpMethod": method, "path": path, "body": text or "", "isBase64Encoded": b64,
    }
    if multi:
        event["multiValueHeaders"] = {k: [v] for k, v in all_headers.items()}
        event["multiValueQueryStringParameters"] = query_map
    else:
        event["headers"] = all_headers
        event["queryStringParameters"] = {k: v[-1] for k, v in query_map.items()}
    return event


def alb_multi(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return alb(*args, multi=True, **kwargs)


def function_url(method: str, path: str, query: str = "", headers: Headers | None = None,
                 cookies: list[str] | None = None, body: bytes = b"") -> dict[str, Any]:
    """A Lambda Function URL's event: payload 2.0 on the URL's own domain, no stage in the path
    (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads)."""
    domain = "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws"
    event = v2(method, path, query, {"host": domain, **(headers or {})}, cookies, body)
    url_id = domain.split(".")[0]
    event["requestContext"].update(accountId="anonymous", apiId=url_id, domainName=domain, domainPrefix=url_id)
    return event


SOURCES: dict[str, Callable[..., dict[str, Any]]] = {"v2": v2, "v1": v1, "alb": alb, "alb-multi": alb_multi}


@dataclass
class Reply:
    """A response read back from any source's shape."""

    status: int
    headers: list[tuple[str, str]]
    cookies: list[str]
    body: bytes
    raw: dict[str, Any]

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def read_reply(result: dict[str, Any]) -> Reply:
    """Normalise a handler result of any source (v2 cookies[], multiValueHeaders, ALB header case)."""
    headers: list[tuple[str, str]] = []
    cookies: list[str] = list(result.get("cookies", []))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers += [(name, v) for v in values]
    for name, value in (result.get("headers") or {}).items():
        headers.append((name, value))
    cookies += [v for k, v in headers if k.lower() == "set-cookie"]
    headers = [(k, v) for k, v in headers if k.lower() != "set-cookie"]
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    return Reply(result["statusCode"], headers, cookies, data, result)


@dataclass
class Client:
    """A browser-like caller of the handler through one event source, keeping cookies."""

    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    source: Callable[..., dict[str, Any]] = v2
    host: str = "wp.test"
    jar: dict[str, str] = field(default_factory=dict)
    timeout: float = 30.0

    def request(self, method: str, path: str, query: str = "", body: bytes = b"",
                headers: Headers | None = None) -> Reply:
        all_headers = {"Host": self.host, **(headers or {})}
        cookies = [f"{k}={v}" for k, v in self.jar.items()]
        reply = read_reply(self.handler(self.source(method, path, query, all_headers, cookies or None, body),
                                        Context(self.timeout)))
        for raw in reply.cookies:
            jar: SimpleCookie = SimpleCookie()
            jar.load(raw)
            for name, morsel in jar.items():
                expires = morsel["expires"]
                if morsel.value in ("", "deleted") or (expires and "1970" in expires):
                    self.jar.pop(name, None)
                else:
                    self.jar[name] = morsel.value
        return reply

    def get(self, path: str, query: str = "", headers: Headers | None = None) -> Reply:
        return self.request("GET", path, query, headers=headers)

    def post_form(self, path: str, fields: dict[str, str] | list[tuple[str, str]], query: str = "") -> Reply:
        return self.request("POST", path, query, urlencode(fields).encode(),
                            {"Content-Type": "application/x-www-form-urlencoded"})


def multipart(fields: dict[str, str], files: dict[str, tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type; ``files``: name -> (filename, type, data)."""
    boundary = "----wplambda" + uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
                     + value.encode() + b"\r\n")
    for name, (filename, ctype, data) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f"Content-Type: {ctype}\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def form_fields(html: str, form_id: str | None = None) -> dict[str, str]:
    """Hidden and text inputs of a page's form (the nonces WordPress puts there)."""
    if form_id is not None:
        match = re.search(rf'<form[^>]*id="{re.escape(form_id)}".*?</form>', html, re.S)
        assert match, f"no form #{form_id} in the page"
        html = match.group(0)
    fields = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        kind = re.search(r'type="([^"]+)"', tag)
        if name and (not kind or kind.group(1) in ("hidden", "text", "email", "url", "submit")):
            fields[name.group(1)] = value.group(1) if value else ""
    return fields


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(url.partition("?")[2]))
