"""serve's page cache (wp_lambda/local/edge_cache.py): what it stores, for how long, what it answers
while stale, what a purge takes out, and who may purge; on a real gateway bound to a loopback port
with a counting stand-in for the handler and a clock moved by hand. The rule that sends a request
around the cache is contract.request_cache_bypass, the runtime's."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.helpers import Clock
from wp_lambda.config import Assets
from wp_lambda.local import edge_cache
from wp_lambda.local.edge_cache import EdgeCache, Lifetime, check_purge_paths, lifetime
from wp_lambda.local.gateway import PURGE_BODY_LIMIT, Directory, Gateway, Limits, Routes
from wp_lambda.local.runtime_api import Throttled
from wp_lambda.runtime import contract

PUBLIC = "public, max-age=0, s-maxage=60, stale-while-revalidate=600, stale-if-error=600"
TTLS = contract.page_cache_ttls(300)
TOKEN = "purge-token-for-tests"


@pytest.mark.parametrize(("status", "headers", "expected"), [
    (200, [("Cache-Control", PUBLIC)], Lifetime(60, 600, 600)),
    (200, [("Cache-Control", "public, s-maxage=99999")], Lifetime(300, 0, 0)),  # capped at MaxTTL
    (200, [("Cache-Control", "max-age=30")], Lifetime(30, 0, 0)),
    (200, [("Cache-Control", "max-age=30, s-maxage=90")], Lifetime(90, 0, 0)),  # s-maxage wins
    (200, [("Expires", "Thu, 01 Jan 2026 00:02:00 GMT"), ("Date", "Thu, 01 Jan 2026 00:00:00 GMT")],
     Lifetime(120, 0, 0)),
    (200, [("Cache-Control", "max-age=20"), ("Expires", "Thu, 01 Jan 2099 00:00:00 GMT")], Lifetime(20, 0, 0)),
    (200, [], None),  # DefaultTTL 0: nothing WordPress did not mark
    (200, [("Cache-Control", "private, no-store")], None),
    (200, [("Cache-Control", 'public, s-maxage=60, private="set-cookie"')], None),
    (200, [("Cache-Control", "public, s-maxage=60, no-cache")], None),
    (200, [("Cache-Control", "public, s-maxage=0")], None),
    (200, [("Cache-Control", PUBLIC), ("Set-Cookie", "session=abc")], None),
    (206, [("Cache-Control", PUBLIC)], None),
    (304, [("Cache-Control", PUBLIC)], None),
    # Errors: CloudFront's error caching, 10 s, no-store honoured only on 404, 414 and 501;
    # serve, stricter, never stores a private or no-store answer (the template sets the error
    # caching minimum TTL of those codes to 0).
    (503, [("Cache-Control", "private, no-store")], None),
    (500, [("Cache-Control", "no-store")], None),
    (502, [("Cache-Control", "private")], None),
    (503, [("Cache-Control", "no-cache")], Lifetime(10)),
    (410, [("Cache-Control", "no-cache")], None),
    (410, [("Cache-Control", "max-age=60")], None),  # not among contract.CACHED_ERROR_CODES
    (404, [("Cache-Control", "no-cache")], None),
    (502, [], Lifetime(10)),
    (404, [("Cache-Control", "private, no-store")], None),
    (404, [("Cache-Control", "max-age=60")], Lifetime(60)),
    (429, [], None),  # not among the errors CloudFront caches
])
def test_lifetime(status: int, headers: list[tuple[str, str]], expected: Lifetime | None) -> None:
    assert lifetime(status, headers, TTLS) == expected


class Origin:
    """Stands in for the handler: answers with a counter, a Cache-Control and a status it is told;
    ``fail`` makes it throttle or crash instead, ``delay`` makes it slow, ``gate`` holds its first
    call (only that one: a later call, such as a bypass request's, answers at once) until it is set."""

    def __init__(self) -> None:
        self.calls = 0
        self.cache_control = PUBLIC
        self.status = 200
        self.set_cookie = False
        self.fail: Exception | None = None
        self.delay = 0.0
        self.gate: threading.Event | None = None
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.calls += 1
            calls = self.calls
            self.events.append(event)
        time.sleep(self.delay)
        if self.gate is not None and calls == 1:
            self.gate.wait(10)
        if self.fail is not None:
            raise self.fail
        headers = {"content-type": "text/html", "cache-control": self.cache_control}
        result = {"statusCode": self.status, "headers": headers, "body": f"page {calls}"}
        if self.set_cookie:
            result["cookies"] = ["session=abc; HttpOnly"]
        return result


Running = tuple[Gateway, Origin, Clock]


def running_gateway(tmp_path: Path, **cache_options: Any) -> tuple[Gateway, Origin, Clock]:
    origin, clock = Origin(), Clock()
    assets = Directory(tmp_path, Assets())
    server = Gateway(("127.0.0.1", 0), routes=Routes(assets, assets), invoke=origin, log_line=lambda line: None,
                     limits=Limits(linger=0.0), cache=EdgeCache(TTLS, clock=clock, **cache_options), purge_token=TOKEN)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, origin, clock


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Running]:
    server, origin, clock = running_gateway(tmp_path)
    try:
        yield server, origin, clock
    finally:
        server.shutdown()
        server.server_close()


