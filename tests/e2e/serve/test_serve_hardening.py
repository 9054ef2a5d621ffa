"""The hardening walls on a served site, with the default [security] (every wall up): real php-fpm,
MariaDB and WordPress under `wplambda serve`, and Chromium for the login throttle's message.

The throttle counts per address too, and every test here connects from 127.0.0.1 like the other
modules sharing ``installed_site``: the ``throttle`` fixture empties the throttle's table before
and after each test, so no lock outlives its test. A second client address is 127.0.0.2 (the whole
127/8 is loopback on Linux), the only way to be another visitor to serve.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest

from tests.support.serve import ADMIN_PASSWORD, NoRedirect, Served, fetch, login

if TYPE_CHECKING:
    from playwright.sync_api import Browser

USER, PASSWORD = "throttled", "throttled-user-password-7"
LOCKED = "Too many failed login attempts"


def _php(served: Served, code: str, *, prelude: str = "") -> str:
    """``code`` run after wp-load.php (``prelude`` before it), through serve's invoke endpoint as the
    console function (``{"wplambda": "php"}``): the site's own environment, [security]'s walls included."""
    state = json.loads((served.project / ".wplambda" / "local" / "run" / "invoke.json").read_text())
    client = boto3.client("lambda", endpoint_url=state["endpoint_url"], region_name="us-east-1",
                          aws_access_key_id=state["access_key_id"], aws_secret_access_key=state["secret_access_key"])
    event = {"wplambda": "php", "args": ["-r", f"{prelude} require 'wp-load.php'; {code}"]}
    reply = client.invoke(FunctionName=state["console_function"], Payload=json.dumps(event))
    result = json.loads(reply["Payload"].read())
    assert result["exitCode"] == 0, result
    return str(result["stdout"]).strip()


@pytest.fixture
def throttle(installed_site: Served) -> Iterator[Served]:
    """The site with a subscriber USER and an empty throttle table, emptied again afterwards."""
    reset = ("global $wpdb; $wpdb->suppress_errors(true);"
             " $wpdb->query('DELETE FROM ' . WPLambda_Login_Throttle::table());")
    _php(installed_site, reset + f" if (!username_exists('{USER}')) wp_create_user('{USER}', '{PASSWORD}',"
         f" '{USER}@example.com');")
    try:
        yield installed_site
    finally:
        _php(installed_site, reset)


def _post_login(served: Served, user: str, password: str, *, source: str = "127.0.0.1",
                headers: dict[str, str] | None = None) -> tuple[int, list[tuple[str, str]], str]:
    """One wp-login.php POST from ``source``: status, every header (Set-Cookie repeats), body."""
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60, source_address=(source, 0))
    form = urllib.parse.urlencode({"log": user, "pwd": password, "wp-submit": "Log In", "testcookie": "1",
                                   "redirect_to": f"{served.url}/wp-admin/"})
    try:
        connection.request("POST", "/wp-login.php", form, {
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": "wordpress_test_cookie=WP%20Cookie%20check",
            **(headers or {})})
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read().decode(errors="replace")
    finally:
        connection.close()


def _rows(served: Served) -> dict[str, list[int]]:
    """The throttle's rows: key => [failures, seconds still locked]."""
    out = _php(served, "global $wpdb; $r = []; foreach ($wpdb->get_results('SELECT * FROM ' ."
               " WPLambda_Login_Throttle::table()) as $row) { $r[$row->k] = [(int) $row->failures,"
               " max(0, (int) $row->locked_until - time())]; } echo json_encode($r);")
    return json.loads(out or "{}")


def test_xmlrpc_is_refused_and_not_advertised(installed_site: Served) -> None:
    body = b"<?xml version='1.0'?><methodCall><methodName>system.listMethods</methodName></methodCall>"
    status, _, _ = fetch(f"{installed_site.url}/xmlrpc.php", data=body, headers={"Content-Type": "text/xml"})
    assert status == 403
    status, _, home = fetch(f"{installed_site.url}/")
    assert status == 200 and b"xmlrpc.php?rsd" not in home
    # X-Pingback stays: the installer's loopback looks for it to turn pretty permalinks on.
    status, headers, _ = fetch(f"{installed_site.url}/wp-json/")
    assert status == 200 and headers["content-type"].startswith("application/json")


def test_wp_cron_is_refused_over_http(installed_site: Served) -> None:
    assert fetch(f"{installed_site.url}/wp-cron.php?doing_wp_cron=1")[0] == 403


