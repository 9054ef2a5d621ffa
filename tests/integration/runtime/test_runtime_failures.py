"""What happens when PHP misbehaves: a killed worker, a request past the deadline, a fatal error,
php-fpm dying between requests or never starting."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.support.lambda_events import Client, Reply
from tests.support.wp_site import Site
from wp_lambda.runtime.fpm import FpmSettings, PhpFpm, PhpFpmError
from wp_lambda.runtime.handler import Runtime


def _wait_for(predicate: object, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_worker_killed_mid_request_gives_502_then_200(runtime: Runtime, installed: Reply, tmp_path: Path) -> None:
    client = Client(runtime.handle)
    assert client.get("/").status == 200
    starts = runtime.fpm.starts
    marker = tmp_path / "started"
    replies: list[Reply] = []
    thread = threading.Thread(target=lambda: replies.append(
        client.get("/wplambda-sleep.php", query=f"s=20&marker={marker}")))
    thread.start()
    _wait_for(marker.exists, "the PHP script to start")
    workers = runtime.fpm.worker_pids()
    assert len(workers) == 1
    os.kill(workers[0], signal.SIGKILL)
    thread.join(30)
    assert replies[0].status == 502
    assert "PHP stopped" in replies[0].text
    assert runtime.fpm.starts == starts + 1  # php-fpm was restarted
    assert client.get("/").status == 200


def test_request_past_the_deadline_gives_504_then_200(runtime: Runtime, installed: Reply,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    # 3 s left in the invocation, 1 s margin: PHP gets 2 s and sleeps 10.
    client = Client(runtime.handle, timeout=3.0)
    starts = runtime.fpm.starts
    reply = client.get("/wplambda-sleep.php", query="s=10")
    assert reply.status == 504 and "took too long" in reply.text
    assert runtime.fpm.starts == starts + 1
    assert "did not finish before the deadline" in caplog.text
    assert Client(runtime.handle).get("/").status == 200


def test_php_fatal_error_keeps_php_status_and_logs_stderr(runtime: Runtime, installed: Reply,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wplambda")
    reply = Client(runtime.handle).get("/wplambda-fatal.php")
    assert reply.status == 500
    _wait_for(lambda: "undefined_function_for_test" in caplog.text, "PHP's error in the log")
    assert "wplambda test: about to fail" in caplog.text
    assert any(r.levelno == logging.WARNING and "PHP Fatal error" in r.getMessage() for r in caplog.records)


def test_php_fpm_dead_between_requests_is_restarted(runtime: Runtime, installed: Reply) -> None:
    client = Client(runtime.handle)
    assert client.get("/").status == 200
    master = runtime.fpm.pid
    assert master is not None
    os.kill(master, signal.SIGKILL)
    _wait_for(lambda: runtime.fpm.process is not None and runtime.fpm.process.poll() is not None, "php-fpm to die")
    assert client.get("/").status == 200
    assert runtime.fpm.pid not in (None, master)


def test_php_fpm_that_never_starts_reports_its_own_stderr(site: Site, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    broken = tmp_path / "php-fpm.conf"
    broken.write_text((site.layer / "php-fpm.conf").read_text() + "\nthis_is_not_a_directive = 1\n")
    fpm = PhpFpm(FpmSettings(binary="/usr/sbin/php-fpm8.2", config=str(broken), php_ini=str(site.layer / "php.ini")))
    with pytest.raises(PhpFpmError) as info:
        fpm.start(timeout=5)
    assert "this_is_not_a_directive" in str(info.value)  # php-fpm's own complaint
    assert fpm.process is None

    runtime = Runtime({**site.environ, "WPLAMBDA_FPM_CONF": str(broken)})
    reply = Client(runtime.handle).get("/")
    assert reply.status == 502 and "PHP could not start" in reply.text
    assert "this_is_not_a_directive" in caplog.text
    missing = Runtime({**site.environ, "WPLAMBDA_PHP_FPM": str(tmp_path / "no-php-fpm")})
    assert Client(missing.handle).get("/").status == 502
    assert "no-php-fpm does not exist" in caplog.text