def get(server: Gateway, target: str, method: str = "GET", headers: dict[str, str] | None = None,
        body: bytes | None = None) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=10)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        reply = conn.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read().decode()
    finally:
        conn.close()


def purge(server: Gateway, paths: list[str], headers: dict[str, str] | None = None) -> tuple[int, str]:
    sent = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json", **(headers or {})}
    status, _, body = get(server, contract.LOCAL_PURGE_PATH, "POST", sent, json.dumps({"paths": paths}).encode())
    return status, body


def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert condition()


def test_miss_then_hit_with_age(gateway: Running) -> None:
    server, origin, clock = gateway
    status, headers, body = get(server, "/hello/?a=1")
    assert (status, headers["x-cache"], body) == (200, edge_cache.MISS, "page 1")
    clock.now += 42
    status, headers, body = get(server, "/hello/?a=1")
    assert (headers["x-cache"], headers["age"], body) == (edge_cache.HIT, "42", "page 1")
    head = get(server, "/hello/?a=1", "HEAD")
    assert head[1]["x-cache"] == edge_cache.HIT and head[2] == ""
    # Another query string is another page; cookies are not part of the key.
    assert get(server, "/hello/?a=2")[2] == "page 2" and origin.calls == 2
    assert get(server, "/hello/?a=1", headers={"Cookie": "_ga=1"})[2] == "page 1"
    clock.now += 60  # past s-maxage: stale
    assert get(server, "/hello/?a=1")[1]["x-cache"] == edge_cache.REFRESH_HIT


@pytest.mark.parametrize("headers", [{"Cookie": "wordpress_logged_in_abc=admin"}, {"Cookie": "comment_author_abc=Ann"},
                                     {"Cookie": "wp-postpass_abc=x"}, {"Authorization": "Basic YTpi"}],
                         ids=["logged-in", "commenter", "post-password", "authorization"])
def test_a_bypass_request_never_gets_or_makes_a_cached_page(gateway: Running, headers: dict[str, str]) -> None:
    server, origin, _ = gateway
    assert get(server, "/")[2] == "page 1"
    status, reply, body = get(server, "/", headers=headers)
    assert (status, body) == (200, "page 2") and "x-cache" not in reply
    # Marked as the viewer-request function marks it, so the runtime answers it private, no-store.
    assert origin.events[-1]["headers"][contract.CACHE_BYPASS_HEADER.lower()]
    assert get(server, "/")[2] == "page 1"  # the anonymous copy, untouched by the bypass answer
    assert origin.calls == 2


def send_raw(server: Gateway, target: str, headers: list[tuple[str, str]]) -> tuple[int, dict[str, str], str]:
    """A GET with ``headers`` as given, a name repeated as often as it appears (a dict cannot)."""
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=10)
    try:
        conn.putrequest("GET", target)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        reply = conn.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read().decode()
    finally:
        conn.close()