def test_core_files_are_not_served(installed_site: Served) -> None:
    """Debian's tree has no license.txt (the unit tests cover it: never a static type)."""
    for path in ("/readme.html", "/wp-admin/install.php", "/wp-admin/install.php?step=1"):
        status, _, body = fetch(f"{installed_site.url}{path}")
        assert status == 404, path
        assert b"WordPress" not in body, path


def test_no_user_enumeration_for_anonymous_visitors(installed_site: Served) -> None:
    url = installed_site.url
    for path in ("/wp-json/wp/v2/users", "/wp-json/wp/v2/users/1", "/?rest_route=/wp/v2/users"):
        status, _, body = fetch(f"{url}{path}")
        assert status == 404 and b"admin" not in body, path
    opener = urllib.request.build_opener(NoRedirect())
    status, headers, _ = fetch(f"{url}/?author=1", opener=opener)
    assert status == 404 and "location" not in headers
    # Sitemaps are off on serve's site (search engines discouraged): the providers a public one has.
    providers = _php(installed_site, "$s = new WP_Sitemaps(); $s->register_sitemaps();"
                     " echo json_encode(array_keys($s->registry->get_providers()));")
    assert json.loads(providers) == ["posts", "taxonomies"]
    # A logged-in user still has them (the block editor lists authors).
    admin = login(installed_site)
    nonce = fetch(f"{url}/wp-admin/admin-ajax.php?action=rest-nonce", opener=admin)[2].decode()
    status, _, users = fetch(f"{url}/wp-json/wp/v2/users", opener=admin, headers={"X-WP-Nonce": nonce})
    assert status == 200 and "admin" in [u["slug"] for u in json.loads(users)]


def test_one_message_for_a_wrong_password_and_an_unknown_user(throttle: Served) -> None:
    _, _, wrong_password = _post_login(throttle, "admin", "not-the-password")
    _, _, unknown_user = _post_login(throttle, "nobody-here", "not-the-password")
    message = "The username or password is incorrect."
    assert message in wrong_password and message in unknown_user
    assert "admin" not in re.search(r'id="login_error"[^>]*>(.*?)</div>', wrong_password, re.S).group(1)


def test_auth_cookies_are_same_site_lax(installed_site: Served) -> None:
    status, headers, _ = _post_login(installed_site, "admin", ADMIN_PASSWORD)
    cookies = [value for name, value in headers if name.lower() == "set-cookie" and value.startswith("wordpress_")]
    assert status == 302 and any(c.startswith("wordpress_logged_in_") for c in cookies)
    assert all(c.endswith("; SameSite=Lax") for c in cookies), cookies


def test_login_throttle_per_address_and_per_username(throttle: Served) -> None:
    for _ in range(5):  # login_attempts = 5 failures are free
        status, _, page = _post_login(throttle, USER, "wrong")
        assert status == 200 and LOCKED not in page
    # The sixth attempt waits, even with the right password, and says for how long.
    status, headers, page = _post_login(throttle, USER, PASSWORD)
    assert status == 429 and LOCKED in page and re.search(r"Try again in (2\d|30) seconds \(at ", page)
    assert {k.lower(): v for k, v in headers}.get("retry-after", "").isdigit()
    assert not any(v.startswith("wordpress_logged_in_") for k, v in headers if k.lower() == "set-cookie")
    rows = _rows(throttle)
    assert [f for f, _ in rows.values()] == [5, 5] and all(25 <= wait <= 30 for _, wait in rows.values())
    # The address is locked for any username; X-Forwarded-For cannot make it another visitor.
    status, _, page = _post_login(throttle, "admin", ADMIN_PASSWORD, headers={"X-Forwarded-For": "198.51.100.9"})
    assert status == 429 and LOCKED in page
    # From another address the username is still locked, and admin gets in.
    assert _post_login(throttle, USER, PASSWORD, source="127.0.0.2")[0] == 429
    assert _post_login(throttle, "admin", ADMIN_PASSWORD, source="127.0.0.2")[0] == 302
    assert len(_rows(throttle)) == 2  # refused attempts are not counted, nor is the success
    # Exponential: once the wait is over, the next failure doubles it.
    _php(throttle, "global $wpdb; $wpdb->query('UPDATE ' . WPLambda_Login_Throttle::table() ."
         " ' SET locked_until = 0');")
    _post_login(throttle, USER, "wrong")
    assert all(f == 6 and 55 <= wait <= 60 for f, wait in _rows(throttle).values())


