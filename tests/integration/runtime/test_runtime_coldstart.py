"""The cold-start work on real php-fpm, WordPress and MariaDB: the init-phase warm-up and the
SnapStart hooks (wp_lambda/runtime/warmup.py, wp_lambda/runtime/snapstart.py).

Each test runs its own two-worker php-fpm on the session's WordPress site, so replacing workers
or restarting php-fpm never disturbs the other runtime tests. A probe script in the document root
reports what PHP itself sees: its pid, opcache_get_status(), and (on request) a persistent MySQL
connection's id, which a worker keeps across requests until it exits.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from awslambdaric.lambda_runtime_hooks_runner import run_after_restore, run_before_snapshot
from snapshot_restore_py import get_after_restore, get_before_snapshot

from tests.support.helpers import REPO, moto_server
from tests.support.lambda_events import Client, Reply, read_reply, v2
from tests.support.ports import free_port
from tests.support.wp_site import Site
from wp_lambda.local.mariadb import MariaDB
from wp_lambda.local.runtime_api import RuntimeAPI
from wp_lambda.local.runtime_process import runtime_environment, start_runtime_process, stop_runtime_process
from wp_lambda.runtime import cgi, fastcgi, routing, snapstart, warmup
from wp_lambda.runtime.events import Request
from wp_lambda.runtime.handler import Runtime

PROBE = "wplambda-opcache.php"
PROBE_CODE = r"""<?php
header('Content-Type: application/json');
usleep((int)($_GET['sleep_ms'] ?? 0) * 1000);
$busy_until = microtime(true) + (int)($_GET['busy_ms'] ?? 0) / 1000;  // unlike usleep, no signal cuts it short
while (microtime(true) < $busy_until) {}
$connection = null;
if (isset($_GET['db'])) {
    [$host, $socket] = array_pad(explode(':', getenv('WORDPRESS_DB_HOST'), 2), 2, null);
    $db = new mysqli('p:' . $host, getenv('WORDPRESS_DB_USER'), getenv('WORDPRESS_DB_PASSWORD'),
                     getenv('WORDPRESS_DB_NAME'), 0, $socket);
    $connection = $db->thread_id;
}
$status = opcache_get_status(true);
echo json_encode([
    'pid' => getmypid(),
    'start_time' => $status['opcache_statistics']['start_time'],
    'hits' => $status['opcache_statistics']['hits'],
    'scripts' => array_keys($status['scripts']),
    'connection' => $connection,
    'mark' => getenv('WPLAMBDA_TEST_MARK'),
]);
"""
WORDPRESS_FILES = ("wp-settings.php", "wp-includes/plugin.php", "wp-includes/class-wp-query.php",
                   "wp-includes/general-template.php")


@pytest.fixture(scope="module")
def probe_site(site: Site, installed: Reply) -> Site:
    (site.root / PROBE).write_text(PROBE_CODE)
    return site


def _runtime(site: Site, **extra: str) -> Runtime:
    return Runtime({**site.environ, "WPLAMBDA_FPM_WORKERS": "2", **extra})


@pytest.fixture
def rt(probe_site: Site) -> Iterator[Runtime]:
    runtime = _runtime(probe_site)
    try:
        yield runtime
    finally:
        runtime.stop()


def probe(runtime: Runtime, **query: Any) -> dict[str, Any]:
    reply = Client(runtime.handle).get(f"/{PROBE}", "&".join(f"{k}={v}" for k, v in query.items()))
    assert reply.status == 200, reply.text
    return json.loads(reply.text)


def probe_every_worker(runtime: Runtime, **query: Any) -> list[dict[str, Any]]:
    """One probe per worker: concurrent requests that each hold their worker for a moment, so the
    two land on different workers (php-fpm hands a busy worker no second request)."""
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: results.append(probe(runtime, sleep_ms=400, **query)))
               for _ in range(runtime.fpm.settings.workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r["pid"] for r in results) == sorted(runtime.fpm.worker_pids())
    return results


def wordpress_cached(result: dict[str, Any], root: Path) -> bool:
    scripts = set(result["scripts"])
    return all(str(root / name) in scripts for name in WORDPRESS_FILES)


def connections(mariadb: MariaDB, user: str) -> set[int]:
    out = mariadb.sql(f"SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '{user}'")
    return {int(line) for line in out.split()}


def wait_until_gone(mariadb: MariaDB, user: str, ids: set[int]) -> set[int]:
    """The ids still connected once the server has noticed the closes (it may lag a few ms)."""
    deadline = time.monotonic() + 5
    while (left := connections(mariadb, user) & ids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


# -- warm-up --------------------------------------------------------------------------------------

def test_warm_up_compiles_wordpress_for_every_worker(rt: Runtime, probe_site: Site,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wplambda")
    rt.start()
    before = probe_every_worker(rt)
    assert not any(wordpress_cached(r, probe_site.root) for r in before)  # an empty opcache to start

    report = rt.warm()

    assert report.skipped == ""
    assert [(path, status) for path, status, _ in report.results] == [("/", 200)]
    assert "warm-up: / 200 in" in caplog.text
    # One warm-up request ran on one worker; both see WordPress compiled: the opcache is the master's.
    after = probe_every_worker(rt)
    assert all(wordpress_cached(r, probe_site.root) for r in after)
    assert len({r["start_time"] for r in before + after}) == 1


def test_warm_up_paths_come_from_the_environment() -> None:
    assert warmup.paths({}) == ["/"]
    assert warmup.paths({"WPLAMBDA_WARM_PATHS": ""}) == []
    assert warmup.paths({"WPLAMBDA_WARM_PATHS": "/, /sample-page/?x=1"}) == ["/", "/sample-page/?x=1"]


def test_warm_up_stops_at_its_deadline(probe_site: Site, caplog: pytest.LogCaptureFixture) -> None:
    """A path slower than the budget is cut off (504, php-fpm restarted), the rest is not tried
    (it would fare no better), and the pool still serves; no budget left means no request."""
    slow = f"/{PROBE}?sleep_ms=3000"
    runtime = _runtime(probe_site, WPLAMBDA_WARM_PATHS=f"{slow},/")
    try:
        runtime.start()
        report = runtime.warm(0.5)
        assert [(path, status) for path, status, _ in report.results] == [(slow, 504)]
        assert report.skipped == f"{slow} answered 504"
        assert f"warm-up stopped: {slow} answered 504" in caplog.text
        assert runtime.fpm.starts == 2  # the timed-out request's php-fpm was replaced
        assert probe(runtime)["pid"] in runtime.fpm.worker_pids()
        late = runtime.warm(0)
        assert (late.results, late.skipped) == ([], f"the 0 s deadline passed before {slow}")
    finally:
        runtime.stop()


def test_warm_up_is_skipped_when_the_database_refuses(probe_site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wplambda")
    runtime = _runtime(probe_site, WORDPRESS_DB_HOST=f"127.0.0.1:{free_port()}")
    try:
        runtime.start()
        report = runtime.warm()
        assert report.results == []
        assert report.skipped.startswith("the database is unreachable (('127.0.0.1',")
        assert "ConnectionRefusedError" in report.skipped
        assert "warm-up skipped: the database is unreachable" in caplog.text
        assert not any(wordpress_cached(r, probe_site.root) for r in probe_every_worker(runtime))
    finally:
        runtime.stop()


def test_warm_up_is_skipped_when_the_database_never_greets(probe_site: Site) -> None:
    """A server that accepts but stays silent, as a paused Aurora cluster does while it resumes."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        report = warmup.run(lambda *_: pytest.fail("no request may be made"),
                            {"WORDPRESS_DB_HOST": "127.0.0.1", "WORDPRESS_DB_PORT": str(silent.getsockname()[1])})
    assert report.results == []
    assert "TimeoutError" in report.skipped