@pytest.mark.parametrize("headers", [
    [("Cookie", "_ga=1"), ("Cookie", "wordpress_logged_in_abc=admin")],
    [("Cookie", "wordpress_logged_in_abc=admin"), ("Cookie", "_ga=1")],
    [("Cookie", "wordpress.logged_in_abc=admin")],
    [("Cookie", "_ga=1;  wordpress logged_in_abc=admin")],
    [("Cookie", "wordpress[logged_in_abc=admin")],
    [("X-HTTP-Method-Override", "OPTIONS")],
    [("X-Method-Override", "HEAD")],
], ids=["login-in-the-second-cookie-header", "login-in-the-first-cookie-header", "dot-php-reads-as-underscore",
        "space-php-reads-as-underscore", "open-bracket-php-reads-as-underscore", "x-http-method-override",
        "x-method-override"])
def test_the_bypass_reads_the_request_as_php_will(gateway: Running, headers: list[tuple[str, str]]) -> None:
    """Every Cookie header reaches PHP, under the names $_COOKIE gives them, and a method override
    changes what WordPress answers: the gateway decides as the runtime does (contract)."""
    server, origin, _ = gateway
    assert get(server, "/")[2] == "page 1"
    status, reply, body = send_raw(server, "/", headers)
    assert (status, body) == (200, "page 2") and "x-cache" not in reply
    assert origin.events[-1]["headers"][contract.CACHE_BYPASS_HEADER.lower()]
    assert get(server, "/")[2] == "page 1" and origin.calls == 2


@pytest.mark.parametrize(("sent", "forwarded"), [
    ("deflate", None), ("br, deflate", None), ("gzip, deflate, br", "gzip"), ("GZIP;q=0.5", "gzip"), (None, None)])
def test_php_sees_the_accept_encoding_the_key_records(gateway: Running, sent: str | None,
                                                      forwarded: str | None) -> None:
    """The key records gzip or not: PHP must not answer deflate under the no-encoding key, so it
    gets the normalised value CloudFront forwards. A bypass request keeps the viewer's own."""
    server, origin, _ = gateway
    get(server, "/page/", headers={"Accept-Encoding": sent} if sent else {})
    assert origin.events[-1]["headers"].get("accept-encoding") == forwarded
    if sent:
        get(server, "/page/", headers={"Accept-Encoding": sent, "Cookie": "wordpress_logged_in_abc=admin"})
        assert origin.events[-1]["headers"]["accept-encoding"] == sent


def test_post_preview_and_admin_go_to_the_function(gateway: Running) -> None:
    server, origin, _ = gateway
    for _ in range(2):
        get(server, "/", "POST")
        get(server, "/?p=1&preview=true")
        get(server, "/wp-admin/")
    assert origin.calls == 6


def test_private_error_and_cookie_setting_answers_are_never_stored(gateway: Running) -> None:
    server, origin, _ = gateway
    origin.cache_control = "private, no-store"
    get(server, "/a/")
    assert get(server, "/a/")[1]["x-cache"] == edge_cache.MISS
    origin.cache_control, origin.set_cookie = PUBLIC, True
    get(server, "/b/")
    assert get(server, "/b/")[1]["x-cache"] == edge_cache.MISS
    origin.set_cookie, origin.status, origin.cache_control = False, 404, "private, no-store"
    get(server, "/c/")
    status, headers, _ = get(server, "/c/")
    assert (status, headers["x-cache"], origin.calls) == (404, edge_cache.MISS, 6)


def test_a_private_error_is_never_stored(gateway: Running) -> None:
    """The mu-plugin marks an error made for one visitor private, no-store: CloudFront would keep a
    503 10 s regardless; serve never does, and the template turns that caching off deployed."""
    server, origin, _ = gateway
    for status in (500, 503):
        origin.status, origin.cache_control = status, "private, no-store"
        target = f"/broken-{status}/"
        assert get(server, target)[0] == status
        assert get(server, target)[1]["x-cache"] == edge_cache.MISS
    assert origin.calls == 4


