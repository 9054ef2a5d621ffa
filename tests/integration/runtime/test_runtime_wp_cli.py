"""The handler's `{"wplambda": "wp"}` direct invocation with the real wp-cli phar on the runtime
tests' WordPress (Debian's, on the private MariaDB): output, exit code, deadline, size limit."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.helpers import real_wp_cli
from tests.support.lambda_events import Context, Reply, read_reply, v2
from tests.support.wp_site import Site
from wp_lambda.runtime import contract
from wp_lambda.runtime.commands import command_words
from wp_lambda.runtime.handler import Runtime

LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024
ORIGIN_SECRET = "origin-secret-value-for-the-test"


@pytest.fixture(scope="module")
def wp_runtime(site: Site, installed: Reply) -> Iterator[Runtime]:
    rt = Runtime(dict(site.environ, WPLAMBDA_WP_CLI=real_wp_cli(), WPLAMBDA_ORIGIN_SECRET=ORIGIN_SECRET))
    try:
        yield rt
    finally:
        rt.stop()


@pytest.fixture(scope="module")
def console_runtime(site: Site, installed: Reply) -> Iterator[Runtime]:
    """The console function's runtime (WPLAMBDA_ROLE=console: no php-fpm at init), where the
    schedule sends wp-cron; wp-cron.php's HTTP wall is up, as deployed by default."""
    rt = Runtime(dict(site.environ, WPLAMBDA_WP_CLI=real_wp_cli(),
                      **{contract.ROLE_ENV: contract.CONSOLE_ROLE, contract.HARDENING_ENV: contract.WALL_HTTP_CRON}))
    try:
        yield rt
    finally:
        rt.stop()


def run(rt: Runtime, *args: str, remaining: float = 60.0, **extra: Any) -> dict[str, Any]:
    """``wp ARGS`` with ``remaining`` seconds left in the invocation; ``extra`` goes into the event."""
    return rt.handle({"wplambda": "wp", "args": list(args), **extra}, Context(remaining))


def test_wp_answers_with_output_exit_code_and_duration(wp_runtime: Runtime) -> None:
    result = run(wp_runtime, "option", "get", "home")
    assert result["stdout"].startswith("http") and result["exitCode"] == 0, result
    assert result["durationMs"] > 0 and result["truncated"] is False and result["timedOut"] is False
    failed = run(wp_runtime, "plugin", "is-active", "no-such-plugin")
    assert failed["exitCode"] == 1


def test_wp_runs_without_a_shell_and_with_scratch_under_tmp(wp_runtime: Runtime, tmp_path: Path) -> None:
    marker = tmp_path / "shell-ran"
    result = run(wp_runtime, "option", "get", f"x; touch {marker}; $(touch {marker})")
    assert result["exitCode"] == 1 and not marker.exists()
    env = run(wp_runtime, "eval", "echo getenv('HOME'), ' ', getenv('WP_CLI_CACHE_DIR'), ' ', getcwd();")
    home, cache, cwd = env["stdout"].split()
    assert home.startswith(tempfile.gettempdir()) and cache.startswith(tempfile.gettempdir())
    assert cwd == wp_runtime.document_root


def test_origin_secret_and_database_password_stay_out_of_the_output(wp_runtime: Runtime, site: Site) -> None:
    result = run(wp_runtime, "eval", "print_r(getenv()); print_r($_SERVER); passthru('env');")
    assert result["exitCode"] == 0 and "WORDPRESS_DB_NAME" in result["stdout"]
    assert ORIGIN_SECRET not in json.dumps(result)
    assert site.db_password not in json.dumps(result)


def test_deadline_comes_from_the_invocation_and_the_next_command_works(wp_runtime: Runtime) -> None:
    slow = run(wp_runtime, "eval", "echo 'started'; sleep(30);", remaining=3.0)
    assert slow["timedOut"] is True and slow["exitCode"] == 124, slow
    assert slow["stdout"] == "started" and "deadline" in slow["stderr"]
    narrowed = run(wp_runtime, "eval", "sleep(30);", remaining=60.0, timeout=2)
    assert narrowed["timedOut"] is True
    assert run(wp_runtime, "option", "get", "blogname")["exitCode"] == 0