def test_database_probe_reads_the_real_greeting(probe_site: Site, mariadb: MariaDB) -> None:
    assert warmup.database_problem(probe_site.environ) is None  # localhost:/socket, the private MariaDB
    assert warmup.database_address({"WORDPRESS_DB_HOST": "localhost"}) is None
    assert warmup.database_address({"WORDPRESS_DB_HOST": "db.example.com", "WORDPRESS_DB_PORT": "3307"}) == (
        "db.example.com", 3307)
    assert warmup.database_address({"WORDPRESS_DB_HOST": "db:3308", "WORDPRESS_DB_PORT": "3307"}) == ("db", 3308)
    assert warmup.database_address({"WORDPRESS_DB_HOST": "[::1]:3309"}) == ("::1", 3309)
    assert warmup.database_address({"WORDPRESS_DB_HOST": "localhost:/run/my.sock"}) == "/run/my.sock"
    assert "do not name a port" in (warmup.database_problem({"WORDPRESS_DB_HOST": "db:x"}) or "")


INIT_SCRIPT = """
import json, logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
import wp_lambda.runtime.handler as h
rt = h.runtime()
started = rt.fpm.starts
status = h.handler(json.loads(sys.argv[1]), None)["statusCode"]
print(json.dumps({"started_in_init": started, "first_request": status, "starts": rt.fpm.starts}))
rt.stop()
"""


