"""How much body a local HTTP request may send, decided from its headers before a byte is read.

serve's gateway and its invoke endpoint both answer anyone on this machine, so both refuse a
malformed or oversized body up front, by one rule: nothing is read into memory beyond Lambda's
own request quota, and no malformed length reaches ``int()`` or ``rfile.read``.
"""

from __future__ import annotations

# A Content-Length past a signed 64-bit integer is malformed rather than large (nginx's rule too);
# 19 digits is the most such a number has, checked before int() so no huge string is converted.
_LENGTH_MAX, _LENGTH_DIGITS = 2**63 - 1, 19


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
