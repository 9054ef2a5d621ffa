"""The page cache's one rule (contract.cache_bypass) and the runtime's enforcement of it: a response
that sets a cookie, or answers a request made for one visitor, leaves the runtime private, no-store
whatever PHP said."""

from __future__ import annotations

import pytest

from wp_lambda.runtime import contract, page_cache
from wp_lambda.runtime.events import Request, Response

PUBLIC = "public, max-age=0, s-maxage=300"


def _request(method: str = "GET", path: str = "/", query: str = "", cookie: str | None = None,
             **headers: str) -> Request:
    all_headers = {name.replace("_", "-"): [value] for name, value in headers.items()}
    if cookie is not None:
        all_headers["cookie"] = [cookie]
    return Request(method, path, query, all_headers, b"", "198.51.100.7")


@pytest.mark.parametrize(("request_", "reason"), [
    (_request(), None),
    (_request(path="/hello-world/", query="page=2&utm_source=x"), None),
    (_request("HEAD", "/feed/"), None),
    (_request(cookie="wp-settings-time-1=1; _ga=GA1.2"), None),
    (_request("POST"), "method"),
    (_request("OPTIONS"), "method"),
    (_request(authorization="Basic YWRtaW46eHh4"), "authorization"),
    (_request(path="/wp-admin/"), "path"),
    (_request(path="/wp-admin"), "path"),
    (_request(path="/wp-login.php"), "path"),
    (_request(path="/blog/wp-cron.php"), "path"),
    (_request(query="p=1&preview=true"), "query"),
    (_request(query="preview_id=5&preview_nonce=abc"), "query"),
    (_request(query="%70review=true"), "query"),
    (_request(path="/hello-world/", query="unapproved=7&moderation-hash=0123abcd"), "query"),
    (_request(cookie="wordpress_logged_in_0123abcd=admin%7C1"), "cookie"),
    (_request(cookie="a=1; wp-postpass_0123abcd=%24P%24B"), "cookie"),
    (_request(cookie="comment_author_0123abcd=Ann"), "cookie"),
    (_request(cookie="woocommerce_items_in_cart=1"), "cookie"),
    (_request(cookie="wp_woocommerce_session_0123=x"), "cookie"),
    (_request(x_wplambda_cache_bypass="4TyzHTaYWb1GX1qTfsHhEqV6HUDd"), "edge"),
])
def test_bypass_reason(request_: Request, reason: str | None) -> None:
    assert page_cache.bypass_reason(request_) == reason


def test_a_public_page_for_an_anonymous_visitor_keeps_its_cache_control() -> None:
    response = page_cache.enforce(_request(), Response(200, [("Cache-Control", PUBLIC)], b"page"))
    assert response.headers == [("Cache-Control", PUBLIC)]


@pytest.mark.parametrize("request_", [_request("POST"), _request(cookie="comment_author_x=Ann"),
                                      _request(path="/wp-admin/"), _request(query="preview=true")],
                         ids=["post", "commenter", "wp-admin", "preview"])
def test_a_request_made_for_one_visitor_is_never_public(request_: Request) -> None:
    response = page_cache.enforce(request_, Response(200, [("cache-control", PUBLIC), ("Cache-Control", "public")]))
    assert response.headers == [("Cache-Control", contract.NOT_SHARED)]


def test_a_response_that_sets_a_cookie_is_never_public() -> None:
    response = page_cache.enforce(_request(), Response(200, [("Cache-Control", PUBLIC),
                                                              ("Set-Cookie", "session=abc; HttpOnly")]))
    assert ("Cache-Control", contract.NOT_SHARED) in response.headers
    assert [v for n, v in response.headers if n.lower() == "cache-control"] == [contract.NOT_SHARED]


@pytest.mark.parametrize(("raw", "php"), [
    ("wordpress.logged_in_H", "wordpress_logged_in_H"), ("wp-postpass.H", "wp-postpass_H"),
    ("wordpress logged_in_H", "wordpress_logged_in_H"), ("  comment_author_H", "comment_author_H"),
    ("wp_woocommerce_session[x", "wp_woocommerce_session_x"), ("wp-postpass_H[0]", "wp-postpass_H"),
    ("_ga", "_ga"),
])
def test_cookie_names_are_read_as_php_reads_them(raw: str, php: str) -> None:
    assert contract.php_cookie_name(raw) == php