@pytest.mark.parametrize("php", ["echo str_repeat('x', 5 * 1024 * 1024);",
                                 "echo str_repeat(chr(1), 3 * 1024 * 1024); fwrite(STDERR, str_repeat('é', 2000000));"])
def test_output_too_large_for_a_response_is_cut_and_says_so(wp_runtime: Runtime, php: str) -> None:
    result = run(wp_runtime, "eval", php)
    assert result["truncated"] is True and result["exitCode"] == 0
    assert result["stdout"].endswith("[output truncated]")
    assert len(json.dumps(result).encode()) < LAMBDA_RESPONSE_LIMIT


def test_bad_wp_events_are_refused(wp_runtime: Runtime) -> None:
    assert "list of strings" in wp_runtime.handle({"wplambda": "wp", "args": "plugin list"}, Context())["error"]
    assert "positive number" in wp_runtime.handle({"wplambda": "wp", "args": [], "timeout": "9"}, Context())["error"]


def test_a_layer_without_wp_cli_says_how_to_add_it(site: Site, installed: Reply, tmp_path: Path) -> None:
    rt = Runtime(dict(site.environ, WPLAMBDA_WP_CLI=str(tmp_path / "missing.phar")))
    result = rt.handle({"wplambda": "wp", "args": ["cli", "version"]}, Context())
    assert result["exitCode"] == 127 and "build.wp_cli" in result["stderr"]


def test_an_http_event_never_reaches_wp(wp_runtime: Runtime, tmp_path: Path) -> None:
    marker = tmp_path / "wp-ran"
    # Through CloudFront (with its origin header), so the page itself answers, not the 403.
    event = v2("GET", "/", "wplambda=wp", {"Host": "wp.test", "X-Wplambda-Origin-Secret": ORIGIN_SECRET})
    event.update(wplambda="wp", args=["eval", f"touch('{marker}');"])
    reply = read_reply(wp_runtime.handle(event, Context()))
    assert reply.status == 200 and "<html" in reply.text
    assert not marker.exists()


def test_command_words_never_show_values() -> None:
    assert command_words(["plugin", "list", "--format=json"]) == "wp plugin list"
    assert command_words(["eval", "echo DB_PASSWORD;"]) == "wp eval"
    assert command_words(["user", "create", "bob", "--user_pass=hunter2"]) == "wp user create"
    assert command_words(["--user_pass=x"]) == "wp"


def test_a_deadline_answers_even_when_a_detached_child_holds_the_output(wp_runtime: Runtime, tmp_path: Path) -> None:
    """A process the command started in a session of its own survives the group kill and keeps
    stderr open; the answer must not wait for it (it would wait an hour here)."""
    pid_file = tmp_path / "detached.pid"
    php = (f"passthru('setsid sh -c \"echo \\\\$\\\\$ > {pid_file}; exec sleep 3600\" > /dev/null &'); "
           "echo 'spawned'; sleep(60);")
    answers: list[dict[str, Any]] = []
    worker = threading.Thread(target=lambda: answers.append(
        wp_runtime.handle({"wplambda": "php", "args": ["-r", php]}, Context(3.0))), daemon=True)
    worker.start()
    try:
        worker.join(60)
        assert not worker.is_alive(), "the invocation did not answer after its deadline"
        assert answers[0]["timedOut"] is True and answers[0]["stdout"] == "spawned"
    finally:
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_the_schedules_cron_event_runs_due_jobs_before_it_answers(console_runtime: Runtime) -> None:
    """The event the schedule sends (``Input`` in the template) runs the due jobs on the console
    function, with the PHP CLI and past wp-cron.php's HTTP wall, and answers only when they are
    done: through php-fpm, wp-cron.php's fastcgi_finish_request() answered first and the job was
    still pending when the answer came (on Lambda, a frozen instance would never finish it)."""
    hook = "wplambda_console_cron_probe"
    assert run(console_runtime, "cron", "event", "schedule", hook, "now")["exitCode"] == 0
    assert console_runtime.handle({"wplambda": "cron"}, Context()) == {"statusCode": 200}
    left = run(console_runtime, "cron", "event", "list", "--fields=hook", "--format=json")
    assert left["exitCode"] == 0, left
    assert hook not in {row["hook"] for row in json.loads(left["stdout"])}
    assert console_runtime.fpm.process is None  # no php-fpm started on the console function

