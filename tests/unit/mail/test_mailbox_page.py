"""serve's mailbox page: only with the run's token, never from another site, everything escaped, no HTML run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wp_lambda.common.errors import UserError
from wp_lambda.local.mailbox import MailboxPage, ensure, find, messages
from wp_lambda.runtime import contract

HOSTILE = (
    "X-Wplambda-Envelope-To: admin@example.com, hidden@example.com\r\n"
    "To: admin@example.com\r\n"
    "From: WordPress <wordpress@example.com>\r\n"
    "Subject: <script>alert(1)</script>\r\n"
    "Date: Mon, 07 Dec 2026 16:00:00 +0000\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=b\r\n\r\n"
    "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    "Reset: http://127.0.0.1:8080/wp-login.php?action=rp&key=K&login=admin\r\n"
    "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    "<img src=x onerror=alert(2)><a href=\"https://example.com/?a=1&amp;b=2\">x</a>"
    "<a href=\"javascript:alert(3)\">y</a>\r\n--b--\r\n"
)


@pytest.fixture
def box(tmp_path: Path) -> Path:
    directory = tmp_path / "mail"
    ensure(directory)
    (directory / "20261207T160000Z-aaaaaa.eml").write_text(HOSTILE)
    return directory


def _get(page: MailboxPage, query: str, **headers: str) -> tuple[int, dict[str, str], str]:
    status, sent, body = page.answer("GET", f"{contract.LOCAL_MAIL_PATH}{query}", headers)
    return status, dict(sent), body.decode()


def test_the_messages_are_read_with_their_envelope_and_links(box: Path) -> None:
    (mail,) = messages(box)
    assert mail.to == ["admin@example.com", "hidden@example.com"]
    assert mail.links == ["http://127.0.0.1:8080/wp-login.php?action=rp&key=K&login=admin",
                          "https://example.com/?a=1&b=2"]
    assert find(box, "latest") == find(box, "2026") == mail
    with pytest.raises(UserError):
        find(box, "1999")
    assert oct(box.stat().st_mode & 0o777) == "0o700"


def test_without_the_token_or_from_another_site_nothing_is_shown(box: Path) -> None:
    page = MailboxPage(box, token="T0KEN")
    for query, headers in (("", {}), ("?token=wrong", {}), ("?token=T0KEN", {"sec-fetch-site": "cross-site"}),
                           ("?token=T0KEN", {"sec-fetch-site": "same-site"})):
        status, _, body = _get(page, query, **headers)
        assert status == 403 and "action=rp" not in body
    assert page.answer("POST", f"{contract.LOCAL_MAIL_PATH}?token=T0KEN", {})[0] == 405


def test_everything_shown_is_escaped_and_no_markup_of_a_mail_runs(box: Path) -> None:
    page = MailboxPage(box, token="T0KEN")
    status, headers, listing = _get(page, "?token=T0KEN", **{"sec-fetch-site": "none"})
    assert status == 200 and "<script>" not in listing and "&lt;script&gt;" in listing
    assert headers["Referrer-Policy"] == "no-referrer" and "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"
    status, _, shown = _get(page, "?token=T0KEN&id=20261207T160000Z", **{"sec-fetch-site": "same-origin"})
    assert status == 200
    assert "<img" not in shown and "&lt;img src=x onerror=alert(2)&gt;" in shown
    assert 'href="javascript:' not in shown
    assert 'href="http://127.0.0.1:8080/wp-login.php?action=rp&amp;key=K&amp;login=admin"' in shown
    assert _get(page, "?token=T0KEN&id=nope")[0] == 404


def test_the_url_carries_the_token_and_each_run_has_its_own() -> None:
    page = MailboxPage(Path(os.devnull))
    assert page.url("http://127.0.0.1:8080") == f"http://127.0.0.1:8080{contract.LOCAL_MAIL_PATH}?token={page.token}"
    assert len(page.token) >= 32 and MailboxPage(Path(os.devnull)).token != page.token


def test_a_part_in_an_unknown_charset_is_still_listed(box: Path) -> None:
    (box / "20261207T170000Z-bbbbbb.eml").write_bytes(
        b"To: a@example.com\r\nSubject: odd\r\nContent-Type: text/plain; charset=x-nonsense\r\n\r\n"
        b"see https://example.com/x \xff\r\n")
    odd = find(box, "20261207T170000Z")
    assert odd.subject == "odd" and odd.links == ["https://example.com/x"] and "\ufffd" in odd.text

