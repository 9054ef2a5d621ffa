"""The CGI side of a request: the FastCGI params PHP sees, and PHP's output back as a Response."""

from __future__ import annotations

import dataclasses
import hmac
import ipaddress
import re
from urllib.parse import quote

from wp_lambda import __version__
from wp_lambda.runtime import contract
from wp_lambda.runtime.events import Request, Response
from wp_lambda.runtime.routing import Route

# WordPress offers pretty permalinks only when SERVER_SOFTWARE names a server it knows to rewrite
# (wp-includes/vars.php looks for "nginx"); the runtime's routing is nginx's try_files.
SERVER_SOFTWARE = f"nginx (wplambda/{__version__})"
# Events carry header names in lower case; HTTP compares them without case.
ORIGIN_SECRET_HEADER = contract.ORIGIN_SECRET_HEADER.lower()
AUTHORIZATION_COPY_HEADER = contract.AUTHORIZATION_COPY_HEADER.lower()
VIEWER_ADDRESS_HEADER = contract.VIEWER_ADDRESS_HEADER.lower()
DISTRIBUTION_HEADER = contract.DISTRIBUTION_HEADER.lower()
_HEADER_NAME = re.compile(r"^[a-z0-9-]+$")
_HOST = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$")
# Headers PHP never sees as HTTP_*: the host is set from the trusted value, the origin secret is
# CloudFront's proof and not the application's business, the edge function's private headers are
# read by the runtime alone (from_edge), and Proxy is the httpoxy attack.
_HIDDEN = frozenset({"host", ORIGIN_SECRET_HEADER, AUTHORIZATION_COPY_HEADER, VIEWER_ADDRESS_HEADER, "proxy",
                     "content-type", "content-length", DISTRIBUTION_HEADER})
_URI_SAFE = "/%:@!$&'()*+,;=-._~"


def from_cloudfront(request: Request, environ: dict[str, str]) -> bool:
    """Whether the request carries the distribution's secret origin header: its current value, or
    the previous one while a rotation switches CloudFront over (constant-time checks, every value
    compared, so the time taken does not say which one matched)."""
    accepted = [environ.get(contract.ORIGIN_SECRET_ENV), environ.get(contract.ORIGIN_SECRET_PREVIOUS_ENV)]
    offered = request.header(ORIGIN_SECRET_HEADER)
    if not accepted[0] or offered is None:
        return False
    matches = [hmac.compare_digest(offered.encode(), value.encode()) for value in accepted if value]
    return any(matches)


def site_host(request: Request, environ: dict[str, str]) -> str | None:
    """The host WordPress must see (docs/internals.md): the pinned one, a forwarded host only with
    CloudFront's secret origin header, else the request's own Host; None when there is none."""
    pinned = environ.get(contract.SITE_HOST_ENV)
    if pinned:
        return pinned
    forwarded = request.header("x-forwarded-host")
    if forwarded and from_cloudfront(request, environ):
        candidate = forwarded.split(",")[0].strip()
        if _HOST.match(candidate):
            return candidate
    host = (request.header("host") or "").strip()
    return host if _HOST.match(host) else None


def from_edge(request: Request, environ: dict[str, str]) -> Request:
    """``request`` with the edge function's private headers resolved (docs/internals.md).

    With the origin secret, the viewer's ``Authorization`` that the function copied (CloudFront
    forwards the header itself only when a cache policy keys on it, and the function's behaviours
    use CachingDisabled) becomes ``authorization`` again, replacing any other value. Without it the
    copy is not believed: a request that reached the function some other way keeps only its own
    ``Authorization``. Either way the private headers themselves are gone, so nothing downstream,
    PHP least of all, can mistake them for the viewer's.

    With the secret, ``X-Forwarded-For`` becomes the viewer's address alone: CloudFront appends to
    whatever the viewer sent, so its first entries are the viewer's to choose, and a plugin that
    reads the header (another login limiter, a comment's IP) would believe them.
    """
    copied = request.headers.get(AUTHORIZATION_COPY_HEADER)
    headers = {name: values for name, values in request.headers.items() if name != AUTHORIZATION_COPY_HEADER}
    if from_cloudfront(request, environ):
        if copied:
            headers["authorization"] = copied[:1]
        viewer = _viewer_address(request)
        if viewer is not None:
            headers["x-forwarded-for"] = [viewer]
    return dataclasses.replace(request, headers=headers)