def test_login_throttle_covers_the_authenticate_path_xmlrpc_uses(throttle: Served) -> None:
    """XML-RPC and application passwords over it log in through wp_authenticate(), not wp-login.php."""
    codes = _php(throttle, "$_SERVER['REMOTE_ADDR'] = '192.0.2.50'; $c = [];"
                 f" for ($i = 0; $i < 7; $i++) {{ $c[] = wp_authenticate('{USER}', $i < 6 ? 'wrong' : '{PASSWORD}')"
                 "->get_error_code(); } echo implode(',', $c);")
    assert codes.split(",") == ["wplambda_login_failed"] * 5 + ["wplambda_login_throttled"] * 2


def test_login_throttle_covers_application_passwords_over_rest(throttle: Served) -> None:
    """REST's Basic auth checks application passwords outside `authenticate`: its failures count,
    and a locked client gets REST's 429 instead of the user, before any password is checked."""
    codes = _php(throttle, f"""
        $user = get_user_by('login', '{USER}');
        list($password) = WP_Application_Passwords::create_new_application_password($user->ID, ['name' => 'test']);
        $_SERVER['REMOTE_ADDR'] = '192.0.2.60';
        $out = [];
        foreach (array_merge([$password], array_fill(0, 5, 'wrong'), [$password]) as $tried) {{
            $_SERVER['PHP_AUTH_USER'] = '{USER}';
            $_SERVER['PHP_AUTH_PW'] = $tried;
            $id = apply_filters('determine_current_user', false);
            $error = apply_filters('rest_authentication_errors', null);
            $out[] = $id ? 'user' : (is_wp_error($error) ? $error->get_error_data()['status'] : 'none');
        }}
        WP_Application_Passwords::delete_all_application_passwords($user->ID);
        echo implode(',', $out);""", prelude="define('REST_REQUEST', true); $_SERVER['HTTPS'] = 'on';")
    assert codes.split(",") == ["user"] + ["401"] * 5 + ["429"]  # 401: WordPress's own answer to a wrong one


def test_a_success_resets_the_account_not_the_address(throttle: Served) -> None:
    """Otherwise a guesser with an account of their own could log into it between guesses."""
    for _ in range(2):
        _post_login(throttle, USER, "wrong")
    assert sorted(f for f, _ in _rows(throttle).values()) == [2, 2]
    assert _post_login(throttle, USER, PASSWORD)[0] == 302
    assert [(key.split(":")[0], f) for key, (f, _) in _rows(throttle).items()] == [("ip", 2)]


def test_addresses_as_the_throttle_counts_them(throttle: Served) -> None:
    """An IPv4-mapped address is its IPv4 client, an IPv6 client is its /64. Every attempt here
    is for another made-up name, so only the address's count locks."""
    def attempts(*addresses: str) -> list[str]:
        script = ("$codes = []; foreach (json_decode('%s') as $address) { $_SERVER['REMOTE_ADDR'] = $address;"
                  " $codes[] = wp_authenticate(uniqid('nobody-', true), 'wrong')->get_error_code(); }"
                  " echo implode(',', $codes);")
        return _php(throttle, script % json.dumps(addresses)).split(",")

    fail, locked = "wplambda_login_failed", "wplambda_login_throttled"
    assert attempts(*["::ffff:192.0.2.7"] * 5) == [fail] * 5
    assert attempts("::ffff:192.0.2.7", "192.0.2.7", "::ffff:192.0.2.8") == [locked, locked, fail]
    assert attempts(*["2001:db8::1"] * 5) == [fail] * 5
    assert attempts("2001:db8::2", "2001:db8:0:1::1") == [locked, fail]
    assert sorted(key for key in _rows(throttle) if key.startswith("ip:")) == \
        ["ip:192.0.2.7", "ip:192.0.2.8", "ip:2001:db8:0:1::/64", "ip:2001:db8::/64"]


def test_expired_rows_are_purged(throttle: Served) -> None:
    _php(throttle, "global $wpdb; $wpdb->suppress_errors(true); $t = WPLambda_Login_Throttle::table();"
         " $wpdb->query(\"CREATE TABLE IF NOT EXISTS $t (k VARCHAR(80) PRIMARY KEY, failures INT UNSIGNED,"
         " locked_until INT UNSIGNED, expires INT UNSIGNED)\");"
         " for ($i = 0; $i < 30; $i++) { $wpdb->insert($t, ['k' => \"ip:old$i\", 'failures' => 9,"
         " 'locked_until' => 0, 'expires' => time() - 1]); }")
    assert len(_rows(throttle)) == 30
    _post_login(throttle, USER, "wrong")
    assert sorted(f for f, _ in _rows(throttle).values()) == [1, 1]  # the 30 stale rows are gone


