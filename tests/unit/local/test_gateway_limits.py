"""The local gateway's front-door rules (wp_lambda/local/gateway.py): body limits, malformed lengths,
slow bodies, foreign Hosts and the X-Forwarded-* headers, on a real gateway bound to a loopback port
in this process, with a recording stand-in for the Lambda handler (the e2e tests put serve's real
handler behind it)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from wp_lambda.cli.serve import parse_size
from wp_lambda.config import Assets
from wp_lambda.local.gateway import (
    LAMBDA_REQUEST_LIMIT,
    Directory,
    Gateway,
    Limits,
    Routes,
    authority,
    own_hosts,
)
from wp_lambda.local.request_body import Refused, body_length


class Recorder:
    """Stands in for the handler: records each event and answers 200 with the body's size."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        return {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "ok"}


Running = tuple[Gateway, Recorder, list[str]]  # the gateway, what reached the handler, the log lines


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Running]:
    limits = Limits(max_body=1000, read_timeout=0.5)
    recorder, lines = Recorder(), []
    origin = Directory(tmp_path, Assets())
    server = Gateway(("127.0.0.1", 0), routes=Routes(origin, origin), invoke=recorder, log_line=lines.append,
                     limits=limits)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, recorder, lines
    finally:
        server.shutdown()
        server.server_close()


def exchange(server: Gateway, head: str, body: bytes = b"", *, wait: float = 5) -> bytes:
    """Send raw bytes, read until the gateway closes the connection (every refusal closes it)."""
    with socket.create_connection(server.server_address[:2], timeout=wait) as conn:
        conn.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
        return received


def request(server: Gateway, headers: str, body: bytes = b"", method: str = "POST") -> bytes:
    port = server.server_address[1]
    return exchange(server, f"{method} /index.php HTTP/1.1\nHost: 127.0.0.1:{port}\nConnection: close\n{headers}",
                    body)


@pytest.mark.parametrize("header", ["Content-Length: abc\n", "Content-Length: -1\n", "Content-Length: +5\n",
                                    "Content-Length: 99999999999999999999999999\n", "Content-Length: \n",
                                    "Content-Length: 3\nContent-Length: 4\n", "Content-Length: 3, 4\n"])
def test_a_malformed_content_length_is_answered_400_in_one_line(gateway: Running, header: str) -> None:
    server, recorder, lines = gateway
    answer = request(server, header, b"abc")
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert recorder.events == []
    assert len(lines) == 1 and " 400 " in lines[0] and "refused" in lines[0]


def test_agreeing_duplicate_lengths_are_one_length(gateway: Running) -> None:
    server, recorder, _ = gateway
    assert request(server, "Content-Length: 3\nContent-Length: 3\n", b"abc").startswith(b"HTTP/1.1 200 ")
    assert recorder.events[0]["isBase64Encoded"] and recorder.events[0]["body"] == "YWJj"


def test_over_the_limit_is_413_before_the_body_is_read(gateway: Running) -> None:
    """The body is never sent: the 413 arrives on the headers alone, so nothing was buffered."""
    server, recorder, _ = gateway
    answer = request(server, "Content-Length: 1001\n")
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert b"--max-body" in answer and recorder.events == []
    assert request(server, "Content-Length: 1000\n", b"x" * 1000).startswith(b"HTTP/1.1 200 ")


def test_the_default_limit_is_lambdas_request_quota() -> None:
    assert Limits().max_body == LAMBDA_REQUEST_LIMIT == 6 * 1024 * 1024
    with pytest.raises(Refused) as refused:
        body_length([str(7 * 1024 * 1024)], None, Limits().max_body)
    assert refused.value.status == 413


def test_chunked_bodies_are_refused(gateway: Running) -> None:
    server, recorder, _ = gateway
    assert request(server, "Transfer-Encoding: chunked\n", b"3\r\nabc\r\n0\r\n\r\n").startswith(b"HTTP/1.1 411 ")
    assert request(server, "Transfer-Encoding: chunked\nContent-Length: 3\n", b"abc").startswith(b"HTTP/1.1 400 ")
    assert recorder.events == []


def test_a_stalled_body_is_answered_408_after_the_read_timeout(gateway: Running) -> None:
    server, recorder, lines = gateway
    started = time.monotonic()
    answer = request(server, "Content-Length: 10\n", b"abc")
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert 0.4 < time.monotonic() - started < 4
    assert recorder.events == [] and " 408 " in lines[-1]