def test_an_error_is_cached_for_ten_seconds_as_cloudfront_does(gateway: Running) -> None:
    server, origin, clock = gateway
    origin.status, origin.cache_control = 503, "max-age=0"
    assert get(server, "/down/")[0] == 503
    assert get(server, "/down/")[1]["x-cache"] == edge_cache.HIT and origin.calls == 1
    clock.now += edge_cache.ERROR_CACHING_MIN_TTL
    origin.status, origin.cache_control = 200, PUBLIC
    assert get(server, "/down/")[0:3:2] == (200, "page 2")


def test_stale_while_revalidate_answers_at_once_and_refreshes_once(gateway: Running) -> None:
    server, origin, clock = gateway
    get(server, "/")
    clock.now += 120  # past s-maxage=60, within stale-while-revalidate=600
    origin.delay = 0.5
    started = time.monotonic()
    answers = [get(server, "/") for _ in range(5)]
    assert time.monotonic() - started < 0.5  # nobody waited for the function
    assert {(a[0], a[1]["x-cache"], a[2]) for a in answers} == {(200, edge_cache.REFRESH_HIT, "page 1")}
    wait_for(lambda: get(server, "/")[2] == "page 2")
    assert origin.calls == 2  # one refresh for five stale answers


def test_stale_if_error_hides_a_failing_throttled_or_unreachable_function(gateway: Running) -> None:
    server, origin, clock = gateway
    origin.cache_control = "public, s-maxage=60, stale-if-error=600"
    get(server, "/")
    clock.now += 120
    origin.status = 500
    assert get(server, "/")[0:3:2] == (200, "page 1")
    for failure in (Throttled("at its reserved concurrency"), ConnectionError("no runtime")):
        origin.status, origin.fail = 200, failure
        status, headers, body = get(server, "/")
        assert (status, headers["x-cache"], body) == (200, edge_cache.REFRESH_HIT, "page 1")
    clock.now += 1000  # past stale-if-error: the error reaches the visitor
    origin.fail = Throttled("at its reserved concurrency")
    assert get(server, "/")[0] == 503


def test_purge_follows_cloudfront_invalidation_paths(gateway: Running) -> None:
    server, origin, _ = gateway
    targets = ["/", "/?p=2", "/a/", "/a/?page=2", "/a/b/", "/ab/", "/feed/"]
    for target in targets:
        get(server, target)
    assert origin.calls == len(targets)
    assert purge(server, ["/a/"]) == (200, '{"purged": 1}')  # only that query string
    assert purge(server, ["/a/*"]) == (200, '{"purged": 2}')  # /a/?page=2 and /a/b/, not /ab/
    assert purge(server, ["/"]) == (200, '{"purged": 1}')
    assert purge(server, ["/A*"]) == (200, '{"purged": 0}')  # case-sensitive
    assert get(server, "/ab/")[1]["x-cache"] == edge_cache.HIT
    assert get(server, "/a/")[1]["x-cache"] == edge_cache.MISS
    assert purge(server, ["/*"]) == (200, '{"purged": 4}')


def test_a_fetch_that_began_before_a_purge_is_not_stored(gateway: Running) -> None:
    server, origin, _ = gateway
    origin.delay = 0.5
    thread = threading.Thread(target=get, args=(server, "/slow/"))
    thread.start()
    wait_for(lambda: origin.calls == 1)
    origin.delay = 0
    assert purge(server, ["/slow/"])[0] == 200
    thread.join()
    assert get(server, "/slow/")[1]["x-cache"] == edge_cache.MISS


@pytest.mark.parametrize(("headers", "status"), [
    ({"Authorization": "Bearer wrong"}, 403),
    ({"Authorization": ""}, 403),
    ({"Origin": "http://evil.example"}, 403),
    ({"Sec-Fetch-Site": "cross-site"}, 403),
    ({"Content-Type": "text/plain"}, 403),
    ({"Content-Type": "application/x-www-form-urlencoded"}, 403),
    ({"Host": "evil.example:80"}, 421),
])
def test_the_purge_endpoint_refuses_a_wrong_token_or_a_browser(gateway: Running, headers: dict[str, str],
                                                               status: int) -> None:
    server, _, _ = gateway
    get(server, "/")
    assert purge(server, ["/*"], headers)[0] == status
    assert get(server, "/")[1]["x-cache"] == edge_cache.HIT


