"""serve's gateway in front of the real handler, php-fpm and WordPress: Lambda's body limit and
``--max-body``, malformed lengths, a stalled body, a foreign ``Host``, and forwarded headers a client
must not be able to forge (the rules' edge cases are in tests/unit/local/test_gateway_limits.py)."""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.serve import ADMIN_PASSWORD, NoRedirect, Served, fetch, init_site, login, serving
from wp_lambda.local.gateway import Limits

SEVEN_MB = 7 * 1024 * 1024


def post_login_form(served: Served, size: int) -> int:
    """POST a login form padded to ``size`` bytes to wp-login.php; the status that comes back."""
    form = urllib.parse.urlencode({"log": "nobody", "pwd": "wrong"}).encode() + b"&pad="
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=120)
    try:
        connection.request("POST", "/wp-login.php", body=form + b"x" * (size - len(form)),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        return connection.getresponse().status
    except (BrokenPipeError, ConnectionResetError):
        pytest.fail("the gateway dropped the connection instead of answering")
    finally:
        connection.close()


def raw(served: Served, head: str, body: bytes = b"", timeout: float = 60) -> bytes:
    """Raw bytes to the gateway (http.client would not send a malformed header); all it answers."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=timeout) as conn:
        conn.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
        return received


def test_a_body_over_6_mb_is_413(installed_site: Served) -> None:
    assert post_login_form(installed_site, SEVEN_MB) == 413
    assert post_login_form(installed_site, 1024) == 200  # the same form, small: WordPress answers


@pytest.mark.parametrize("lengths", [["abc"], ["-1"], ["99999999999999999999999999"], ["3", "4"]])
def test_a_malformed_content_length_is_400(installed_site: Served, lengths: list[str]) -> None:
    headers = "".join(f"Content-Length: {value}\n" for value in lengths)
    answer = raw(installed_site, f"POST /wp-login.php HTTP/1.1\nHost: 127.0.0.1:{installed_site.port}\n{headers}",
                 b"abc")
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:300]
    assert b"Traceback" not in answer and "Traceback" not in "".join(installed_site.output)


def test_a_stalled_body_is_answered_408(installed_site: Served) -> None:
    started = time.monotonic()
    answer = raw(installed_site, f"POST /wp-login.php HTTP/1.1\nHost: 127.0.0.1:{installed_site.port}\n"
                                 "Content-Length: 100\n", b"log=admin", timeout=Limits().read_timeout + 30)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:300]
    assert Limits().read_timeout <= time.monotonic() - started < Limits().read_timeout + 15


def test_a_foreign_host_never_reaches_links_redirects_or_mail(installed_site: Served) -> None:
    for target in ("/", "/wp-admin/", "/wp-login.php?action=lostpassword"):
        connection = http.client.HTTPConnection("127.0.0.1", installed_site.port, timeout=60)
        try:
            connection.request("GET", target, headers={"Host": "evil.example"})
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        assert response.status == 421, (target, response.status)
        assert b"evil.example" not in body and "evil.example" not in (response.getheader("Location") or "")
    # The password-reset mail's link is built from the same Host: its form is refused the same way.
    form = b"user_login=admin&redirect_to=&wp-submit=Get+New+Password"
    answer = raw(installed_site, f"POST /wp-login.php?action=lostpassword HTTP/1.1\nHost: evil.example:"
                                 f"{installed_site.port}\nContent-Type: application/x-www-form-urlencoded\n"
                                 f"Content-Length: {len(form)}\n", form)
    assert answer.startswith(b"HTTP/1.1 421 ") and b"evil.example" not in answer
    # serve's own names still work, and links follow the one used.
    status, headers, _ = fetch(f"http://localhost:{installed_site.port}/wp-admin/",
                               opener=urllib.request.build_opener(NoRedirect()))
    assert status == 302 and headers["location"].startswith(f"http://localhost:{installed_site.port}/")


def test_a_clients_forwarded_proto_is_not_trusted(installed_site: Served) -> None:
    status, headers, body = fetch(f"{installed_site.url}/wp-login.php", headers={"X-Forwarded-Proto": "https"})
    assert status == 200, headers
    own = f"127.0.0.1:{installed_site.port}".encode()
    assert b"http://" + own in body and b"https://" + own not in body  # is_ssl() was false


def test_a_forged_forwarded_for_is_not_the_visitors_address(installed_site: Served) -> None:
    marker = f"forwarded-for check {time.time_ns()}"
    form = urllib.parse.urlencode({"comment_post_ID": "1", "author": "Visitor", "email": "visitor@example.com",
                                   "comment": marker}).encode()
    status, _, _ = fetch(f"{installed_site.url}/wp-comments-post.php", data=form,
                         headers={"X-Forwarded-For": "203.0.113.9"},
                         opener=urllib.request.build_opener(NoRedirect()))
    assert status == 302
    admin = login(installed_site)
    _, _, nonce = fetch(f"{installed_site.url}/wp-admin/admin-ajax.php?action=rest-nonce", opener=admin)
    query = urllib.parse.urlencode({"rest_route": "/wp/v2/comments", "context": "edit", "status": "all",
                                    "search": marker})
    status, _, found = fetch(f"{installed_site.url}/?{query}", opener=admin, headers={"X-WP-Nonce": nonce.decode()})
    assert status == 200, found[:300]
    assert [c["author_ip"] for c in json.loads(found)] == ["127.0.0.1"]


@pytest.fixture(scope="module")
def roomy_site(tmp_path_factory: pytest.TempPathFactory, debian_wordpress: Path) -> Iterator[Served]:
    """A serve whose gateway takes 8 MB bodies."""
    project = init_site(tmp_path_factory.mktemp("roomy") / "site", "roomy")
    with serving(project, "--install", "--admin-password", ADMIN_PASSWORD, "--workers", "1",
                 "--max-body", "8MB") as server:
        yield server


def test_max_body_lifts_the_limit(roomy_site: Served) -> None:
    assert post_login_form(roomy_site, SEVEN_MB) == 200
    assert post_login_form(roomy_site, 9 * 1024 * 1024) == 413


def test_a_path_that_looks_like_markup_is_logged_as_it_is(installed_site: Served) -> None:
    """serve prints request lines with rich, which used to read ``[/]`` as a closing tag and raise."""
    answer = raw(installed_site, f"GET /[/]nothing HTTP/1.1\nHost: 127.0.0.1:{installed_site.port}\n"
                                 "Connection: close\n")
    assert answer.startswith(b"HTTP/1.1 404 "), answer[:300]
    deadline = time.monotonic() + 10
    while not any(line.startswith("GET /[/]nothing 404 ") for line in installed_site.output):
        assert time.monotonic() < deadline, "".join(installed_site.output[-20:])
        time.sleep(0.1)
    assert "Traceback" not in "".join(installed_site.output)
