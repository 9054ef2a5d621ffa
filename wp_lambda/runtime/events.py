"""One adapter per HTTP event source, each with the same small interface.

``detect(event)`` says whether the event has the source's shape, ``to_request(event)`` turns it
into a :class:`Request`, and ``to_response(response, request)`` turns a :class:`Response` into
the dict that source expects back. The table in docs/architecture.md#events-by-shape is the specification.
"""

from __future__ import annotations

import base64
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, ClassVar
from urllib.parse import quote

MB = 1024 * 1024


class BadEvent(ValueError):
    """The event has a known source's shape but a value that cannot be used (e.g. bad base64)."""


# Response header with "cold" or "warm", added only when WPLAMBDA_LOCAL=1 (`wplambda serve`
# logs it, and its gateway removes it before the browser sees it).
INIT_HEADER = "X-Wplambda-Init"

@dataclass
class Request:
    """An HTTP request as the runtime needs it, whatever the event source.

    ``path`` is the URL path as the client sent it (still percent-encoded where it was), ``query``
    the raw query string; header names are lower case and each maps to every value it had.
    """

    method: str
    path: str
    query: str
    headers: dict[str, list[str]]
    body: bytes
    source_ip: str

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[0] if values else None


@dataclass
class Response:
    """An HTTP response before it is shaped for the event source."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)


def _text_body(response: Response) -> tuple[str, bool]:
    """The body as a JSON string: text when it is UTF-8 text, otherwise base64."""
    ctype = (response.header("content-type") or "").lower()
    textual = ctype.startswith("text/") or any(t in ctype for t in ("json", "javascript", "xml"))
    if textual or not response.body:
        try:
            return response.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(response.body).decode("ascii"), True


def _headers_of(raw: Any, multi: Any) -> dict[str, list[str]]:
    """Lower-cased header map from a multi-value map (preferred) or a single-value one."""
    out: dict[str, list[str]] = {}
    if isinstance(multi, Mapping):
        for name, values in multi.items():
            if isinstance(values, list):
                out.setdefault(str(name).lower(), []).extend(str(v) for v in values if v is not None)
    elif isinstance(raw, Mapping):
        for name, value in raw.items():
            if value is not None:
                out.setdefault(str(name).lower(), []).append(str(value))
    return out


def _body_of(event: Mapping[str, Any]) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise BadEvent("event body is not a string")
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except ValueError as exc:  # binascii.Error, or non-ASCII text
            raise BadEvent(f"event body is not valid base64: {exc}") from exc
    return body.encode("utf-8", "surrogateescape")


def _encode_query(params: Mapping[str, Any]) -> str:
    """A query string from decoded parameters (API Gateway v1 decodes them; PHP decodes again)."""
    parts = []
    for name, values in params.items():
        for value in values if isinstance(values, list) else [values]:
            parts.append(quote(str(name), safe="[]") + "=" + quote(str(value), safe=""))
    return "&".join(parts)


def _join_raw_query(params: Mapping[str, Any]) -> str:
    """A query string from parameters that are still URL-encoded (ALB)."""
    parts = []
    for name, values in params.items():
        for value in values if isinstance(values, list) else [values]:
            parts.append(f"{name}={value}" if value != "" else str(name))
    return "&".join(parts)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class Adapter(ABC):
    """The interface every event source implements."""

    name: ClassVar[str]
    # Largest response the service accepts, as the serialized JSON payload.
    limit: ClassVar[int] = 6 * MB

    @abstractmethod
    def detect(self, event: Mapping[str, Any]) -> bool:
        """Whether ``event`` has this source's shape."""

    @abstractmethod
    def to_request(self, event: Mapping[str, Any]) -> Request:
        """The request the event carries (raises BadEvent for unusable values)."""

    @abstractmethod
    def to_response(self, response: Response, event: Mapping[str, Any]) -> dict[str, Any]:
        """The result this source expects back for ``event``."""


class HttpApiV2(Adapter):
    """HTTP API payload format 2.0; Lambda Function URLs send the same shape."""

    name = "http-api-v2"

    def detect(self, event: Mapping[str, Any]) -> bool:
        return event.get("version") == "2.0" and isinstance(_mapping(event.get("requestContext")).get("http"),
                                                            Mapping)

    def to_request(self, event: Mapping[str, Any]) -> Request:
        context = _mapping(event.get("requestContext"))
        http = _mapping(context.get("http"))
        headers = _headers_of(event.get("headers"), None)
        cookies = event.get("cookies")
        if isinstance(cookies, list) and cookies:
            headers["cookie"] = ["; ".join(str(c) for c in cookies)]
        path = str(event.get("rawPath") or http.get("path") or "/")
        stage = str(context.get("stage") or "$default")
        # A named stage is part of rawPath; the application must never see it.
        if stage != "$default" and (path == f"/{stage}" or path.startswith(f"/{stage}/")):
            path = path[len(stage) + 1:] or "/"
        if "host" not in headers and context.get("domainName"):
            headers["host"] = [str(context["domainName"])]
        return Request(method=str(http.get("method") or "GET").upper(), path=path,
                       query=str(event.get("rawQueryString") or ""), headers=headers,
                       body=_body_of(event), source_ip=str(http.get("sourceIp") or ""))

    def to_response(self, response: Response, event: Mapping[str, Any]) -> dict[str, Any]:
        headers: dict[str, str] = {}
        cookies = []
        for name, value in response.headers:
            if name.lower() == "set-cookie":
                cookies.append(value)
            elif name.lower() in headers:
                headers[name.lower()] += ", " + value
            else:
                headers[name.lower()] = value
        body, is_b64 = _text_body(response)
        out: dict[str, Any] = {"statusCode": response.status, "headers": headers, "body": body,
                               "isBase64Encoded": is_b64}
        if cookies:
            out["cookies"] = cookies
        return out


