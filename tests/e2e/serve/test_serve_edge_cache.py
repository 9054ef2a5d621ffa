"""serve's page cache, as CloudFront's, through real serve (php-fpm, MariaDB, WordPress, the kit's
mu-plugins) and Debian's Chromium: anonymous pages are served from the gateway's cache with
X-Cache and Age, while nothing made for a session (an editor's admin bar and nonces, a commenter's
page, a typed post password, a POST's answer, a Set-Cookie) is ever stored or shown to anyone
else; a purge through the endpoint takes pages out and refuses a wrong token or a browser; at
``--concurrency 1`` a throttled visitor gets the stale page, not the error."""

from __future__ import annotations

import http.cookiejar
import json
import re
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.helpers import copy_wordpress
from tests.support.serve import ADMIN_PASSWORD, Served, fetch, init_site, serving
from tests.support.wp_cli import set_key, wp
from wp_lambda.local import edge_cache
from wp_lambda.runtime import contract

if TYPE_CHECKING:
    from playwright.sync_api import Browser

SLEEP_PAGE = "wplambda-sleep.php"
# A page that says what the kit's mu-plugin says of a shareable page (2 s fresh, then stale), so the
# test depends on serve's cache alone: WordPress keeps the stale directives off any page that prints
# a nonce for anonymous visitors.
STALE_PAGE = "wplambda-stale.php"


def x_cache(headers: dict[str, str]) -> str:
    return headers.get("x-cache", "")


def test_the_banner_says_the_cache_is_on(installed_site: Served) -> None:
    banner = " ".join("".join(installed_site.output).split())
    assert "page cache: on, as CloudFront's (min/default/max TTL 0/0/300 s" in banner


def test_an_anonymous_page_is_a_miss_then_a_hit(installed_site: Served) -> None:
    url = f"{installed_site.url}/?edge-cache=hit"
    status, headers, body = fetch(url)
    assert (status, x_cache(headers)) == (200, edge_cache.MISS)
    time.sleep(1.1)
    status, headers, again = fetch(url)
    assert (status, x_cache(headers), again) == (200, edge_cache.HIT, body)
    assert int(headers["age"]) >= 1 and "set-cookie" not in headers


def test_an_anonymous_client_never_gets_the_editors_page(installed_site: Served, browser: Browser) -> None:
    """While an editor browses in Chromium, an anonymous client hammering the same URLs through the
    page cache never gets the admin bar, the editor's nonce or a Set-Cookie; it is served from the
    cache (so the test exercises the cache, not only WordPress); the editor's pages come from
    WordPress each time (fresh: a post made meanwhile is on the editor's next home page)."""
    from playwright.sync_api import expect

    url = installed_site.url
    paths = ["/", "/?s=hello", "/?s=world", "/?feed=rss2", "/?paged=1"]
    seen: list[tuple[str, int, str, bool]] = []  # path, status, X-Cache, Set-Cookie
    bodies: set[bytes] = set()
    stop = threading.Event()

    def anonymous() -> None:
        while not stop.is_set():
            for path in paths:
                status, headers, body = fetch(f"{url}{path}")
                bodies.add(body)
                seen.append((path, status, x_cache(headers), "set-cookie" in headers))

    worker = threading.Thread(target=anonymous, daemon=True)
    worker.start()
    page = browser.new_context().new_page()
    page.set_default_timeout(60_000)
    nonces: set[bytes] = set()
    editor_x_cache: set[str] = set()
    page.on("response", lambda response: editor_x_cache.add(response.headers.get("x-cache", ""))
            if response.url.startswith(url) and "/wp-includes/" not in response.url else None)
    try:
        page.goto(f"{url}/wp-login.php")
        page.fill("#user_login", "admin")
        page.fill("#user_pass", ADMIN_PASSWORD)
        page.click("#wp-submit")
        page.wait_for_url(f"{url}/wp-admin/")
        for round_ in range(3):
            for path in paths[:3]:
                page.goto(f"{url}{path}")
                expect(page.locator("#wpadminbar")).to_be_visible()
                # The log-out link carries a nonce made for this editor's session.
                logout = page.locator("#wp-admin-bar-logout a").get_attribute("href") or ""
                nonce = re.search(r"_wpnonce=([0-9a-f]{10})", logout)
                assert nonce, logout
                nonces.add(nonce.group(1).encode())
            if round_ == 0:
                title = f"Fresh for the editor {time.time_ns()}"
                assert wp(installed_site.project, "post", "create", "--post_status=publish",
                          f"--post_title={title}").returncode == 0
                page.goto(f"{url}/")
                expect(page.locator("body")).to_contain_text(title)
    finally:
        stop.set()
        worker.join(timeout=120)
        page.close()
    assert len(seen) >= len(paths) * 3, len(seen)
    assert nonces
    assert [s for s in seen if s[1] != 200 or s[3]] == []
    assert [b[:200] for b in bodies if b"wpadminbar" in b or any(n in b for n in nonces)] == []
    assert any(s[2] == edge_cache.HIT for s in seen), seen[:10]
    assert editor_x_cache - {""} <= {edge_cache.MISS}  # no page of the editor's came from the cache


