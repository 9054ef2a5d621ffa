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
    """An IPv4-mapped address is its IPv4 client, an IPv6 client is its /64; an unknown username
    adds no row of its own, so only the address's count locks here."""
    def attempts(*addresses: str) -> list[str]:
        script = ("$codes = []; foreach (json_decode('%s') as $address) { $_SERVER['REMOTE_ADDR'] = $address;"
                  " $codes[] = wp_authenticate('nobody-at-all', 'wrong')->get_error_code(); }"
                  " echo implode(',', $codes);")
        return _php(throttle, script % json.dumps(addresses)).split(",")

    fail, locked = "wplambda_login_failed", "wplambda_login_throttled"
    assert attempts(*["::ffff:192.0.2.7"] * 5) == [fail] * 5
    assert attempts("::ffff:192.0.2.7", "192.0.2.7", "::ffff:192.0.2.8") == [locked, locked, fail]
    assert attempts(*["2001:db8::1"] * 5) == [fail] * 5
    assert attempts("2001:db8::2", "2001:db8:0:1::1") == [locked, fail]
    assert all(key.startswith("ip:") for key in _rows(throttle))


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
    from playwright.sync_api import expect

    page = browser.new_page()
    page.set_default_timeout(60_000)
    for attempt in range(6):
        page.goto(f"{throttle.url}/wp-login.php")
        page.fill("#user_login", USER)
        page.fill("#user_pass", "wrong" if attempt < 5 else PASSWORD)
        page.click("#wp-submit")
        page.wait_for_load_state()
    error = page.locator("#login_error")
    expect(error).to_contain_text(LOCKED)
    expect(error).to_contain_text(re.compile(r"Try again in \d+ seconds \(at .+\)"))
    assert "/wp-admin/" not in page.url

