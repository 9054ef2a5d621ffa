"""serve's gateway adds the security headers the distribution's response headers policy adds (one
definition, wp_lambda/runtime/contract.py), and Authorization reaches WordPress: an application
password logs in to the REST API with Basic auth. Real serve, php-fpm, MariaDB and WordPress."""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.helpers import real_wp_cli
from tests.support.serve import ADMIN_PASSWORD, Served, init_site, serving
from tests.support.wp_cli import set_key, wp
from wp_lambda.runtime import contract

EXPECTED = {h.name.lower(): h.value for h in contract.security_headers(own_domain=False)}


def _get(served: Served, path: str, headers: dict[str, str] | None = None,
         host: str | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=120)
    try:
        connection.request("GET", path, headers={"Host": host or f"127.0.0.1:{served.port}", **(headers or {})})
        response = connection.getresponse()
        return response.status, response.msg, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("path, host", [
    ("/", None),                                        # WordPress, through the handler
    ("/wp-login.php", None),                            # WordPress sends X-Frame-Options itself
    ("/wp-includes/css/dashicons.min.css", None),       # the assets bucket's stand-in
    ("/wp-content/uploads/no-such-file.jpg", None),     # the uploads bucket's stand-in, a 404
    ("/", "evil.example"),                              # the gateway's own refusal (421)
])
def test_every_response_carries_the_security_headers_once(installed_site: Served, path: str,
                                                          host: str | None) -> None:
    status, headers, _ = _get(installed_site, path, host=host)
    assert status in (200, 404, 421), status
    for name, value in EXPECTED.items():
        assert headers.get_all(name) == [value], (path, name, headers.items())
    # serve is plain HTTP on no domain of its own: no HSTS, as deployed without site.domains.
    assert headers.get_all("Strict-Transport-Security") is None


# ------------------------------------------------------------------ application passwords under serve
@pytest.fixture(scope="module")
def local_environment_site(tmp_path_factory: pytest.TempPathFactory, debian_wordpress: Path) -> Iterator[Served]:
    """A serve started with WP_ENVIRONMENT_TYPE=local, as the security guide says to: over plain
    HTTP, WordPress offers application passwords only to a local environment (is_ssl() is false)."""
    project = init_site(tmp_path_factory.mktemp("app-passwords") / "site", "apppw")
    set_key(project, "build", "wp_cli", f'"{real_wp_cli()}"')  # `wplambda wp --local` makes the password
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WP_ENVIRONMENT_TYPE", "local")
        with serving(project, "--install", "--admin-password", ADMIN_PASSWORD, "--workers", "2") as server:
            yield server


def test_an_application_password_reads_users_me_with_basic_auth(local_environment_site: Served) -> None:
    served = local_environment_site
    created = wp(served.project, "user", "application-password", "create", "admin", "edge-test", "--porcelain")
    assert created.returncode == 0, created.stderr
    token = base64.b64encode(f"admin:{created.stdout.strip()}".encode()).decode()

    status, _, body = _get(served, "/wp-json/wp/v2/users/me", {"Authorization": f"Basic {token}"})
    assert status == 200, body[:300]
    assert json.loads(body)["slug"] == "admin"
    # Anonymous, and with the password in the edge function's private header instead: serve plays
    # the edge, so a client's copy of that header never reaches the handler. An anonymous visitor
    # has no users routes at all (security.user_enumeration = false), hence 404 and not 401.
    for headers in ({}, {contract.AUTHORIZATION_COPY_HEADER: f"Basic {token}"}):
        status, _, body = _get(served, "/wp-json/wp/v2/users/me", headers)
        assert status == 404 and json.loads(body)["code"] == "rest_no_route", body[:300]