def test_a_foreign_host_is_refused_and_never_reaches_the_handler(gateway: Running) -> None:
    server, recorder, _ = gateway
    port = server.server_address[1]
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1", "localhost:1"):
        answer = exchange(server, f"GET / HTTP/1.1\nHost: {host}\nConnection: close\n")
        assert answer.startswith(b"HTTP/1.1 421 "), (host, answer)
    assert exchange(server, "GET / HTTP/1.1\nConnection: close\n").startswith(b"HTTP/1.1 400 ")
    assert exchange(server, f"GET http://evil.example/ HTTP/1.1\nHost: 127.0.0.1:{port}\nConnection: close\n"
                    ).startswith(b"HTTP/1.1 400 ")
    assert recorder.events == []
    for host in (f"127.0.0.1:{port}", f"LOCALHOST:{port}", f"[::1]:{port}"):
        assert exchange(server, f"GET / HTTP/1.1\nHost: {host}\nConnection: close\n").startswith(b"HTTP/1.1 200 ")
    assert [e["headers"]["host"] for e in recorder.events] == [f"127.0.0.1:{port}", f"LOCALHOST:{port}",
                                                               f"[::1]:{port}"]


def test_own_hosts() -> None:
    assert own_hosts("127.0.0.1", 8080) == {"127.0.0.1:8080", "localhost:8080", "[::1]:8080"}
    assert own_hosts("192.0.2.7", 80) == {"192.0.2.7:80"}
    assert own_hosts("0.0.0.0", 80) == {"0.0.0.0:80", "127.0.0.1:80", "localhost:80", "[::1]:80",
                                        f"{socket.gethostname().lower()}:80"}
    assert authority("Example.ORG") == "example.org:80" and authority("[::1]") == "[::1]:80"


def test_forwarded_headers_are_the_gateways_own(gateway: Running) -> None:
    """As the deployed edge: X-Forwarded-* set by the gateway, the edge's own headers dropped."""
    server, recorder, _ = gateway
    request(server, "X-Forwarded-Proto: https\nX-Forwarded-For: 203.0.113.9\nX-Forwarded-Port: 443\n"
                    "X-Forwarded-Host: evil.example\nCloudFront-Viewer-Address: 203.0.113.9:4444\n"
                    "X-Wplambda-Origin-Secret: guess\nX-WPLAMBDA-Authorization: Basic Zm9yZ2Vk\n"
                    "x-wplambda-viewer-address: 192.0.2.1\n", method="GET")
    event = recorder.events[0]
    assert not {"x-forwarded-host", "cloudfront-viewer-address", "x-wplambda-origin-secret", "x-wplambda-authorization",
                "x-wplambda-viewer-address"} & set(event["headers"])
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert event["headers"]["x-forwarded-port"] == str(server.server_address[1])
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"


def test_a_client_that_hangs_up_costs_one_line(gateway: Running, capsys: pytest.CaptureFixture[str]) -> None:
    server, recorder, lines = gateway
    port = server.server_address[1]
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 10\r\n\r\nabc".encode())
    deadline = time.monotonic() + 5
    while not lines and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(lines) == 1 and "closed: the client sent 3 of 10 body bytes" in lines[0]
    assert "Traceback" not in capsys.readouterr().err and recorder.events == []


@pytest.mark.parametrize(("text", "size"), [("7340032", 7340032), ("7MB", 7 * 1024 * 1024), ("10m", 10 * 1024 * 1024),
                                            ("512KiB", 512 * 1024), ("1G", 1024 ** 3)])
def test_max_body_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "abc", "-1", "6.5MB", "6TB"])
def test_max_body_refuses_what_is_not_a_size(text: str) -> None:
    with pytest.raises(typer.BadParameter, match="not a size"):
        parse_size(text)


def test_a_malformed_request_line_is_one_log_line(gateway: Running, capsys: pytest.CaptureFixture[str]) -> None:
    server, recorder, lines = gateway
    assert b"Error code: 400" in exchange(server, "NONSENSE\n")  # an HTTP/0.9 answer: no status line
    assert len(lines) == 1 and lines[0].startswith("NONSENSE refused: code 400")
    assert "Traceback" not in capsys.readouterr().err and recorder.events == []