def test_login_throttle_message_in_chromium(throttle: Served, browser: Browser) -> None:
    """The message a person sees. The failures are sent over HTTP from Chromium's address first:
    driving five failed logins through the browser on a loaded machine can take longer than the
    first 30 s lock, and the right password would then, correctly, get in."""
    from playwright.sync_api import expect

    for _ in range(5):
        assert _post_login(throttle, USER, "wrong")[0] == 200
    page = browser.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{throttle.url}/wp-login.php")
    page.fill("#user_login", USER)
    page.fill("#user_pass", PASSWORD)
    page.click("#wp-submit")
    page.wait_for_load_state()
    error = page.locator("#login_error")
    expect(error).to_contain_text(LOCKED)
    expect(error).to_contain_text(re.compile(r"Try again in \d+ seconds \(at .+\)"))
    assert "/wp-admin/" not in page.url


def _device_cookie(headers: list[tuple[str, str]]) -> str:
    """The throttle's device cookie a login answer sets, as the full Set-Cookie line."""
    found = [v for k, v in headers if k.lower() == "set-cookie" and v.startswith("wplambda_device_")]
    assert len(found) == 1, headers
    return found[0]


def _with_cookie(cookie: str) -> dict[str, str]:
    return {"Cookie": f"wordpress_test_cookie=WP%20Cookie%20check; {cookie}"}


# Spellings MariaDB's utf8mb4_unicode_520_ci takes for "throttled" (WordPress finds the account by
# them), which sanitize_user() keeps: zero-width space, word joiner, fullwidth letters, a modifier letter.
SPELLINGS = ["thro\u200bttled", "throt\u2060tled", "\uff54\uff48\uff52\uff4f\uff54\uff54\uff4c\uff45\uff44",
             "\u1d57hrottled"]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_other_spellings_of_a_login_share_its_count(throttle: Served, spelling: str) -> None:
    """Finding 1: each spelling used to get its own counter and its own free failures."""
    for _ in range(5):
        assert _post_login(throttle, USER, "wrong", source="127.0.0.2")[0] == 200
    # The account is locked, for the right password too, whatever the spelling...
    assert _post_login(throttle, spelling, PASSWORD, source="127.0.0.3")[0] == 429
    # ... and failures under a spelling count on the account's one row.
    _php(throttle, "global $wpdb; $wpdb->query('UPDATE ' . WPLambda_Login_Throttle::table() ."
         " ' SET locked_until = 0');")
    assert _post_login(throttle, spelling, "wrong", source="127.0.0.4")[0] == 200
    user_id = _php(throttle, f"echo get_user_by('login', '{USER}')->ID;")
    rows = _rows(throttle)
    assert sorted(rows) == ["ip:127.0.0.2", "ip:127.0.0.4", f"user:{user_id}"]
    assert rows[f"user:{user_id}"][0] == 6


def test_attempts_sent_at_once_get_the_budget_and_no_more(throttle: Served) -> None:
    """Finding 2: attempts sent together (serve runs three PHP workers) used to all pass the lock
    check before any failure was recorded. The address has one free failure left; a transaction
    holding its row stands in for a slow password check (WordPress 6.1's is a millisecond), so the
    attempts overlap for certain. Each 200 is a password checked; the budget allows one."""
    table = "WPLambda_Login_Throttle::table()"
    _php(throttle, "$_SERVER['REMOTE_ADDR'] = '192.0.2.70'; wp_authenticate('nobody-here', 'wrong');"
         f" global $wpdb; $wpdb->insert({table}, ['k' => 'ip:127.0.0.2', 'failures' => 4,"
         " 'locked_until' => 0, 'expires' => time() + 3600]);")
    holder = threading.Thread(target=_php, args=(throttle, f"global $wpdb; $wpdb->query('START TRANSACTION');"
                              f" $wpdb->query(\"SELECT * FROM \" . {table} . \" WHERE k = 'ip:127.0.0.2' FOR UPDATE\");"
                              " sleep(4); $wpdb->query('COMMIT');"))
    holder.start()
    statuses: list[int] = []
    start = threading.Barrier(12, timeout=30)

    def attempt() -> None:
        start.wait()
        statuses.append(_post_login(throttle, USER, "wrong", source="127.0.0.2")[0])

    threading.Event().wait(1.5)  # the holder has the row
    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in [*threads, holder]:
        thread.join()
    assert sorted(statuses) == [200] + [429] * 11
    assert _rows(throttle)["ip:127.0.0.2"][0] == 5


