"""What PHP sees is true: the viewer's Authorization and IP, as the distribution's viewer-request
function hands them over (wp_lambda/runtime/contract.py), believed only with the origin secret and
never passed to PHP under their private names.

Real handler, real php-fpm, the runtime tests' installed WordPress; the application password is
made by the real wp-cli through the handler's ``wp`` direct invocation, as ``wplambda wp`` does.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.helpers import real_wp_cli
from tests.support.lambda_events import Client, Context, Reply, alb, function_url, v1, v2
from tests.support.wp_site import ADMIN_USER, Site
from wp_lambda.runtime import cgi, contract
from wp_lambda.runtime.events import Request
from wp_lambda.runtime.handler import Runtime

SECRET = "origin-secret-for-the-edge-header-tests-5d2a"
PROOF = {contract.ORIGIN_SECRET_HEADER: SECRET}
COPY = contract.AUTHORIZATION_COPY_HEADER
VIEWER = contract.VIEWER_ADDRESS_HEADER
SHAPES: dict[str, Callable[..., dict[str, Any]]] = {
    "http-api-v2": v2, "function-url": function_url, "rest-api-v1": v1, "alb": alb}
SOURCE_IP = "203.0.113.7"  # what every event helper gives as the peer: the CloudFront edge, deployed


@pytest.fixture(scope="module")
def deployed(site: Site, installed: Reply) -> Iterator[Runtime]:
    """A runtime as in a deployed stack: with the origin secret (and wp-cli for the direct invocation)."""
    rt = Runtime(dict(site.environ, **{contract.ORIGIN_SECRET_ENV: SECRET, contract.WP_CLI_ENV: real_wp_cli()}))
    try:
        yield rt
    finally:
        rt.stop()


@pytest.fixture(scope="module")
def local(site: Site, installed: Reply) -> Iterator[Runtime]:
    """A runtime without an origin secret, as serve runs it."""
    rt = Runtime(dict(site.environ))
    try:
        yield rt
    finally:
        rt.stop()


@pytest.fixture(scope="module")
def basic(deployed: Runtime, pretty_permalinks: tuple[Reply, Reply]) -> str:
    """``Basic …`` for a fresh application password of the administrator (with pretty permalinks
    on, so the REST API answers at /wp-json/ as on a real site)."""
    result = deployed.handle({"wplambda": "wp", "args": ["user", "application-password", "create", ADMIN_USER,
                                                         "edge-header-test", "--porcelain"]}, Context(60))
    assert result["exitCode"] == 0, result
    password = result["stdout"].strip()
    assert len(password) >= 24, result
    return "Basic " + base64.b64encode(f"{ADMIN_USER}:{password}".encode()).decode()


def _me(client: Client, headers: dict[str, str], method: str = "GET") -> Reply:
    return client.request(method, "/wp-json/wp/v2/users/me", headers=headers)


def _server(reply: Reply) -> dict[str, Any]:
    assert reply.status == 200, reply.text[:300]
    server: dict[str, Any] = json.loads(reply.body)["server"]
    return server


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_copied_authorization_logs_in_with_the_origin_secret(deployed: Runtime, basic: str, shape: str) -> None:
    """CloudFront drops Authorization on GET behind CachingDisabled; the function's copy stands in."""
    client = Client(deployed.handle, source=SHAPES[shape])
    for method in ("GET", "HEAD"):
        reply = _me(client, {**PROOF, COPY: basic, "X-Forwarded-Proto": "https"}, method)
        assert reply.status == 200, (method, reply.status, reply.text[:300])
    me = json.loads(_me(client, {**PROOF, COPY: basic, "X-Forwarded-Proto": "https"}).body)
    assert me["slug"] == ADMIN_USER
    # Without the copy (what reached PHP before) the same request is anonymous.
    anonymous = _me(client, {**PROOF, "X-Forwarded-Proto": "https"})
    assert anonymous.status == 401 and json.loads(anonymous.body)["code"] == "rest_not_logged_in"


def test_a_wrong_password_in_the_copy_is_refused(deployed: Runtime, basic: str) -> None:
    wrong = "Basic " + base64.b64encode(f"{ADMIN_USER}:abcd efgh ijkl mnop qrst uvwx".encode()).decode()
    reply = _me(Client(deployed.handle), {**PROOF, COPY: wrong})
    assert reply.status == 401, reply.text[:300]
    assert json.loads(reply.body)["code"] in ("incorrect_password", "rest_not_logged_in")


