"""The whole chain as on Lambda: AWS's awslambdaric runs the handler against the local Runtime
API emulator; plus the emulator's own contract, and secrets from a (moto) Secrets Manager."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.support.lambda_events import read_reply, v2
from tests.support.wp_site import Site
from wp_lambda.local.runtime_api import InvocationError, InvocationTimeout, RuntimeAPI
from wp_lambda.local.runtime_process import runtime_environment, start_runtime_process, stop_runtime_process
from wp_lambda.runtime import secrets
from wp_lambda.runtime.fpm import child_pids
from wp_lambda.runtime.handler import Runtime


def _wait_for_pollers(api: RuntimeAPI, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while api.polling < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {api.polling} of {count} runtime processes polled the emulator")
        time.sleep(0.05)


def _group_gone(pgid: int, timeout: float = 10.0) -> bool:
    """True once no process (zombies included, until init reaps them) is left in the group."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def api() -> Iterator[RuntimeAPI]:
    with RuntimeAPI(timeout=30) as emulator:
        yield emulator


def test_whole_chain_under_awslambdaric(api: RuntimeAPI, site: Site, installed: object, tmp_path: Path) -> None:
    environ = runtime_environment(site.root, site.layer, api_address=api.address, base=site.environ)
    processes = [start_runtime_process(environ, log=tmp_path / f"runtime{i}.log") for i in range(2)]
    try:
        _wait_for_pollers(api, 2)
        home = read_reply(api.invoke(v2("GET", "/", headers={"Host": "wp.test"})))
        assert home.status == 200 and "<title>Runtime Test Blog</title>" in home.text
        login = read_reply(api.invoke(v2("GET", "/wp-login.php", headers={"Host": "wp.test"})))
        assert login.status == 200 and any(c.startswith("wordpress_test_cookie=") for c in login.cookies)
        assert api.invoke({"wplambda": "warmer"}) == {"warmed": True}
        php = api.invoke({"wplambda": "php", "args": ["-r", "echo PHP_VERSION;"]})
        assert php["exitCode"] == 0 and php["stdout"].startswith("8.2")
        # Two events at once go to the two runtime processes (two php-fpm pools).
        pending = [api.submit(v2("GET", "/wplambda-env.php", "sleep_ms=700", {"Host": "wp.test"}))
                   for _ in range(2)]
        pids = {json.loads(read_reply(p.result()).body)["pid"] for p in pending}
        assert len(pids) == 2
        assert api.init_errors == []
        pools = [pid for process in processes for pid in child_pids(process.pid)]
        assert len(pools) == 2  # one php-fpm master per runtime process
    finally:
        for process in processes:
            stop_runtime_process(process)
    # Stopping a runtime process takes its php-fpm (master and workers: the whole group) with it.
    for master in pools:
        assert _group_gone(master), f"php-fpm group {master} outlived its runtime process"
    log = (tmp_path / "runtime0.log").read_text() + (tmp_path / "runtime1.log").read_text()
    assert site.db_password not in log and site.environ["WORDPRESS_SALT"] not in log


def test_emulator_reports_function_errors(api: RuntimeAPI, tmp_path: Path) -> None:
    """A handler that raises goes through awslambdaric's /error endpoint (operator.truediv(event, context)
    raises TypeError for a dict event)."""
    process = start_runtime_process({**runtime_environment(tmp_path, tmp_path), "AWS_LAMBDA_RUNTIME_API": api.address},
                                    handler="operator.truediv")
    try:
        _wait_for_pollers(api, 1)
        with pytest.raises(InvocationError) as info:
            api.invoke({"x": 1})
        assert info.value.payload["errorType"] == "TypeError"
        assert "unsupported operand" in info.value.payload["errorMessage"]
    finally:
        stop_runtime_process(process)


def test_emulator_http_contract(api: RuntimeAPI) -> None:
    """The runtime side of the API as a plain HTTP/1.1 client sees it."""
    import http.client

    host, port = api.address.split(":")
    results: list[Any] = []
    invoker = threading.Thread(target=lambda: results.append(api.invoke({"hello": "world"}, timeout=10)))
    invoker.start()
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    nxt = conn.getresponse()
    assert nxt.status == 200 and json.loads(nxt.read()) == {"hello": "world"}
    request_id = nxt.getheader("Lambda-Runtime-Aws-Request-Id")
    deadline = int(nxt.getheader("Lambda-Runtime-Deadline-Ms"))
    assert request_id and nxt.getheader("Lambda-Runtime-Trace-Id").startswith("Root=1-")
    assert nxt.getheader("Content-Type") == "application/json"
    assert 0 < deadline - time.time() * 1000 <= 10_000
    conn.request("POST", f"/2018-06-01/runtime/invocation/{request_id}/response", body=b'{"ok": true}')
    accepted = conn.getresponse()
    assert accepted.status == 202
    accepted.read()
    invoker.join(10)
    assert results == [{"ok": True}]
    conn.request("POST", "/2018-06-01/runtime/invocation/no-such-id/response", body=b"{}")
    unknown = conn.getresponse()
    assert unknown.status == 400 and json.loads(unknown.read())["errorType"] == "InvalidRequestID"
    # An event nobody picked up in time is abandoned, never handed out later.
    late = api.submit({"late": True}, timeout=0.1)
    with pytest.raises(InvocationTimeout):
        late.result(grace=0.1)
    api.submit({"fresh": True})
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    assert json.loads(conn.getresponse().read()) == {"fresh": True}
    conn.close()


# -- secrets ------------------------------------------------------------------------------------

@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    endpoint = f"http://localhost:{port}"
    for name, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    try:
        yield endpoint
    finally:
        server.stop()


def test_secrets_reach_php_and_never_the_log(moto: str, site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wplambda")
    client = boto3.client("secretsmanager")
    db = client.create_secret(Name="wp/db", SecretString=json.dumps(
        {"username": "wp_runtime", "password": site.db_password, "port": 3306}))["ARN"]
    salt = client.create_secret(Name="wp/salt", SecretString="salt-value-from-secrets-manager")["ARN"]
    spec = f"WORDPRESS_DB_={db},WORDPRESS_SALT={salt}"
    assert secrets.load(spec) == {"WORDPRESS_DB_USERNAME": "wp_runtime", "WORDPRESS_DB_PASSWORD": site.db_password,
                                  "WORDPRESS_DB_PORT": "3306", "WORDPRESS_SALT": "salt-value-from-secrets-manager"}
    environ = {k: v for k, v in site.environ.items() if k not in ("WORDPRESS_DB_PASSWORD", "WORDPRESS_SALT")}
    runtime = Runtime({**environ, "WPLAMBDA_SECRETS": spec})
    try:
        result = runtime.handle({"wplambda": "php", "args": ["-r", "echo getenv('WORDPRESS_SALT');"]}, None)
        assert result["stdout"] == "salt-value-from-secrets-manager"
    finally:
        runtime.stop()
    assert "WORDPRESS_DB_PASSWORD" in caplog.text  # names are logged ...
    assert site.db_password not in caplog.text and "salt-value-from" not in caplog.text  # ... values never
    with pytest.raises(secrets.SecretsError, match="wp/missing") as info:
        secrets.load(f"X={db.replace('wp/db', 'wp/missing')}")
    assert site.db_password not in str(info.value)
    with pytest.raises(secrets.SecretsError, match="PREFIX=ARN"):
        secrets.parse_spec("no-equals-sign")