def _viewer_address(request: Request) -> str | None:
    """The address the edge function wrote (the viewer's, replacing any copy the viewer sent), when
    it is an IP address; whether to believe it is the caller's question."""
    try:
        return str(ipaddress.ip_address((request.header(VIEWER_ADDRESS_HEADER) or "").strip()))
    except ValueError:
        return None


def client_address(request: Request, environ: dict[str, str]) -> str:
    """The visitor's IP: behind CloudFront the event's source is an edge server, so the viewer's
    address from the edge function is used, but only on requests proven to come from CloudFront."""
    viewer = _viewer_address(request)
    if viewer is not None and from_cloudfront(request, environ):
        return viewer
    return request.source_ip or "127.0.0.1"


def is_https(request: Request) -> bool:
    return (request.header("x-forwarded-proto") or "").split(",")[0].strip().lower() == "https"


def params(request: Request, route: Route, document_root: str, host: str | None,
           remote_addr: str = "127.0.0.1") -> list[tuple[str, str]]:
    """The full CGI parameter set for one request to ``route``."""
    https = is_https(request)
    server_name, port = host or "localhost", "443" if https else "80"
    match = _HOST.match(server_name)
    if match and match.group(2):
        server_name, port = match.group(1), match.group(2)[1:]
    request_uri = quote(request.path, safe=_URI_SAFE) + (f"?{request.query}" if request.query else "")
    out = [
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("SERVER_SOFTWARE", SERVER_SOFTWARE),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("REQUEST_METHOD", request.method),
        ("REQUEST_URI", request_uri),
        ("DOCUMENT_URI", route.script_name + route.path_info),
        ("QUERY_STRING", request.query),
        ("SCRIPT_NAME", route.script_name),
        ("SCRIPT_FILENAME", route.filename),
        ("DOCUMENT_ROOT", document_root),
        ("SERVER_NAME", server_name),
        ("SERVER_PORT", port),
        ("SERVER_ADDR", "127.0.0.1"),
        ("REQUEST_SCHEME", "https" if https else "http"),
        ("REMOTE_ADDR", remote_addr),
        ("REMOTE_PORT", "0"),
        ("REDIRECT_STATUS", "200"),
        ("CONTENT_TYPE", request.header("content-type") or ""),
        ("CONTENT_LENGTH", str(len(request.body)) if request.body else ""),
    ]
    if route.path_info:
        out += [("PATH_INFO", route.path_info), ("PATH_TRANSLATED", document_root + route.path_info)]
    if https:
        out.append(("HTTPS", "on"))
    if host:
        out.append(("HTTP_HOST", host))
    for name, values in request.headers.items():
        # Names with underscores or odd characters are dropped, as nginx does: X_Forwarded_For
        # must not be able to pose as X-Forwarded-For.
        if name in _HIDDEN or not _HEADER_NAME.match(name):
            continue
        out.append(("HTTP_" + name.upper().replace("-", "_"), ("; " if name == "cookie" else ", ").join(values)))
    return out


class BadGateway(Exception):
    """PHP's output is not a CGI response."""


def parse_output(stdout: bytes) -> Response:
    """PHP's CGI output -> Response: ``Status:`` gives the code, a bare ``Location`` means 302.

    An empty header block (php-fpm sends only the blank line when ``default_mimetype`` is empty and
    the script sets no header) is a 200 with no headers, as nginx answers it; searching for the
    first blank line would instead fail, or take the top of the body for headers.
    """
    if stdout.startswith((b"\r\n", b"\n")):
        end, skip = 0, 2 if stdout.startswith(b"\r\n") else 1
    else:
        end, skip = stdout.find(b"\r\n\r\n"), 4
        if end < 0:
            end, skip = stdout.find(b"\n\n"), 2
    if end < 0:
        raise BadGateway(f"PHP sent no header block ({len(stdout)} bytes of output)")
    status: int | None = None
    headers: list[tuple[str, str]] = []
    for line in stdout[:end].decode("latin-1").splitlines():
        name, sep, value = line.partition(":")
        if not sep:
            continue
        name, value = name.strip(), value.strip()
        if name.lower() == "status":
            try:
                status = int(value.split()[0])
            except (ValueError, IndexError) as exc:
                raise BadGateway(f"PHP sent an invalid Status header: {value!r}") from exc
        elif name.lower() not in ("content-length", "transfer-encoding", "connection"):
            headers.append((name, value))
    if status is None:
        status = 302 if any(k.lower() == "location" for k, _ in headers) else 200
    return Response(status, headers, stdout[end + skip:])