def _multi_headers(response: Response) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in response.headers:
        out.setdefault(name.lower(), []).append(value)
    return out


class RestApiV1(Adapter):
    """REST API (payload 1.0). ``path`` has no stage prefix; ``requestContext.path`` has it."""

    name = "rest-api-v1"

    def detect(self, event: Mapping[str, Any]) -> bool:
        context = _mapping(event.get("requestContext"))
        return isinstance(event.get("httpMethod"), str) and "elb" not in context and "path" in event

    def to_request(self, event: Mapping[str, Any]) -> Request:
        context = _mapping(event.get("requestContext"))
        params = event.get("multiValueQueryStringParameters") or event.get("queryStringParameters") or {}
        return Request(method=str(event["httpMethod"]).upper(), path=str(event.get("path") or "/"),
                       query=_encode_query(_mapping(params)),
                       headers=_headers_of(event.get("headers"), event.get("multiValueHeaders")),
                       body=_body_of(event),
                       source_ip=str(_mapping(context.get("identity")).get("sourceIp") or ""))

    def to_response(self, response: Response, event: Mapping[str, Any]) -> dict[str, Any]:
        body, is_b64 = _text_body(response)
        return {"statusCode": response.status, "multiValueHeaders": _multi_headers(response), "body": body,
                "isBase64Encoded": is_b64}


def _cookie_case_variants(count: int) -> list[str]:
    """``count`` spellings of Set-Cookie that differ only in case.

    An ALB target group without multi-value headers takes one value per header name, but it
    passes header names as given, so each cookie travels under its own capitalisation.
    """
    name = "set-cookie"
    letters = [i for i, c in enumerate(name) if c.isalpha()]
    variants = []
    for n in range(count):
        chars = list(name)
        for bit, index in enumerate(letters):
            if n >> bit & 1:
                chars[index] = chars[index].upper()
        variants.append("".join(chars))
    return variants


class Alb(Adapter):
    """Application Load Balancer, with or without multi-value headers on the target group."""

    name = "alb"
    limit = 1 * MB

    def detect(self, event: Mapping[str, Any]) -> bool:
        return "elb" in _mapping(event.get("requestContext")) and isinstance(event.get("httpMethod"), str)

    def to_request(self, event: Mapping[str, Any]) -> Request:
        params = event.get("multiValueQueryStringParameters") or event.get("queryStringParameters") or {}
        headers = _headers_of(event.get("headers"), event.get("multiValueHeaders"))
        forwarded = ",".join(headers.get("x-forwarded-for", []))
        return Request(method=str(event["httpMethod"]).upper(), path=str(event.get("path") or "/"),
                       query=_join_raw_query(_mapping(params)), headers=headers, body=_body_of(event),
                       # The load balancer appends the client's address last.
                       source_ip=forwarded.rsplit(",", 1)[-1].strip())

    def to_response(self, response: Response, event: Mapping[str, Any]) -> dict[str, Any]:
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = "Unknown"
        body, is_b64 = _text_body(response)
        out: dict[str, Any] = {"statusCode": response.status, "statusDescription": f"{response.status} {reason}",
                               "body": body, "isBase64Encoded": is_b64}
        if "multiValueHeaders" in event:
            out["multiValueHeaders"] = _multi_headers(response)
            return out
        headers: dict[str, str] = {}
        cookies = [v for k, v in response.headers if k.lower() == "set-cookie"]
        for name, value in response.headers:
            if name.lower() != "set-cookie":
                key = name.lower()
                headers[key] = headers[key] + ", " + value if key in headers else value
        headers.update(zip(_cookie_case_variants(len(cookies)), cookies, strict=True))
        out["headers"] = headers
        return out


ADAPTERS: tuple[Adapter, ...] = (HttpApiV2(), Alb(), RestApiV1())


def detect(event: Any) -> Adapter | None:
    """The adapter for ``event``, or None when no HTTP source has this shape."""
    if not isinstance(event, Mapping):
        return None
    return next((adapter for adapter in ADAPTERS if adapter.detect(event)), None)


def payload_size(result: Mapping[str, Any]) -> int:
    """Bytes of the serialized response, which is what the service's size limit applies to."""
    return len(json.dumps(result, separators=(",", ":")).encode("utf-8"))