@pytest.mark.parametrize("paths", [[], ["no-slash"], ["/a*b"], ["/" + "a" * 4000], [3]])
def test_the_purge_endpoint_refuses_paths_cloudfront_would(paths: list[Any], gateway: Running) -> None:
    with pytest.raises(ValueError):
        check_purge_paths(paths)
    assert purge(gateway[0], paths)[0] == 400


def test_the_purge_endpoint_takes_post_and_a_small_body_only(gateway: Running) -> None:
    server, _, _ = gateway
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert get(server, contract.LOCAL_PURGE_PATH, headers=auth)[0] == 405
    big = json.dumps({"paths": ["/x"] * (PURGE_BODY_LIMIT // 4)}).encode()
    assert get(server, contract.LOCAL_PURGE_PATH, "POST", auth, big)[0] == 413
    assert get(server, contract.LOCAL_PURGE_PATH, "POST", auth, b"not json")[0] == 400


def test_the_cache_is_bounded_in_entries_and_bytes(tmp_path: Path) -> None:
    server, _, _ = running_gateway(tmp_path, max_entries=3)
    try:
        for n in range(5):
            get(server, f"/{n}/")
        assert server.cache is not None and len(server.cache) == 3
        assert get(server, "/0/")[1]["x-cache"] == edge_cache.MISS  # the oldest went first
        assert get(server, "/4/")[1]["x-cache"] == edge_cache.HIT
    finally:
        server.shutdown()
        server.server_close()
    server, _, _ = running_gateway(tmp_path, max_bytes=600)
    try:
        for n in range(5):
            get(server, f"/{n}/")
        assert server.cache is not None and 0 < len(server.cache) < 5
    finally:
        server.shutdown()
        server.server_close()


def test_a_viewer_cannot_send_the_edge_bypass_marker_to_the_function(gateway: Running) -> None:
    server, origin, _ = gateway
    get(server, "/x/", headers={"X-Wplambda-Cache-Bypass": "mine"})
    assert "x-wplambda-cache-bypass" not in origin.events[-1]["headers"]


def test_a_page_purged_while_the_function_fails_is_not_served_stale(gateway: Running) -> None:
    server, origin, clock = gateway
    origin.cache_control = "public, s-maxage=60, stale-if-error=600"
    get(server, "/")
    clock.now += 120
    origin.status, origin.delay = 503, 0.5
    answers: list[int] = []
    thread = threading.Thread(target=lambda: answers.append(get(server, "/")[0]))
    thread.start()
    wait_for(lambda: origin.calls == 2)
    assert purge(server, ["/"]) == (200, '{"purged": 1}')
    thread.join()
    assert answers == [503]


class Blocked:
    """A fetch for EdgeCache.answer that holds every call until ``release`` is set, then answers
    with its call number (so a test sees whose answer each request got), ``headers`` and ``status``;
    ``fail`` makes it raise instead."""

    def __init__(self, headers: list[tuple[str, str]] | None = None, status: int = 200) -> None:
        self.release = threading.Event()
        self.headers = headers if headers is not None else [("Cache-Control", PUBLIC)]
        self.status = status
        self.fail: Exception | None = None
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self) -> edge_cache.Answer:
        with self.lock:
            self.calls += 1
            calls = self.calls
        assert self.release.wait(10), "never released"
        if self.fail is not None:
            raise self.fail
        return self.status, [*self.headers, ("X-Call", str(calls))], f"page {calls}".encode()


def ask(cache: EdgeCache, key: edge_cache.Key, fetch: Blocked, count: int, *,
        head: bool = False) -> tuple[list[threading.Thread], list[Any]]:
    """``count`` threads asking ``cache`` for ``key`` at once; their answers (or exceptions) land in
    the list returned, in the order they finish."""
    answers: list[Any] = []

    def one() -> None:
        try:
            answers.append(cache.answer(key, fetch, head=head))
        except Exception as error:  # the test looks at what each request raised
            answers.append(error)

    threads = [threading.Thread(target=one, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, answers


def joined(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads), "a request never came back: deadlock"


def x_cache(answer: edge_cache.Answer) -> str:
    return dict(answer[1])["X-Cache"]


def leading(cache: EdgeCache, key: edge_cache.Key, fetch: Blocked) -> tuple[list[threading.Thread], list[Any]]:
    """One request for ``key`` at the function, held there."""
    threads, answers = ask(cache, key, fetch, 1)
    wait_for(lambda: fetch.calls == 1 and key in cache._flights)
    return threads, answers


def test_simultaneous_misses_for_one_page_make_one_function_request() -> None:
    cache, fetch, key = EdgeCache(TTLS, clock=Clock()), Blocked(), ("/", True)
    first, answers = leading(cache, key, fetch)
    others, waited = ask(cache, key, fetch, 6)
    wait_for(lambda: cache._flights[key].waiters == 6)
    assert fetch.calls == 1
    fetch.release.set()
    joined(first + others)
    assert fetch.calls == 1
    assert [x_cache(a) for a in answers] == [edge_cache.MISS]
    # CloudFront logs the requests it held during the pause as hits (the module docstring).
    assert [x_cache(a) for a in waited] == [edge_cache.HIT] * 6
    assert {a[2] for a in answers + waited} == {b"page 1"}
    assert all(dict(a[1])["Age"] == "0" for a in waited)
    assert not cache._flights


@pytest.mark.parametrize("other", [("/?p=2", True), ("/", False)])
def test_only_requests_with_the_same_cache_key_wait(other: edge_cache.Key) -> None:
    cache, fetch = EdgeCache(TTLS, clock=Clock()), Blocked()
    first, _ = leading(cache, ("/", True), fetch)
    threads, answers = ask(cache, other, fetch, 1)
    wait_for(lambda: fetch.calls == 2)  # went to the function while "/" (gzip) was still there
    fetch.release.set()
    joined(first + threads)
    assert x_cache(answers[0]) == edge_cache.MISS


@pytest.mark.parametrize(("headers", "status"), [
    ([("Cache-Control", PUBLIC), ("Set-Cookie", "session=mine")], 200),
    ([("Cache-Control", "private, no-store")], 200),
    ([("Cache-Control", "public, s-maxage=60, no-cache")], 200),
    ([("Cache-Control", PUBLIC)], 429),  # a status CloudFront does not cache
])
def test_an_answer_that_is_not_stored_is_never_handed_to_a_waiting_request(
        headers: list[tuple[str, str]], status: int) -> None:
    cache, fetch, key = EdgeCache(TTLS, clock=Clock()), Blocked(headers, status), ("/account/", True)
    first, answers = leading(cache, key, fetch)
    others, waited = ask(cache, key, fetch, 4)
    wait_for(lambda: cache._flights[key].waiters == 4)
    fetch.release.set()
    joined(first + others)
    # Each waiting request went to the function itself and got its own answer.
    assert fetch.calls == 5
    assert sorted(dict(a[1])["X-Call"] for a in answers + waited) == ["1", "2", "3", "4", "5"]
    assert {x_cache(a) for a in answers + waited} == {edge_cache.MISS}
    assert len(cache) == 0 and not cache._flights


def test_a_failing_function_wakes_every_waiting_request_and_leaves_no_flight() -> None:
    cache, fetch, key = EdgeCache(TTLS, clock=Clock()), Blocked(), ("/", True)
    fetch.fail = RuntimeError("the handler crashed")
    first, answers = leading(cache, key, fetch)
    others, waited = ask(cache, key, fetch, 3)
    wait_for(lambda: cache._flights[key].waiters == 3)
    fetch.release.set()
    joined(first + others)
    assert fetch.calls == 4  # each waiter tried the function itself
    assert all(isinstance(a, RuntimeError) for a in answers + waited)
    assert not cache._flights
    fetch.fail = None
    assert x_cache(cache.answer(key, fetch, head=False)) == edge_cache.MISS  # nothing stuck


def test_a_waiting_request_goes_to_the_function_after_the_bound() -> None:
    cache, fetch, key = EdgeCache(TTLS, clock=Clock(), collapse_wait=0.0), Blocked(), ("/", True)
    first, _ = leading(cache, key, fetch)
    others, waited = ask(cache, key, fetch, 1)
    wait_for(lambda: fetch.calls == 2)  # did not wait for the first
    fetch.release.set()
    joined(first + others)
    assert x_cache(waited[0]) == edge_cache.MISS


def test_a_head_waits_for_a_get_but_leads_no_one() -> None:
    cache, fetch, key = EdgeCache(TTLS, clock=Clock()), Blocked(), ("/", True)
    heads, _ = ask(cache, key, fetch, 1, head=True)
    wait_for(lambda: fetch.calls == 1)
    assert not cache._flights  # a HEAD's answer is not stored: nothing to share
    first, _ = ask(cache, key, fetch, 1)
    wait_for(lambda: fetch.calls == 2 and key in cache._flights)
    waiting, answers = ask(cache, key, fetch, 1, head=True)
    wait_for(lambda: cache._flights[key].waiters == 1)
    fetch.release.set()
    joined(heads + first + waiting)
    assert fetch.calls == 2
    assert x_cache(answers[0]) == edge_cache.HIT and answers[0][2] == b""


def test_requests_after_a_purge_never_get_the_page_fetched_before_it() -> None:
    cache, fetch, key = EdgeCache(TTLS, clock=Clock()), Blocked(), ("/", True)
    first, answers = leading(cache, key, fetch)
    before, waited = ask(cache, key, fetch, 1)
    wait_for(lambda: cache._flights[key].waiters == 1)
    cache.purge(["/"])
    after, fresh = ask(cache, key, fetch, 1)  # does not wait for the page fetched before the purge
    wait_for(lambda: fetch.calls == 2)
    fetch.release.set()
    joined(first + before + after)
    assert fetch.calls == 2
    assert answers[0][2] == b"page 1" and x_cache(answers[0]) == edge_cache.MISS
    # The request that waited through the purge joined the new fetch instead of taking page 1.
    assert [a[2] for a in waited + fresh] == [b"page 2", b"page 2"]
    assert cache.answer(key, fetch, head=False)[2] == b"page 2"


def test_stale_if_error_answers_the_waiting_requests_too() -> None:
    clock = Clock()
    cache, key = EdgeCache(TTLS, clock=clock), ("/", True)
    fetch = Blocked([("Cache-Control", "public, s-maxage=60, stale-while-revalidate=10, stale-if-error=600")])
    fetch.release.set()
    cache.answer(key, fetch, head=False)
    clock.now += 60 + 10 + 1  # past stale-while-revalidate, within stale-if-error
    fetch.release.clear()
    fetch.status, fetch.calls = 503, 0
    first, answers = leading(cache, key, fetch)
    others, waited = ask(cache, key, fetch, 2)
    wait_for(lambda: cache._flights[key].waiters == 2)
    fetch.release.set()
    joined(first + others)
    assert fetch.calls == 1
    assert {x_cache(a) for a in answers + waited} == {edge_cache.REFRESH_HIT}
    assert {a[2] for a in answers + waited} == {b"page 1"}


def test_a_bypass_request_never_waits_for_the_page_being_fetched(gateway: Running) -> None:
    server, origin, _ = gateway
    origin.gate = threading.Event()
    thread = threading.Thread(target=get, args=(server, "/busy/"), daemon=True)
    thread.start()
    wait_for(lambda: origin.calls == 1)
    status, headers, _ = get(server, "/busy/", headers={"Cookie": "wordpress_logged_in_x=editor"})
    assert status == 200 and "x-cache" not in headers and origin.calls == 2
    origin.gate.set()
    thread.join(10)