def test_init_never_fails_when_the_database_is_unreachable(probe_site: Site) -> None:
    """The real init path: importing the handler inside Lambda (AWS_LAMBDA_RUNTIME_API set)."""
    env = {**probe_site.environ, "WPLAMBDA_FPM_WORKERS": "2", "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9",
           "WORDPRESS_DB_HOST": f"127.0.0.1:{free_port()}", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", INIT_SCRIPT, json.dumps(v2("GET", f"/{PROBE}"))], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"started_in_init": 1, "first_request": 200, "starts": 1}
    assert "warm-up skipped: the database is unreachable" in done.stderr


def test_init_warms_when_the_database_answers(probe_site: Site) -> None:
    env = {**probe_site.environ, "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", INIT_SCRIPT, json.dumps(v2("GET", "/"))], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"started_in_init": 1, "first_request": 200, "starts": 1}
    assert "wplambda: warm-up: / 200 in" in done.stderr


# -- SnapStart -------------------------------------------------------------------------------------

@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's Secrets Manager, reached the way boto3 reaches AWS: the standard variables."""
    with moto_server() as endpoint:
        for name, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
            monkeypatch.setenv(name, value)
        yield endpoint


@pytest.fixture
def hooks() -> Iterator[None]:
    """snapshot_restore_py's registries are process-wide: leave them as they were."""
    before, after = list(get_before_snapshot()), list(get_after_restore())
    try:
        yield
    finally:
        get_before_snapshot()[:] = before
        get_after_restore()[:] = after


@pytest.fixture
def snap(moto: str, probe_site: Site, hooks: None) -> Iterator[tuple[Runtime, str]]:
    """A SnapStart init: WPLAMBDA_TEST_MARK comes from Secrets Manager (moto), the hooks are
    registered with the real snapshot_restore_py, and awslambdaric's own runner (what the managed
    runtime runs before it reports the init done) calls the before-snapshot hook."""
    arn = boto3.client("secretsmanager").create_secret(Name=f"wp/mark-{uuid.uuid4().hex}",
                                                       SecretString="from-the-snapshot")["ARN"]
    runtime = _runtime(probe_site, WPLAMBDA_SECRETS=f"WPLAMBDA_TEST_MARK={arn}",
                       AWS_LAMBDA_INITIALIZATION_TYPE="snap-start")
    try:
        runtime.start()
        assert snapstart.register(runtime) is True
        run_before_snapshot()
        yield runtime, arn
    finally:
        runtime.stop()


def test_before_snapshot_warms_and_leaves_no_connection(moto: str, probe_site: Site, mariadb: MariaDB) -> None:
    runtime = _runtime(probe_site)
    try:
        runtime.start()
        held = {r["connection"] for r in probe_every_worker(runtime, db=1)}
        assert len(held) == 2 and held <= connections(mariadb, "wp_runtime")
        workers = set(runtime.fpm.worker_pids())

        snapstart.before_snapshot(runtime)

        assert not workers & set(runtime.fpm.worker_pids())
        assert wait_until_gone(mariadb, "wp_runtime", held) == set()
        assert all(wordpress_cached(r, probe_site.root) for r in probe_every_worker(runtime))
    finally:
        runtime.stop()


def test_after_restore_replaces_workers_and_keeps_the_opcache(snap: tuple[Runtime, str], probe_site: Site,
                                                              mariadb: MariaDB) -> None:
    runtime, _ = snap
    master = runtime.fpm.pid
    # What a snapshot could carry: workers with open connections and a used random state.
    before = probe_every_worker(runtime, db=1)
    held = {r["connection"] for r in before}
    assert all(r["mark"] == "from-the-snapshot" for r in before)

    run_after_restore()

    assert runtime.fpm.pid == master  # the master, and its opcache, survived
    after = probe_every_worker(runtime)
    assert not {r["pid"] for r in before} & {r["pid"] for r in after}
    assert all(wordpress_cached(r, probe_site.root) for r in after)
    assert {r["start_time"] for r in before + after} == {before[0]["start_time"]}  # no opcache restart
    assert wait_until_gone(mariadb, "wp_runtime", held) == set()
    assert all(r["mark"] == "from-the-snapshot" for r in after)
    home = Client(runtime.handle).get("/")
    assert home.status == 200 and "Runtime Test Blog" in home.text


