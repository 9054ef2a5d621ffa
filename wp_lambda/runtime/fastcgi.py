"""A FastCGI client for one php-fpm request at a time (standard library only).

Written for the runtime rather than taken from PyPI: none of the published clients streams
params and stdin in bounded records, honours a read deadline, and keeps stderr apart from stdout,
which is what a Lambda invocation needs (docs/architecture.md#php-fpm-started-once-per-instance).

One request per connection (no FCGI_KEEP_CONN): php-fpm closes the connection after the
response, and a unix-socket connect costs microseconds, so reuse would buy nothing and would
complicate recovery after a worker dies.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

VERSION = 1
BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 3, 4, 5, 6, 7
RESPONDER = 1
MAX_CONTENT = 65535
REQUEST_ID = 1
_HEADER = struct.Struct(">BBHHBx")
_PROTOCOL_STATUS = {0: "request complete", 1: "cannot multiplex connection", 2: "overloaded",
                    3: "unknown role"}


class ParamTooLarge(ValueError):
    """One name-value pair does not fit in a record; php-fpm parses each PARAMS record alone."""


class FastCGIError(Exception):
    """php-fpm broke the protocol or closed the connection early (a worker died, most likely)."""


class FastCGITimeout(FastCGIError):
    """No complete response before the deadline: the worker is stuck (or PHP is just slow)."""


class FastCGIUnavailable(FastCGIError):
    """The socket did not accept the connection: php-fpm is not running."""


@dataclass
class FastCGIResponse:
    """What php-fpm returned: raw CGI output (headers + body), PHP's stderr and the exit status."""

    stdout: bytes
    stderr: bytes
    app_status: int


def record(kind: int, content: bytes | bytearray | memoryview = b"", request_id: int = REQUEST_ID) -> bytes:
    """One record of at most 65535 content bytes, padded to a multiple of 8 as the spec recommends."""
    length = len(content)
    if length > MAX_CONTENT:
        raise ValueError(f"FastCGI record content is {length} bytes; the maximum is {MAX_CONTENT}")
    padding = -length % 8
    return _HEADER.pack(VERSION, kind, request_id, length, padding) + bytes(content) + b"\0" * padding


def stream(kind: int, data: bytes) -> Iterator[bytes]:
    """``data`` as a stream of records, each at most 65535 bytes, ended by the empty record."""
    view = memoryview(data)
    for start in range(0, len(view), MAX_CONTENT):
        yield record(kind, view[start:start + MAX_CONTENT])
    yield record(kind)


def _length(n: int) -> bytes:
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def encode_pair(name: str, value: str) -> bytes:
    """One FastCGI name-value pair, as UTF-8 (surrogates keep raw bytes)."""
    key = name.encode("utf-8", "surrogateescape")
    val = value.encode("utf-8", "surrogateescape")
    return _length(len(key)) + _length(len(val)) + key + val


def params_stream(params: Iterable[tuple[str, str]]) -> Iterator[bytes]:
    """PARAMS records holding whole pairs only, then the empty record.

    php-fpm decodes every PARAMS record on its own, so a pair split across two records would be
    lost (or make php-fpm drop the connection): pairs are packed, never cut.
    """
    batch = bytearray()
    for name, value in params:
        pair = encode_pair(name, value)
        if len(pair) > MAX_CONTENT:
            raise ParamTooLarge(f"the CGI parameter {name} is {len(pair)} bytes; FastCGI allows {MAX_CONTENT}")
        if len(batch) + len(pair) > MAX_CONTENT:
            yield record(PARAMS, batch)
            batch = bytearray()
        batch += pair
    if batch:
        yield record(PARAMS, batch)
    yield record(PARAMS)


def request(socket_path: str, params: Iterable[tuple[str, str]], stdin: bytes = b"", *,
            deadline: float) -> FastCGIResponse:
    """Run one request on php-fpm's unix socket; ``deadline`` is a ``time.monotonic()`` value.

    Raises :class:`ParamTooLarge` before connecting when a parameter cannot be sent,
    :class:`FastCGIUnavailable` when nothing listens, :class:`FastCGITimeout` when the
    deadline passes first and :class:`FastCGIError` when the connection ends before END_REQUEST.
    """
    begin = record(BEGIN_REQUEST, struct.pack(">HB5x", RESPONDER, 0))
    payload = b"".join([begin, *params_stream(params), *stream(STDIN, stdin)])
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            sock.connect(socket_path)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise FastCGIUnavailable(f"php-fpm is not listening on {socket_path}: {exc}") from exc
        try:
            sock.sendall(payload)
        except TimeoutError as exc:
            raise FastCGITimeout("php-fpm did not read the request before the deadline") from exc
        except OSError as exc:
            raise FastCGIError(f"php-fpm closed the connection while receiving the request: {exc}") from exc
        return _read_response(sock, deadline)
    finally:
        sock.close()


def _read_response(sock: socket.socket, deadline: float) -> FastCGIResponse:
    buffer = bytearray()
    stdout: list[bytes] = []
    stderr: list[bytes] = []
    while True:
        while len(buffer) >= _HEADER.size:
            _, kind, _, length, padding = _HEADER.unpack_from(buffer)
            end = _HEADER.size + length + padding
            if len(buffer) < end:
                break
            content = bytes(buffer[_HEADER.size:_HEADER.size + length])
            del buffer[:end]
            if kind == STDOUT:
                stdout.append(content)
            elif kind == STDERR:
                stderr.append(content)
            elif kind == END_REQUEST:
                app_status, protocol_status = struct.unpack(">IB3x", content[:8])
                if protocol_status != 0:
                    raise FastCGIError("php-fpm refused the request: "
                                       + _PROTOCOL_STATUS.get(protocol_status, str(protocol_status)))
                return FastCGIResponse(b"".join(stdout), b"".join(stderr), app_status)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FastCGITimeout("php-fpm did not finish before the deadline")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(262144)
        except TimeoutError as exc:
            raise FastCGITimeout("php-fpm did not finish before the deadline") from exc
        except OSError as exc:
            raise FastCGIError(f"reading from php-fpm failed: {exc}") from exc
        if not chunk:
            raise FastCGIError(f"php-fpm closed the connection before the end of the response "
                               f"({sum(map(len, stdout))} bytes of output received)")
        buffer += chunk
