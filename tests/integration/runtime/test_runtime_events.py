"""Event adapters, CGI parameters, response mapping and direct invocations, through the real
handler on the installed WordPress (plus the pure pieces on their own)."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.lambda_events import SOURCES, Client, Context, Reply, read_reply, v1, v2
from tests.support.wp_site import Site
from wp_lambda.runtime import cgi, fastcgi
from wp_lambda.runtime.events import Alb, Request, Response
from wp_lambda.runtime.handler import Runtime


def env_dump(reply: Reply) -> dict[str, Any]:
    assert reply.status == 200, reply.text[:500]
    return json.loads(reply.body)


# -- FastCGI records ----------------------------------------------------------------------------

def _parse_records(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    while data:
        _, kind, _, length, padding = struct.unpack(">BBHHBx", data[:8])
        assert (length + padding) % 8 == 0 and length <= 65535
        out.append((kind, data[8:8 + length]))
        data = data[8 + length + padding:]
    return out


def test_streams_split_into_padded_records_of_at_most_65535_bytes() -> None:
    payload = bytes(range(256)) * 700  # 179200 bytes: three records and the empty one
    records = _parse_records(b"".join(fastcgi.stream(fastcgi.STDIN, payload)))
    assert [len(c) for _, c in records] == [65535, 65535, 179200 - 131070, 0]
    assert b"".join(c for _, c in records) == payload
    with pytest.raises(ValueError, match="65535"):
        fastcgi.record(fastcgi.STDOUT, b"x" * 65536)
    assert fastcgi.encode_pair("A", "b" * 200) == b"\x01\x80\x00\x00\xc8A" + b"b" * 200


def test_params_records_hold_whole_pairs() -> None:
    params = [(f"HTTP_X_{i}", "v" * 30_000) for i in range(5)]
    records = _parse_records(b"".join(fastcgi.params_stream(params)))
    assert [len(c) for _, c in records][-1] == 0 and len(records) == 4  # 2 + 2 + 1 pairs, then the end
    assert b"".join(c for _, c in records) == b"".join(fastcgi.encode_pair(*p) for p in params)
    with pytest.raises(fastcgi.ParamTooLarge, match="HTTP_X_BIG"):
        list(fastcgi.params_stream([("HTTP_X_BIG", "v" * 65535)]))


def test_big_params_and_body_reach_php_intact(client: Client) -> None:
    big_value = "v" * 300_000
    header = "h" * 60_000  # with the other parameters, more than one PARAMS record
    reply = client.post_form("/wplambda-env.php", {"big": big_value, "small": "ä&="})
    data = env_dump(reply)
    assert data["post"] == {"big": big_value, "small": "ä&="}
    data = env_dump(client.get("/wplambda-env.php", headers={"X-Big": header}))
    assert data["server"]["HTTP_X_BIG"] == header
    assert client.get("/wplambda-env.php", headers={"X-Big": header * 2}).status == 431


# -- CGI parameters -----------------------------------------------------------------------------

def test_cgi_parameters(client: Client, site: Site) -> None:
    data = env_dump(client.get("/wplambda-env.php/extra/info", query="a=1&b=%20x",
                               headers={"X-Custom": "yes", "X_Spoofed": "no", "Proxy": "http://evil"}))
    server = data["server"]
    assert server["REQUEST_URI"] == "/wplambda-env.php/extra/info?a=1&b=%20x"
    assert server["SCRIPT_NAME"] == "/wplambda-env.php"
    assert server["PATH_INFO"] == "/extra/info"
    assert server["SCRIPT_FILENAME"] == f"{site.root.resolve()}/wplambda-env.php"
    assert server["DOCUMENT_ROOT"] == str(site.root.resolve())
    assert server["QUERY_STRING"] == "a=1&b=%20x" and data["get"] == {"a": "1", "b": " x"}
    assert (server["SERVER_NAME"], server["SERVER_PORT"], server["HTTPS"]) == ("wp.test", "443", "on")
    assert server["HTTP_HOST"] == "wp.test" and server["REMOTE_ADDR"] == "203.0.113.7"
    assert "nginx" in server["SERVER_SOFTWARE"]
    assert server["HTTP_X_CUSTOM"] == "yes"
    assert "HTTP_PROXY" not in server and server.get("HTTP_X_SPOOFED") is None
    data = env_dump(client.request("POST", "/wplambda-env.php", body=b"x=1", headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": "ignored=1"}))
    assert data["server"]["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert data["server"]["CONTENT_LENGTH"] == "3"


def test_cookies_from_v2_cookies_array_are_joined(runtime: Runtime, installed: Reply) -> None:
    event = v2("GET", "/wplambda-env.php", headers={"Host": "wp.test"}, cookies=["a=1", "b=2"])
    data = json.loads(read_reply(runtime.handle(event, Context())).body)
    assert data["server"]["HTTP_COOKIE"] == "a=1; b=2"


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_stage_never_leaks_and_query_survives(runtime: Runtime, installed: Reply, source: str) -> None:
    kwargs: dict[str, Any] = {"stage": "prod"} if source in ("v1", "v2") else {}
    event = SOURCES[source]("GET", "/wplambda-env.php", "q=a%20b&x%5B%5D=1&x%5B%5D=2",
                            {"Host": "wp.test"}, None, b"", **kwargs)
    data = json.loads(read_reply(runtime.handle(event, Context())).body)
    assert data["server"]["REQUEST_URI"].startswith("/wplambda-env.php?")
    # An ALB without multi-value headers passes only the last value of a repeated parameter.
    assert data["get"] == {"q": "a b", "x": ["2"] if source == "alb" else ["1", "2"]}


def test_site_host_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    def request(**headers: str) -> Request:
        return Request("GET", "/", "", {k.replace("_", "-"): [v] for k, v in headers.items()}, b"", "")

    origin = request(host="abc.execute-api.us-east-1.amazonaws.com", x_forwarded_host="blog.example.com",
                     x_wplambda_origin_secret="s3cret")
    assert cgi.site_host(origin, {}) == "abc.execute-api.us-east-1.amazonaws.com"
    assert cgi.site_host(origin, {"WPLAMBDA_ORIGIN_SECRET": "s3cret"}) == "blog.example.com"
    assert cgi.site_host(origin, {"WPLAMBDA_ORIGIN_SECRET": "other"}) == "abc.execute-api.us-east-1.amazonaws.com"
    assert cgi.site_host(origin, {"WPLAMBDA_SITE_HOST": "pinned.example.com"}) == "pinned.example.com"
    assert cgi.site_host(request(host="bad host/../"), {}) is None


def test_forwarded_host_is_trusted_with_the_origin_secret(runtime: Runtime, installed: Reply,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(runtime.environ, "WPLAMBDA_ORIGIN_SECRET", "s3cret")
    client = Client(runtime.handle, host="abc.execute-api.us-east-1.amazonaws.com")
    data = env_dump(client.get("/wplambda-env.php", headers={
        "X-Forwarded-Host": "wp.test", "X-Wplambda-Origin-Secret": "s3cret"}))
    assert data["server"]["HTTP_HOST"] == "wp.test"
    # The header itself never reaches PHP (test_runtime_origin.py: nor does the variable).
    assert "s3cret" not in json.dumps(data)
    # With the secret, redirects go to the viewer's host; a forged X-Forwarded-Host without the
    # secret (or with a wrong one) is refused before it could steer them anywhere.
    trusted = client.get("/wp-admin/", headers={"X-Forwarded-Host": "wp.test", "X-Wplambda-Origin-Secret": "s3cret"})
    assert trusted.status == 302 and trusted.header("location").startswith("https://wp.test/wp-login.php")
    for forged in ({"X-Forwarded-Host": "evil.example"},
                   {"X-Forwarded-Host": "evil.example", "X-Wplambda-Origin-Secret": "guess"}):
        reply = client.get("/wp-admin/", headers=forged)
        assert reply.status == 403 and reply.header("location") is None


# -- response mapping ---------------------------------------------------------------------------

def test_cgi_output_parsing() -> None:
    only_location = cgi.parse_output(b"Location: /elsewhere\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n")
    assert only_location.status == 302
    assert [v for k, v in only_location.headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    not_found = cgi.parse_output(b"Status: 404 Not Found\r\nContent-Type: text/html\r\n\r\n<p>gone</p>")
    assert (not_found.status, not_found.body) == (404, b"<p>gone</p>")
    with pytest.raises(cgi.BadGateway):
        cgi.parse_output(b"no headers at all")
    # An empty header block (only the blank line) is a 200 with no headers, as nginx answers it,
    # even when the body holds a blank line of its own.
    for eol in (b"\r\n", b"\n"):
        bare = cgi.parse_output(eol + b"Not: a header\r\n\r\nbody")
        assert (bare.status, bare.headers, bare.body) == (200, [], b"Not: a header\r\n\r\nbody")


def test_empty_header_block_from_php_fpm_is_a_200(client: Client) -> None:
    reply = client.get("/wplambda-bare.php")
    assert (reply.status, reply.body) == (200, b"bare body")
    assert reply.header("content-type") is None


def test_request_holds_get_and_post_not_cookies(client: Client) -> None:
    # request_order = "GP" (php.ini.j2): a cookie of the same name must not override GET or POST.
    reply = client.get("/wplambda-request.php", query="action=from-get",
                       headers={"Cookie": "action=from-cookie; only=cookie"})
    assert reply.status == 200, reply.text[:500]
    assert json.loads(reply.body) == {"action": "from-get"}


def test_large_text_is_gzipped_when_accepted(client: Client) -> None:
    reply = client.get("/wplambda-big.php", query="n=200000", headers={"Accept-Encoding": "gzip, br"})
    assert reply.status == 200 and reply.header("content-encoding") == "gzip"
    assert reply.raw["isBase64Encoded"] is True
    assert gzip.decompress(reply.body) == b"wplambda " * 200000
    small = client.get("/wplambda-big.php", query="n=10", headers={"Accept-Encoding": "gzip"})
    assert small.header("content-encoding") is None and small.text == "wplambda " * 10


def test_responses_over_the_payload_limit_are_a_clear_502(runtime: Runtime, installed: Reply,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    reply = Client(runtime.handle).get("/wplambda-big.php", query="n=800000")  # 7.2 MB, no gzip accepted
    assert reply.status == 502 and "larger than" in reply.text
    assert "over the http-api-v2 limit" in caplog.text and "7200" in caplog.text
    # An ALB takes 1 MB at most.
    alb = Client(runtime.handle, SOURCES["alb"]).get("/wplambda-big.php", query="n=130000")
    assert alb.status == 502
    assert Client(runtime.handle, SOURCES["alb"]).get("/wplambda-big.php", query="n=100").status == 200


def test_alb_single_value_headers_keep_every_cookie() -> None:
    response = Response(200, [("Set-Cookie", f"c{i}=v{i}") for i in range(5)] + [("X-A", "1"), ("x-a", "2")])
    shaped = Alb().to_response(response, SOURCES["alb"]("GET", "/"))
    assert sorted(v for k, v in shaped["headers"].items() if k.lower() == "set-cookie") == [f"c{i}=v{i}"
                                                                                            for i in range(5)]
    assert shaped["headers"]["x-a"] == "1, 2" and shaped["statusDescription"] == "200 OK"


# -- events that are not HTTP -------------------------------------------------------------------

@pytest.mark.parametrize("event", [{}, {"foo": 1}, [], "text", None, 42, {"httpMethod": 5},
                                   {"version": "2.0", "requestContext": {}}])
def test_unknown_events_are_logged_errors(runtime: Runtime, event: Any, caplog: pytest.LogCaptureFixture) -> None:
    result = runtime.handle(event, Context())
    assert result["statusCode"] == 400
    assert "unrecognised event" in caplog.text


def test_direct_invocations(runtime: Runtime, installed: Reply, site: Site) -> None:
    assert runtime.handle({"wplambda": "warmer"}, Context()) == {"warmed": True}
    result = runtime.handle({"wplambda": "php", "args": [
        "-r", "echo getcwd(), ' ', getenv('WORDPRESS_DB_NAME'); fwrite(STDERR, 'to stderr'); exit(3);"]}, Context())
    assert {k: result.pop(k) for k in ("stdout", "stderr", "exitCode")} == {
        "stdout": f"{site.root.resolve()} wp_runtime", "stderr": "to stderr", "exitCode": 3}
    assert result.pop("durationMs") > 0 and result == {"truncated": False, "timedOut": False}
    assert "error" in runtime.handle({"wplambda": "php", "args": "not a list"}, Context())
    assert "unknown direct invocation" in runtime.handle({"wplambda": "rm"}, Context())["error"]


def test_direct_invocations_are_unreachable_from_http(runtime: Runtime, installed: Reply) -> None:
    event = v2("GET", "/", "wplambda=php&args=-v", {"Host": "wp.test"})
    event.update(wplambda="php", args=["-r", "echo 'ran from http';"])
    reply = read_reply(runtime.handle(event, Context()))
    assert reply.status == 200 and "ran from http" not in reply.text and "<html" in reply.text
    event = v1("GET", "/wp-cron.php", headers={"Host": "wp.test"})
    event["wplambda"] = "warmer"
    assert "warmed" not in runtime.handle(event, Context())


# -- any event the adapters accept -> a well-formed response ------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_paths = st.one_of(st.sampled_from(["/", "/wp-login.php", "/wp-json/", "/hello-world/", "/wp-admin/",
                                    "/wp-includes/css/dashicons.min.css", "/wp-content/", "/%2e%2e/x",
                                    "/wplambda-env.php/x"]),
                   _text.map(lambda s: "/" + s))
_headers = st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,15}", fullmatch=True), _text, max_size=4)


@st.composite
def http_events(draw: st.DrawFn) -> dict[str, Any]:
    source = draw(st.sampled_from(sorted(SOURCES)))
    method = draw(st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]))
    query = draw(st.one_of(st.just(""), st.from_regex(r"[a-z]{1,5}=[a-z0-9%]{0,8}(&[a-z]{1,5}=[a-z0-9]{0,5})?",
                                                      fullmatch=True)))
    headers = {"Host": "wp.test", **draw(_headers)}
    cookies = draw(st.lists(st.from_regex(r"[a-z]{1,6}=[a-z0-9]{0,6}", fullmatch=True), max_size=3)) or None
    body = draw(st.binary(max_size=200))
    event = SOURCES[source](method, draw(_paths), query, headers, cookies, body)
    mangle = draw(st.sampled_from(["none", "plain-body", "bad-base64", "no-headers", "odd-method"]))
    if mangle == "plain-body" and event.get("body"):
        event["isBase64Encoded"] = False
        event["body"] = base64.b64decode(event["body"]).decode("latin-1")
    elif mangle == "bad-base64":
        event.update(isBase64Encoded=True, body=draw(_text))
    elif mangle == "no-headers":
        event["headers"] = None
        event.pop("multiValueHeaders", None)
    elif mangle == "odd-method":
        method = draw(st.from_regex(r"[A-Za-z]{1,10}", fullmatch=True))
        if "httpMethod" in event:
            event["httpMethod"] = method
        else:
            event["requestContext"]["http"]["method"] = method
    return event


def _well_formed(result: dict[str, Any]) -> None:
    json.dumps(result)
    assert isinstance(result["statusCode"], int) and 100 <= result["statusCode"] <= 599
    assert isinstance(result["body"], str) and isinstance(result["isBase64Encoded"], bool)
    if result["isBase64Encoded"]:
        base64.b64decode(result["body"], validate=True)
    for value in (result.get("headers") or {}).values():
        assert isinstance(value, str)
    for values in (result.get("multiValueHeaders") or {}).values():
        assert all(isinstance(v, str) for v in values)
    assert all(isinstance(c, str) for c in result.get("cookies", []))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(event=http_events())
def test_any_accepted_event_gets_a_well_formed_response(runtime: Runtime, installed: Reply,
                                                        event: dict[str, Any]) -> None:
    result = runtime.handle(event, Context())
    _well_formed(result)
    method = event["httpMethod"] if "httpMethod" in event else event["requestContext"]["http"]["method"]
    if method.upper() == "HEAD":
        assert result["body"] == ""


def test_handler_logs_but_survives_its_own_bugs(runtime: Runtime, installed: Reply,
                                                monkeypatch: pytest.MonkeyPatch,
                                                caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("wp_lambda.runtime.routing.route", broken)
    caplog.set_level(logging.ERROR)
    reply = read_reply(runtime.handle(v2("GET", "/", headers={"Host": "wp.test"}), Context()))
    assert reply.status == 500 and "boom" in caplog.text