def test_after_restore_picks_up_a_rotated_secret(snap: tuple[Runtime, str], probe_site: Site,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wplambda")
    runtime, arn = snap
    master = runtime.fpm.pid
    boto3.client("secretsmanager").put_secret_value(SecretId=arn, SecretString="rotated-after-the-snapshot")

    run_after_restore()

    # Workers inherit the master's environment, so only a new master can carry the new value.
    assert runtime.fpm.pid != master
    assert all(r["mark"] == "rotated-after-the-snapshot" for r in probe_every_worker(runtime))
    assert "secrets rotated (WPLAMBDA_TEST_MARK)" in caplog.text
    assert "rotated-after-the-snapshot" not in caplog.text and "from-the-snapshot" not in caplog.text
    assert Client(runtime.handle).get("/").status == 200


def test_after_restore_keeps_serving_when_secrets_cannot_be_read(snap: tuple[Runtime, str],
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    runtime, arn = snap
    boto3.client("secretsmanager").delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    run_after_restore()
    assert "keeping the values from the snapshot" in caplog.text
    assert {r["mark"] for r in probe_every_worker(runtime)} == {"from-the-snapshot"}


def test_after_restore_gives_up_on_a_silent_secrets_manager(snap: tuple[Runtime, str],
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """The hook has 10 s on Lambda: a Secrets Manager that accepts and never answers costs one
    short read timeout (no retries), then the snapshot's values stay and the workers are renewed."""
    runtime, _ = snap
    before = set(runtime.fpm.worker_pids())
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        run_after_restore()
    assert "Read timeout" in caplog.text and "keeping the values from the snapshot" in caplog.text
    assert not before & set(runtime.fpm.worker_pids())
    assert {r["mark"] for r in probe_every_worker(runtime)} == {"from-the-snapshot"}


def test_snap_start_init_under_awslambdaric(probe_site: Site, tmp_path: Path) -> None:
    """The whole SnapStart sequence as the managed runtime drives it: awslambdaric imports the
    handler (php-fpm starts, the hooks register), runs the before-snapshot hook, waits on the
    emulator's restore/next, runs the after-restore hook, and only then takes events."""
    log = tmp_path / "runtime.log"
    with RuntimeAPI(timeout=30) as api:
        environ = runtime_environment(probe_site.root, probe_site.layer, api_address=api.address,
                                      base={**probe_site.environ, "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",
                                            "AWS_LAMBDA_LOG_LEVEL": "INFO", "PYTHONPATH": str(REPO)})
        process = start_runtime_process(environ, log=log)
        try:
            deadline = time.monotonic() + 60
            while api.polling < 1 and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert (api.restores, api.init_errors, api.restore_errors) == (1, [], [])
            text = log.read_text()
            snapshot = re.search(r"before snapshot: opcache warmed, workers replaced \((\d+)\)", text)
            restored = re.search(r"after restore: workers replaced \((\d+)\), opcache kept", text)
            assert snapshot and restored, text
            assert "warm-up: / 200 in" in text
            assert snapshot.group(1) != restored.group(1)
            result = json.loads(read_reply(api.invoke(v2("GET", f"/{PROBE}"))).body)
            assert str(result["pid"]) == restored.group(1)  # the worker forked after the restore
            assert wordpress_cached(result, probe_site.root)  # compiled before the snapshot
        finally:
            stop_runtime_process(process)


def test_hooks_are_registered_only_for_a_snap_start_init(rt: Runtime, hooks: None,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    assert snapstart.register(rt) is False  # an on-demand init warms in place instead
    assert not any(args == (rt,) for _, args, _ in get_before_snapshot())
    rt.environ["AWS_LAMBDA_INITIALIZATION_TYPE"] = "snap-start"
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "snapshot_restore_py", None)  # as outside Lambda: no such module
        assert snapstart.register(rt) is False
    assert snapstart.register(rt) is True
    assert get_before_snapshot()[-1] == (snapstart.before_snapshot, (rt,), {})
    assert get_after_restore()[-1] == (snapstart.after_restore, (rt,), {})


def test_replace_workers_survives_a_stuck_worker(rt: Runtime) -> None:
    """A worker busy past the grace period is killed, and the pool still comes back whole."""
    rt.start()
    started = threading.Event()

    def stuck() -> None:
        started.set()
        with contextlib.suppress(fastcgi.FastCGIError):  # its worker is killed under it
            fastcgi.request(rt.fpm.socket_path, _probe_params(rt, "busy_ms=2000"), b"",
                            deadline=time.monotonic() + 10)

    thread = threading.Thread(target=stuck)
    thread.start()
    started.wait()
    time.sleep(0.2)  # let the request reach a worker
    old = set(rt.fpm.worker_pids())
    new = rt.fpm.replace_workers(timeout=0.5)
    thread.join()
    assert len(new) == 2 and not old & set(new)
    assert probe(rt)["pid"] in new


def _probe_params(runtime: Runtime, query: str) -> list[tuple[str, str]]:
    """The FastCGI request the handler would send for the probe (sent here without the handler,
    which would restart php-fpm when the worker is killed under it)."""
    request = Request("GET", f"/{PROBE}", query, {"host": ["localhost"]}, b"", "127.0.0.1")
    target = routing.route(runtime.document_root, request.path, request.query)
    return cgi.params(request, target, runtime.document_root, "localhost", request.source_ip)


def test_no_secret_value_in_the_warm_up_log(probe_site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    runtime = _runtime(probe_site)
    try:
        runtime.start()
        runtime.warm()
    finally:
        runtime.stop()
    assert probe_site.db_password not in caplog.text
    assert probe_site.environ["WORDPRESS_SALT"] not in caplog.text
