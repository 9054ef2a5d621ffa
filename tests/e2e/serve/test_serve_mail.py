"""serve keeps every mail: WordPress's password reset, end to end in Chromium, through the local mailbox.

The module's own serve (``served``): the test changes the admin's password, which the shared
site's other modules log in with.
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import stat
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.helpers import run_wplambda
from tests.support.serve import ADMIN_PASSWORD, Served
from wp_lambda.runtime import contract

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


def _mailbox_url(served: Served) -> str:
    """The mailbox page's address as the banner prints it (with this run's token)."""
    found = re.search(r"(http://\S+" + re.escape(contract.LOCAL_MAIL_PATH) + r"\?token=[\w-]+)", "".join(served.output))
    assert found, "".join(served.output)
    return found.group(1)


def _mail_dir(served: Served) -> Path:
    return served.project / ".wplambda" / "local" / contract.LOCAL_MAIL_DIR


def _log_in(page: Page, url: str, password: str) -> None:
    page.goto(f"{url}/wp-login.php")
    page.fill("#user_login", "admin")
    page.fill("#user_pass", password)
    page.click("#wp-submit")
    page.wait_for_load_state()


def test_the_banner_says_where_mail_goes(served: Served) -> None:
    banner = "".join(served.output)
    assert f"mail: kept in {_mail_dir(served)}, none leaves this machine" in banner
    assert _mailbox_url(served).startswith(f"{served.url}{contract.LOCAL_MAIL_PATH}?token=")


def test_a_reset_mail_lands_in_the_inbox_and_its_link_sets_a_new_password(served: Served, browser: Browser,
                                                                         tmp_path: Path) -> None:
    from playwright.sync_api import expect

    url = served.url
    new_password = f"New-{secrets.token_urlsafe(12)}-9"
    before = set(_mail_dir(served).glob("*.eml"))
    page = browser.new_context().new_page()
    page.set_default_timeout(60_000)

    # 1. "Lost your password?" for the admin.
    page.goto(f"{url}/wp-login.php")
    page.click("text=Lost your password?")
    page.fill("#user_login", "admin")
    page.click("#wp-submit")
    page.wait_for_url(re.compile(r".*checkemail=confirm"))

    # 2. The reset mail is in the local inbox: a private file, and on the mailbox page.
    written = set(_mail_dir(served).glob("*.eml")) - before
    assert len(written) == 1
    eml = written.pop()
    assert stat.S_IMODE(eml.stat().st_mode) == 0o600
    assert stat.S_IMODE(_mail_dir(served).stat().st_mode) == 0o700
    # No site.domains nor mail.from: serve's own From, not one made from the request's host.
    assert "<wordpress@wplambda.test>" in next(line for line in eml.read_text().splitlines()
                                               if line.startswith("From:"))
    page.goto(_mailbox_url(served))
    page.click("text=Password Reset")
    reset = page.locator("a[href*='action=rp']").first
    link = reset.get_attribute("href") or ""
    # The site's own address, as serve serves it; a foreign Host never reaches WordPress (below).
    assert link.startswith(f"{url}/wp-login.php?action=rp&key="), link
    page.screenshot(path=tmp_path / "mailbox.png")

    # 3. Following the link sets a new password.
    reset.click()
    page.wait_for_selector("#pass1")
    page.fill("#pass1", new_password)
    page.click("#wp-submit")
    expect(page.locator("body")).to_contain_text("Your password has been reset")

    # 4. The new password logs in; the old one does not.
    fresh = browser.new_context().new_page()
    _log_in(fresh, url, ADMIN_PASSWORD)
    expect(fresh.locator("#login_error")).to_be_visible()
    _log_in(fresh, url, new_password)
    fresh.wait_for_url(f"{url}/wp-admin/")


def test_a_reset_asked_for_with_another_host_sends_nothing(served: Served) -> None:
    """Password-reset poisoning: the link in the mail is built from the site's address, and a
    request naming another Host is refused before WordPress could build a link from it."""
    before = set(_mail_dir(served).glob("*.eml"))
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
    try:
        connection.request("POST", "/wp-login.php?action=lostpassword",
                           urllib.parse.urlencode({"user_login": "admin", "wp-submit": "Get New Password"}),
                           {"Content-Type": "application/x-www-form-urlencoded", "Host": "attacker.example"})
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert response.status == 421
    assert set(_mail_dir(served).glob("*.eml")) == before


@pytest.mark.parametrize(("query", "headers"), [
    ("", {}),  # no token
    ("?token=wrong", {}),
    ("?token=RIGHT", {"Sec-Fetch-Site": "cross-site"}),  # a page of another site with a leaked token
    ("?token=RIGHT", {"Host": "rebound.attacker.example"}),  # DNS rebinding
])
def test_the_mailbox_page_answers_only_its_user(served: Served, query: str, headers: dict[str, str]) -> None:
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(_mailbox_url(served)).query)["token"][0]
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    try:
        connection.request("GET", contract.LOCAL_MAIL_PATH + query.replace("RIGHT", token), headers=headers)
        response = connection.getresponse()
        body = response.read().decode()
    finally:
        connection.close()
    assert response.status in (403, 421)
    assert "Password Reset" not in body and "action=rp" not in body


def test_mail_list_and_show_read_the_inbox(served: Served) -> None:
    listed = run_wplambda("mail", "list", "--local", "--json", "--project", str(served.project))
    assert listed.returncode == 0, listed.stderr
    messages = json.loads(listed.stdout)
    assert messages and all({"id", "time", "to", "subject", "links"} <= set(m) for m in messages)
    assert any("Password Reset" in m["subject"] and any("action=rp" in u for u in m["links"]) for m in messages)
    shown = run_wplambda("mail", "show", "latest", "--local", "--project", str(served.project))
    assert shown.returncode == 0 and "Subject:" in shown.stdout
    refused = run_wplambda("mail", "list", "--project", str(served.project))
    assert refused.returncode == 2 and "--local" in refused.stderr
    # The token of the page is in the banner only, never in serve's request log.
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(_mailbox_url(served)).query)["token"][0]
    assert "".join(served.output).count(token) == 1