def test_a_commenters_cookie_and_a_post_go_around_the_cache(installed_site: Served) -> None:
    url = f"{installed_site.url}/?edge-cache=commenter"
    fetch(url)
    assert x_cache(fetch(url)[1]) == edge_cache.HIT
    for _ in range(2):
        status, headers, _ = fetch(url, headers={"Cookie": "comment_author_0123abcd=Ann"})
        assert (status, x_cache(headers), headers["cache-control"]) == (200, "", contract.NOT_SHARED)
        status, headers, _ = fetch(url, method="POST", data=b"s=x",
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert (x_cache(headers), headers["cache-control"]) == ("", contract.NOT_SHARED)
    assert x_cache(fetch(url)[1]) == edge_cache.HIT  # the anonymous copy stands


def test_a_password_protected_post_is_never_shared(installed_site: Served) -> None:
    secret_text = f"only for the password {time.time_ns()}"
    made = wp(installed_site.project, "post", "create", "--post_status=publish", "--post_password=opensesame",
              "--post_title=Protected", f"--post_content={secret_text}", "--porcelain")
    assert made.returncode == 0, made.stderr
    post = f"{installed_site.url}/?p={made.stdout.strip()}"
    jar = http.cookiejar.CookieJar()
    reader = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = urllib.parse.urlencode({"post_password": "opensesame"}).encode()
    fetch(f"{installed_site.url}/wp-login.php?action=postpass", data=form, opener=reader,
          headers={"Referer": post})
    assert any(cookie.name.startswith("wp-postpass_") for cookie in jar)
    for _ in range(2):
        status, headers, body = fetch(post, opener=reader)
        assert status == 200 and secret_text.encode() in body and x_cache(headers) == ""
        status, headers, body = fetch(post)
        assert status == 200 and secret_text.encode() not in body and b"post_password" in body
        assert x_cache(headers) != edge_cache.HIT  # the form page is private too: never stored


def test_the_purge_endpoint_purges_and_refuses_a_wrong_token_or_a_browser(installed_site: Served) -> None:
    token = _run_purge_token(installed_site)
    url = f"{installed_site.url}/?edge-cache=purge"
    fetch(url)
    purge = f"{installed_site.url}{contract.LOCAL_PURGE_PATH}"
    data = json.dumps({"paths": ["/?edge-cache=purge"]}).encode()
    for headers in ({"Authorization": "Bearer wrong", "Content-Type": "application/json"},
                    {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
                    {"Authorization": f"Bearer {token}", "Origin": "http://evil.example"},
                    {"Authorization": f"Bearer {token}", "Sec-Fetch-Site": "cross-site"}):
        assert fetch(purge, data=data, headers=headers)[0] == 403, headers
        assert x_cache(fetch(url)[1]) == edge_cache.HIT
    status, _, body = fetch(purge, data=data, headers={"Authorization": f"Bearer {token}",
                                                       "Content-Type": "application/json"})
    assert (status, json.loads(body)) == (200, {"purged": 1})
    assert x_cache(fetch(url)[1]) == edge_cache.MISS


def test_a_published_post_is_on_the_cached_home_page_within_2_seconds(installed_site: Served) -> None:
    """The purge mu-plugin's paths reach serve's cache through the runtime and the purge endpoint,
    as they reach CloudFront deployed: the cached home page gives way to one with the new post."""
    home = f"{installed_site.url}/"
    fetch(home)
    assert x_cache(fetch(home)[1]) == edge_cache.HIT
    title = f"Visible at once {time.time_ns()}"
    made = wp(installed_site.project, "post", "create", "--post_status=publish", f"--post_title={title}")
    assert made.returncode == 0, made.stderr
    published = time.monotonic()
    while title.encode() not in fetch(home)[2]:
        assert time.monotonic() - published < 2.0, "the home page still shows the cached copy"
        time.sleep(0.05)


def test_simultaneous_visitors_of_a_purged_page_make_one_function_request(installed_site: Served) -> None:
    """CloudFront's request collapsing, through real serve: a burst of anonymous visitors to a page
    just purged wakes the function once; the one request that went there is the Miss, every other
    waited for it and is a Hit of the same page (serve's log shows one function answer)."""
    target = f"/?edge-cache=collapse-{time.time_ns()}"
    url = f"{installed_site.url}{target}"
    fetch(url)
    token = _run_purge_token(installed_site)
    status, _, _ = fetch(f"{installed_site.url}{contract.LOCAL_PURGE_PATH}",
                         data=json.dumps({"paths": [target]}).encode(),
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert status == 200
    logged = len(installed_site.output)
    visitors = 12
    start = threading.Barrier(visitors)
    answers: list[tuple[int, dict[str, str], bytes]] = []

    def visit() -> None:
        start.wait(timeout=30)
        answers.append(fetch(url))

    threads = [threading.Thread(target=visit) for _ in range(visitors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(x_cache(h) for _, h, _ in answers) == [edge_cache.HIT] * (visitors - 1) + [edge_cache.MISS]
    assert {s for s, _, _ in answers} == {200} and len({body for _, _, body in answers}) == 1
    answered = re.compile(rf"GET {re.escape(target)} 200 \d+ms (warm|cold)\b")
    deadline = time.monotonic() + 5
    while sum(1 for line in installed_site.output[logged:] if target in line) < visitors:
        assert time.monotonic() < deadline, "serve did not log every request"
        time.sleep(0.05)
    assert sum(1 for line in installed_site.output[logged:] if answered.search(line)) == 1


def _run_purge_token(served: Served) -> str:
    """This run's purge token, read as the runtime gets it: from a handler process's environment."""
    for pid in served.all_pids():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for item in environ:
            name, _, value = item.decode(errors="replace").partition("=")
            if name == contract.LOCAL_PURGE_TOKEN_ENV:
                return value
    raise AssertionError("no handler process has the purge token")


def test_php_never_sees_the_purge_token(installed_site: Served) -> None:
    shown = wp(installed_site.project, "eval", f"var_export(getenv('{contract.LOCAL_PURGE_TOKEN_ENV}'));")
    assert shown.returncode == 0 and shown.stdout.strip() == "false", shown.stdout


@pytest.fixture(scope="module")
def capped_stale(tmp_path_factory: pytest.TempPathFactory, debian_wordpress: Path) -> Iterator[Served]:
    """--concurrency 1 and pages fresh for 2 s only, so a cached page is soon stale."""
    base = tmp_path_factory.mktemp("stale")
    source = copy_wordpress(base / "wordpress")
    (source / SLEEP_PAGE).write_text("<?php sleep((int)($_GET['s'] ?? 3)); echo 'slept';\n")
    (source / STALE_PAGE).write_text("<?php header('Cache-Control: public, max-age=0, s-maxage=2, "
                                     "stale-while-revalidate=600, stale-if-error=600'); echo microtime(true);\n")
    project = init_site(base / "site", "stale", "--wordpress-source", str(source))
    set_key(project, "cache", "ttl", "2")
    with serving(project, "--install", "--admin-password", ADMIN_PASSWORD, "--workers", "2",
                 "--concurrency", "1") as server:
        yield server


def test_throttling_at_concurrency_1_gives_stale_pages_not_errors(capped_stale: Served) -> None:
    url = capped_stale.url
    pages = {path: fetch(f"{url}{path}")[2] for path in (f"/{STALE_PAGE}", f"/{STALE_PAGE}?page=2")}
    slow = threading.Thread(target=fetch, args=(f"{url}/{SLEEP_PAGE}?s=6",))
    slow.start()
    time.sleep(3)  # the one slot is PHP's sleep now, and every cached page is past its 2 s
    answers = [(path, *fetch(f"{url}{path}")) for _ in range(3) for path in pages]
    slow.join(timeout=30)
    assert [(p, s, x_cache(h)) for p, s, h, _ in answers if s != 200 or x_cache(h) != edge_cache.REFRESH_HIT] == []
    assert all(body == pages[path] for path, _, _, body in answers)
    # Past the stale page, a page never cached gets the throttle's answer, as CloudFront would give it.
    slow = threading.Thread(target=fetch, args=(f"{url}/{SLEEP_PAGE}?s=4",))
    slow.start()
    time.sleep(1.5)
    assert fetch(f"{url}/?never-cached")[0] == 503
    slow.join(timeout=30)


def test_no_cache_sends_every_page_to_wordpress(tmp_path_factory: pytest.TempPathFactory,
                                                debian_wordpress: Path) -> None:
    project = init_site(tmp_path_factory.mktemp("nocache") / "site", "nocache")
    with serving(project, "--install", "--admin-password", ADMIN_PASSWORD, "--no-cache") as server:
        banner = " ".join("".join(server.output).split())
        assert "page cache: off (--no-cache)" in banner
        for _ in range(2):
            status, headers, _ = fetch(f"{server.url}/")
            # WordPress still marks the page as it would for CloudFront; the gateway keeps nothing.
            assert status == 200 and headers["cache-control"].startswith("public") and "x-cache" not in headers