def test_a_device_cookie_lets_the_owner_in_while_an_attacker_keeps_the_account_locked(throttle: Served) -> None:
    """Finding 3: the owner's browser, which logged in before, skips the account's lock (not its
    address's); a forged or other account's cookie does not."""
    status, headers, _ = _post_login(throttle, USER, PASSWORD, source="127.0.0.3")
    assert status == 302
    line = _device_cookie(headers)
    attributes = [a.strip().lower() for a in line.split(";")[1:]]
    assert "httponly" in attributes and "samesite=lax" in attributes and "secure" not in attributes  # http here
    cookie = line.split(";")[0]
    for source in ("127.0.0.2", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7"):  # one failure each
        assert _post_login(throttle, USER, "wrong", source=source)[0] == 200
    assert _post_login(throttle, USER, PASSWORD, source="127.0.0.8")[0] == 429  # a browser without it
    name, value = cookie.split("=", 1)
    user_id, issued, nonce, mac = value.split(".")
    forged = [f"{name}={user_id}.{issued}.{nonce}.{mac[:-1]}{'0' if mac[-1] != '0' else '1'}",
              f"{name}={user_id}.{int(issued) + 1}.{nonce}.{mac}", f"{name}=1.{issued}.{nonce}.{mac}"]
    for bad in forged:
        assert _post_login(throttle, USER, PASSWORD, source="127.0.0.3", headers=_with_cookie(bad))[0] == 429, bad
    status, headers, _ = _post_login(throttle, USER, PASSWORD, source="127.0.0.3", headers=_with_cookie(cookie))
    assert status == 302 and any(v.startswith("wordpress_logged_in_") for k, v in headers if k.lower() == "set-cookie")
    # The address's lock still holds for a device cookie.
    for _ in range(5):
        _post_login(throttle, "nobody-here", "wrong", source="127.0.0.9")
    assert _post_login(throttle, USER, PASSWORD, source="127.0.0.9", headers=_with_cookie(cookie))[0] == 429


def test_an_unknown_name_locks_as_a_known_one(throttle: Served) -> None:
    """Finding 4d: only real accounts used to get a row, so a second address learnt which names exist."""
    for name, source in (("nobody-here", "127.0.0.2"), (USER, "127.0.0.3")):
        for _ in range(5):
            assert _post_login(throttle, name, "wrong", source=source)[0] == 200
    answers = {name: _post_login(throttle, name, "wrong", source="127.0.0.4")
               for name in ("nobody-here", "nobody\u200b-here", USER)}
    assert [status for status, _, _ in answers.values()] == [429] * 3
    assert all(LOCKED in page for _, _, page in answers.values())


def test_author_in_a_post_body_is_not_an_archive(installed_site: Served) -> None:
    """Finding 4a: WordPress reads query vars from a POST body too, and redirect_canonical skips POSTs."""
    connection = http.client.HTTPConnection("127.0.0.1", installed_site.port, timeout=60)
    try:
        connection.request("POST", "/", "author=1", {"Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        body = response.read().decode(errors="replace")
    finally:
        connection.close()
    assert response.status == 404 and "author-admin" not in body and "author-1" not in body


def _lost_password(served: Served, name: str, source: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60, source_address=(source, 0))
    try:
        form = urllib.parse.urlencode({"user_login": name, "wp-submit": "Get New Password"})
        connection.request("POST", "/wp-login.php?action=lostpassword", form,
                           {"Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("Location", "")
    finally:
        connection.close()


def test_lost_password_answers_alike_for_known_and_unknown_names(throttle: Served) -> None:
    """Finding 4b: "There is no account with that username" told which names exist. Each request
    counts on its address: the sixth from one address waits."""
    known = _lost_password(throttle, USER, "127.0.0.2")
    unknown = _lost_password(throttle, "nobody-here", "127.0.0.3")
    assert known == unknown and known[0] == 302 and known[1].endswith("wp-login.php?checkemail=confirm")
    for _ in range(4):
        assert _lost_password(throttle, "nobody-here", "127.0.0.3")[0] == 302
    assert _lost_password(throttle, USER, "127.0.0.3")[0] == 429


def test_oembed_has_no_author_url_for_anonymous_visitors(installed_site: Served) -> None:
    """Finding 4c: oEmbed's author_url is /author/NICENAME/, the login unless changed."""
    post = _php(installed_site, "echo get_permalink(get_posts(['numberposts' => 1])[0]);")
    url = f"{installed_site.url}/wp-json/oembed/1.0/embed?url={urllib.parse.quote(post, safe='')}"
    status, _, body = fetch(url)
    data = json.loads(body)
    assert status == 200 and "author_url" not in data and "author_name" in data
    admin = login(installed_site)
    nonce = fetch(f"{installed_site.url}/wp-admin/admin-ajax.php?action=rest-nonce", opener=admin)[2].decode()
    assert "author_url" in json.loads(fetch(url, opener=admin, headers={"X-WP-Nonce": nonce})[2])
