"""What a local HTTP request may send, decided from its headers before a byte of its body is read.

serve's gateway and its invoke endpoint both answer anyone on this machine, so both refuse a
malformed or oversized body up front, by one rule: nothing is read into memory beyond Lambda's
own request quota, and no malformed length reaches ``int()`` or ``rfile.read``. Their endpoints
for programs only (the invoke endpoint, the gateway's purge endpoint) also refuse, by one rule,
a request a browser could have been made to send (:func:`cross_site`).
"""

from __future__ import annotations

from email.message import Message

# A Content-Length past a signed 64-bit integer is malformed rather than large (nginx's rule too);
# 19 digits is the most such a number has, checked before int() so no huge string is converted.
_LENGTH_MAX, _LENGTH_DIGITS = 2**63 - 1, 19
# The Content-Types a cross-site HTML form (or a no-cors fetch) may send without a CORS
# preflight; boto3 sends no Content-Type on Invoke, the kit sends application/json.
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})


class Refused(Exception):
    """A request answered before any of its body is read: the client's mistake."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def body_length(content_lengths: list[str], transfer_encoding: str | None, limit: int, *,
                lift_hint: str = "") -> int:
    """The body's length from the request's ``Content-Length`` header(s), checked before reading.

    Several headers (or a list in one) must agree (RFC 9112 section 6.3); anything but plain digits,
    or a value no 64-bit length can hold, is malformed (400); a length over ``limit`` is 413.
    Chunked bodies are refused (411): browsers send ``Content-Length``, and a body whose size is
    unknown up front could not be checked before it is read. ``lift_hint`` ends the 413's reason
    (how the caller's limit is raised, where it can be).
    """
    if transfer_encoding is not None:
        if content_lengths:
            raise Refused(400, "both Transfer-Encoding and Content-Length")
        raise Refused(411, "Transfer-Encoding is not accepted: send the body with a Content-Length")
    values = {part.strip() for header in content_lengths for part in header.split(",")}
    if not values:
        return 0
    if len(values) > 1:
        raise Refused(400, f"conflicting Content-Length values: {', '.join(sorted(values))}")
    text = values.pop()
    if not (text.isascii() and text.isdigit()) or len(text) > _LENGTH_DIGITS or int(text) > _LENGTH_MAX:
        raise Refused(400, f"malformed Content-Length: {text[:40]!r}")
    length = int(text)
    if length > limit:
        raise Refused(413, f"body of {length} bytes is over the {limit}-byte limit (Lambda's request "
                           f"payload quota{lift_hint})")
    return length


def cross_site(headers: Message, own_hosts: frozenset[str]) -> str | None:
    """Why a request to an endpoint meant for programs looks sent by a browser, or None.

    A page in the developer's browser can make it send requests to any local port: with a ``Host``
    that names the page's own domain (DNS rebinding), an ``Origin`` or ``Sec-Fetch-Site`` that
    says another site sent it, or as a form, whose Content-Types need no CORS preflight. Programs
    (boto3, the runtime, curl) send none of these. ``own_hosts``: the ``host:port`` values in
    lower case that name the endpoint.
    """
    hosts = headers.get_all("Host") or []
    if len(hosts) != 1 or hosts[0].strip().lower() not in own_hosts:
        return "its Host header names another host (a DNS rebinding page?)"
    origin = headers.get("Origin")
    if origin is not None and origin.lower() not in {f"http://{host}" for host in own_hosts}:
        return "its Origin is another site"
    if headers.get("Sec-Fetch-Site", "none") not in ("none", "same-origin"):
        return "its Sec-Fetch-Site says another site sent it"
    content_type = headers.get_content_type() if "Content-Type" in headers else ""
    if content_type in FORM_TYPES:
        return f"its Content-Type {content_type} is one a cross-site form sends (send JSON, or none)"
    return None
