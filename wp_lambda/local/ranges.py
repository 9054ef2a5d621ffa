"""HTTP ``Range`` requests as S3 (and CloudFront in front of it) answer them, for the local gateway.

A video element seeks with ``Range: bytes=N-``; without 206 answers it cannot. S3 serves one
range per request: ``bytes=a-b``, ``bytes=a-`` and the suffix ``bytes=-n`` get 206 with
``Content-Range``; a range starting past the end gets 416 with ``Content-Range: bytes */size``; a
header it cannot parse, or several ranges (``bytes=0-1,5-6``), is ignored and the whole object
comes back with 200. The local origins follow exactly those rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SINGLE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class ByteRange:
    """An inclusive byte range of an object of ``size`` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


class Unsatisfiable(Exception):
    """The range lies outside the object: answer 416 with ``Content-Range: bytes */size``."""

    def __init__(self, size: int) -> None:
        super().__init__(f"bytes */{size}")
        self.size = size


def single_range(header: str | None) -> str | None:
    """The header when it asks for exactly one well-formed range, else None (serve everything)."""
    if not header:
        return None
    value = header.strip().replace(" ", "")
    match = _SINGLE.match(value)
    if not match or (not match.group(1) and not match.group(2)):
        return None
    return value


def resolve(header: str | None, size: int) -> ByteRange | None:
    """The range ``header`` selects in an object of ``size`` bytes; None means the whole object.

    Raises :class:`Unsatisfiable` for a range that starts at or past the end, or an empty suffix.
    """
    value = single_range(header)
    if value is None:
        return None
    first, last = _SINGLE.match(value).groups()  # type: ignore[union-attr]
    if not first:  # suffix: the last n bytes
        count = int(last)
        if count == 0 or size == 0:
            raise Unsatisfiable(size)
        return ByteRange(max(0, size - count), size - 1, size)
    start = int(first)
    if start >= size:
        raise Unsatisfiable(size)
    end = min(int(last), size - 1) if last else size - 1
    if end < start:
        return None  # S3 treats an inverted range as no range at all
    return ByteRange(start, end, size)