def test_the_copy_wins_over_another_authorization_and_never_reaches_php(deployed: Runtime, basic: str) -> None:
    """Both present (CloudFront forwards Authorization itself on some requests): the function's
    copy is what the viewer sent, so it is the one PHP sees; neither private header does."""
    client = Client(deployed.handle)
    server = _server(client.get("/wplambda-env.php", headers={
        **PROOF, COPY: basic, "Authorization": "Bearer something-else", VIEWER: "198.51.100.23"}))
    assert server["HTTP_AUTHORIZATION"] == basic
    assert server["PHP_AUTH_USER"] == ADMIN_USER
    assert not [k for k in server if k.startswith("HTTP_X_WPLAMBDA")], sorted(server)
    assert SECRET not in json.dumps(server)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_without_the_secret_the_copy_is_dropped(local: Runtime, basic: str, shape: str) -> None:
    """No secret to prove CloudFront wrote it (serve, or a stack before it had one): the copy is
    ignored and removed, whatever the case of its name; the request's own Authorization stays."""
    client = Client(local.handle, source=SHAPES[shape])
    for name in (COPY, COPY.lower(), COPY.upper()):
        server = _server(client.get("/wplambda-env.php", headers={name: basic, VIEWER: "198.51.100.23"}))
        assert "HTTP_AUTHORIZATION" not in server and "PHP_AUTH_USER" not in server
        assert not [k for k in server if k.startswith("HTTP_X_WPLAMBDA")], sorted(server)
        assert server["REMOTE_ADDR"] == SOURCE_IP
        own = _server(client.get("/wplambda-env.php", headers={name: basic, "Authorization": "Bearer own"}))
        assert own["HTTP_AUTHORIZATION"] == "Bearer own"
    # And an application password sent as Authorization itself works with no edge at all (serve).
    assert _me(client, {"Authorization": basic}).status == 200


def test_a_request_with_a_copy_but_a_wrong_secret_is_refused(deployed: Runtime, basic: str) -> None:
    for proof in ({}, {contract.ORIGIN_SECRET_HEADER: "guess"}):
        assert _me(Client(deployed.handle), {**proof, COPY: basic}).status == 403


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_remote_addr_is_the_viewers_only_with_the_secret(deployed: Runtime, local: Runtime, shape: str) -> None:
    edge = Client(deployed.handle, source=SHAPES[shape])
    assert _server(edge.get("/wplambda-env.php", headers={**PROOF, VIEWER: "198.51.100.23"}))["REMOTE_ADDR"] \
        == "198.51.100.23"
    assert _server(edge.get("/wplambda-env.php", headers={**PROOF, VIEWER: "2001:DB8:0::7"}))["REMOTE_ADDR"] \
        == "2001:db8::7"
    # Not an address (a list, a port, a name): the peer's, never the text.
    for bad in ("198.51.100.23, 10.0.0.1", "198.51.100.23:443", "evil.example", ""):
        assert _server(edge.get("/wplambda-env.php", headers={**PROOF, VIEWER: bad}))["REMOTE_ADDR"] == SOURCE_IP
    # CloudFront-Viewer-Address is a header a viewer can send too: it is not what the runtime reads.
    spoofed = edge.get("/wplambda-env.php", headers={**PROOF, "CloudFront-Viewer-Address": "192.0.2.66:4444"})
    assert _server(spoofed)["REMOTE_ADDR"] == SOURCE_IP
    plain = Client(local.handle, source=SHAPES[shape])
    assert _server(plain.get("/wplambda-env.php", headers={VIEWER: "198.51.100.23"}))["REMOTE_ADDR"] == SOURCE_IP


def test_x_forwarded_for_is_the_viewers_alone_with_the_secret(deployed: Runtime, local: Runtime) -> None:
    """CloudFront appends to what the viewer sent: a plugin reading X-Forwarded-For would believe
    the viewer's own first entries, so with the secret PHP sees only the proven address."""
    forged = {"X-Forwarded-For": "203.0.113.9, 130.176.0.1"}
    edge = Client(deployed.handle, source=SHAPES["http-api-v2"])
    seen = _server(edge.get("/wplambda-env.php", headers={**PROOF, VIEWER: "198.51.100.23", **forged}))
    assert seen["HTTP_X_FORWARDED_FOR"] == "198.51.100.23"
    plain = Client(local.handle, source=SHAPES["http-api-v2"])
    assert _server(plain.get("/wplambda-env.php", headers={VIEWER: "198.51.100.23", **forged}))[
        "HTTP_X_FORWARDED_FOR"] == "203.0.113.9, 130.176.0.1"  # unproven: nothing is believed or rewritten


def test_from_edge_rules() -> None:
    """The resolution itself, header by header (the handler calls it after the origin check)."""
    secret = {contract.ORIGIN_SECRET_ENV: "s3cret"}

    def request(**headers: str) -> Request:
        return Request("GET", "/", "", {k.replace("_", "-"): [v] for k, v in headers.items()}, b"", SOURCE_IP)

    copy = COPY.lower().replace("-", "_")
    proven = request(x_wplambda_origin_secret="s3cret", authorization="Bearer a", **{copy: "Basic b"})
    assert cgi.from_edge(proven, secret).headers["authorization"] == ["Basic b"]
    assert COPY.lower() not in cgi.from_edge(proven, secret).headers
    unproven = request(x_wplambda_origin_secret="wrong", authorization="Bearer a", **{copy: "Basic b"})
    assert cgi.from_edge(unproven, secret).headers["authorization"] == ["Bearer a"]
    assert COPY.lower() not in cgi.from_edge(unproven, secret).headers
    assert "authorization" not in cgi.from_edge(request(**{copy: "Basic b"}), {}).headers
    # The request it was given is left as it was (the 403 log and the origin check read it).
    assert proven.headers["authorization"] == ["Bearer a"] and COPY.lower() in proven.headers
