"""Only CloudFront reaches the function: with an origin secret, an HTTP event without the right
X-Wplambda-Origin-Secret is refused before routing (no PHP, no static file), direct invocations are
untouched, and PHP never sees the secret. Real handler, real php-fpm, the installed WordPress."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.lambda_events import Client, Context, Reply, alb, function_url, v1, v2
from tests.support.wp_site import Site
from wp_lambda.config import Config
from wp_lambda.function_env import LocalStandIns, function_environment, local_environment
from wp_lambda.runtime import contract
from wp_lambda.runtime.handler import Runtime

SECRET = "origin-secret-for-the-gate-test-8c1f"
# Every place PHP could find an environment variable, dumped in full: no wp-config.php runs here,
# so nothing scrubs it; only the runtime's keeping it out of php-fpm's environment does.
ENV_SCRIPT = ("<?php header('Content-Type: application/json');"
              " echo json_encode(['getenv' => getenv(), 'server' => $_SERVER, 'env' => $_ENV]);\n")
SHAPES: dict[str, Callable[..., dict[str, Any]]] = {
    "http-api-v2": v2, "function-url": function_url, "rest-api-v1": v1, "alb": alb}


@pytest.fixture(scope="module")
def gated(site: Site, installed: Reply) -> Iterator[Runtime]:
    """A runtime of a deployed stack: the origin secret is in its environment from the start, so
    its php-fpm is started with it there (as after the cold start's secrets load)."""
    (site.root / "wplambda-allenv.php").write_text(ENV_SCRIPT)
    rt = Runtime(dict(site.environ, **{contract.ORIGIN_SECRET_ENV: SECRET}))
    try:
        yield rt
    finally:
        rt.stop()
        (site.root / "wplambda-allenv.php").unlink()


def _client(rt: Runtime, shape: str) -> Client:
    return Client(rt.handle, source=SHAPES[shape])


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_without_the_right_origin_header_nothing_runs(gated: Runtime, shape: str, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    client = _client(gated, shape)
    marker = tmp_path / "php-ran"
    for headers in ({}, {"X-Wplambda-Origin-Secret": "guess"}, {"X-Wplambda-Origin-Secret": SECRET[:-1]},
                    {"X-Wplambda-Origin-Secret": ""}):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="wplambda"):
            php = client.get("/wplambda-sleep.php", query=f"s=0&marker={marker}", headers=headers)
            css = client.get("/wp-includes/css/dashicons.min.css", headers=headers)
        for reply in (php, css):
            assert reply.status == 403, (headers, reply.status)
            # Short, and nothing an attacker can use: not the header's name, not the stack's.
            assert reply.text == "Forbidden.\n" and reply.header("cache-control") == "no-store"
        assert not marker.exists(), "PHP ran for a request that did not come through CloudFront"
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) == 2 and all(line.startswith("wplambda: 403 GET ") for line in lines), lines
        assert "wrong" in lines[0] if headers else "no origin header" in lines[0]
        offered = headers.get("X-Wplambda-Origin-Secret")
        assert not offered or all(offered not in line for line in lines)
        assert all(SECRET not in line for line in lines)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_with_the_right_origin_header_the_site_answers(gated: Runtime, shape: str, tmp_path: Path) -> None:
    client = _client(gated, shape)
    marker = tmp_path / "php-ran"
    proof = {"X-Wplambda-Origin-Secret": SECRET}
    php = client.get("/wplambda-sleep.php", query=f"s=0&marker={marker}", headers=proof)
    assert php.status == 200 and php.text == "slept" and marker.exists()
    assert client.get("/wp-includes/css/dashicons.min.css", headers=proof).status == 200
    home = client.get("/", headers=proof)
    assert home.status == 200 and "Runtime Test Blog" in home.text


def test_direct_invocations_need_no_origin_header(gated: Runtime) -> None:
    assert gated.handle({"wplambda": "warmer"}, Context()) == {"warmed": True}
    assert gated.handle({"wplambda": "cron"}, Context()) == {"statusCode": 200}
    php = gated.handle({"wplambda": "php", "args": ["-r", "echo 'cli ran';"]}, Context())
    assert php["exitCode"] == 0 and php["stdout"] == "cli ran", php


def test_php_never_sees_the_origin_secret(gated: Runtime) -> None:
    # The runtime itself holds it (it is what the check compares against).
    assert gated.environ[contract.ORIGIN_SECRET_ENV] == SECRET
    reply = Client(gated.handle).get("/wplambda-allenv.php", headers={"X-Wplambda-Origin-Secret": SECRET})
    assert reply.status == 200, reply.text[:300]
    data = json.loads(reply.body)
    # The dump is real: php-fpm's environment (clear_env = no) reaches getenv(), and the request's
    # own parameters reach $_SERVER.
    assert data["getenv"].get("WORDPRESS_DB_NAME") == gated.environ["WORDPRESS_DB_NAME"]
    assert data["server"]["SCRIPT_NAME"] == "/wplambda-allenv.php"
    dumped = json.dumps(data)
    assert SECRET not in dumped and contract.ORIGIN_SECRET_ENV not in dumped
    # Nor a php command's environment (wp-cli runs the same way).
    php = gated.handle({"wplambda": "php", "args": ["-r", "echo json_encode([getenv(), $_SERVER, $_ENV]);"]},
                       Context())
    assert php["exitCode"] == 0 and "WORDPRESS_DB_NAME" in php["stdout"]
    assert SECRET not in php["stdout"] and contract.ORIGIN_SECRET_ENV not in php["stdout"]


def test_serve_sets_no_origin_secret(tmp_path: Path) -> None:
    """The deployed function loads the origin secret through WPLAMBDA_SECRETS; serve's form of the
    same environment names none (and serve drops the caller's WPLAMBDA_* variables)."""
    config = Config()
    deployed = {v.name: v.spelled or v.value for v in function_environment(config)}
    assert f"{contract.ORIGIN_SECRET_ENV}=${{OriginSecret}}" in deployed[contract.SECRETS_ENV]
    for database in ({contract.DB_HOST_ENV: "localhost"}, None):
        local = local_environment(config, LocalStandIns(salt="s", database=database,
                                                        uploads={contract.UPLOADS_DIR_ENV: str(tmp_path)}))
        assert contract.ORIGIN_SECRET_ENV not in local
        assert contract.ORIGIN_SECRET_ENV not in local.get(contract.SECRETS_ENV, "")


def test_without_an_origin_secret_nothing_is_enforced(client: Client) -> None:
    """`wplambda serve` has no CloudFront and sets no origin secret: the developer is not locked out
    (the session runtime has no origin secret either)."""
    assert client.get("/wp-includes/css/dashicons.min.css").status == 200
    assert client.get("/").status == 200
