"""`wplambda wp --local`: the real wp-cli phar in the serve build's layer, run by the console
function under awslambdaric against the private MariaDB, started and stopped by the command."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.helpers import moto_aws_env, run_wplambda
from tests.support.ports import free_port
from tests.support.wp_cli import CONSOLE_TIMEOUT, local_paths, wp
from wp_lambda.bundle.plugins import WP_CLI_IN_LAYER
from wp_lambda.config import load
from wp_lambda.remote import WpTimeout, local_target


def test_plugin_list_activate_and_is_active_exit_codes(wp_project: Path) -> None:
    listed = wp(wp_project, "plugin", "list", "--format=json")
    assert listed.returncode == 0, listed.stderr
    plugins = {p["name"]: p["status"] for p in json.loads(listed.stdout)}
    assert plugins["akismet"] in ("inactive", "active")  # Debian's WordPress ships Akismet

    activated = wp(wp_project, "plugin", "activate", "akismet")
    assert activated.returncode == 0, activated.stderr
    assert "Success" in activated.stdout
    assert wp(wp_project, "plugin", "is-active", "akismet").returncode == 0
    missing = wp(wp_project, "plugin", "is-active", "no-such-plugin")
    assert missing.returncode == 1, missing.stdout + missing.stderr
    deactivated = wp(wp_project, "plugin", "deactivate", "akismet")
    assert deactivated.returncode == 0, deactivated.stderr
    assert wp(wp_project, "plugin", "is-active", "akismet").returncode == 1


def test_json_result_has_every_field(wp_project: Path) -> None:
    result = wp(wp_project, "option", "get", "siteurl", json_out=True)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"stdout", "stderr", "exit_code", "duration_ms", "request_id", "truncated"}
    assert data["stdout"] == "http://127.0.0.1:8080\n"
    assert data["exit_code"] == 0 and data["truncated"] is False
    assert data["duration_ms"] > 0 and len(data["request_id"]) == 36


def test_wp_cli_errors_reach_stderr_with_their_exit_code(wp_project: Path) -> None:
    result = wp(wp_project, "no-such-command")
    assert result.returncode == 1
    assert "'no-such-command' is not a registered wp command" in result.stderr
    assert result.stdout == ""


def test_command_past_the_deadline_is_a_timeout_and_the_next_one_works(wp_project: Path) -> None:
    slow = wp(wp_project, "eval", f"echo 'before the sleep'; sleep({CONSOLE_TIMEOUT * 5});")
    assert slow.returncode == 2, slow.stdout + slow.stderr
    assert "was stopped at the console function's deadline (6 s)" in slow.stderr
    assert "before the sleep" in slow.stderr  # the output so far is shown
    assert "console.timeout" in slow.stderr  # how to raise it
    after = wp(wp_project, "option", "get", "blogname")
    assert (after.returncode, after.stdout) == (0, "wp-cli site\n"), after.stderr


def test_no_secret_in_output_result_or_logs(wp_project: Path) -> None:
    secrets = json.loads((local_paths(wp_project).secrets).read_text())
    dump = wp(wp_project, "eval", "print_r(getenv()); print_r($_SERVER); print_r($_ENV); passthru('env');",
              json_out=True)
    assert dump.returncode == 0, dump.stderr
    data = json.loads(dump.stdout)
    assert "WORDPRESS_DB_USERNAME" in data["stdout"]  # the environment was printed
    assert "PATH=" in data["stdout"]  # and a child process's too
    logs = "".join(p.read_text(errors="replace") for p in (local_paths(wp_project).logs).glob("*"))
    for name, value in secrets.items():
        assert value not in dump.stdout + dump.stderr, name
        assert value not in logs, name
    # The site still reads them: WordPress connected to its database and signs with the salt.
    salted = wp(wp_project, "eval", "echo strlen(wp_salt('auth')) > 0 ? 'salted' : 'none';")
    assert salted.stdout == "salted"


def test_wp_cli_sits_in_the_layer_not_in_the_document_root(wp_project: Path) -> None:
    build = wp_project / ".wplambda" / "build-serve"
    assert (build / "layer" / WP_CLI_IN_LAYER).stat().st_size > 1_000_000
    assert not [p for p in (build / "function").rglob("*.phar")]
    manifest = json.loads((build / "build.json").read_text())
    assert manifest["inputs"]["wp_cli"]["sha512"]


def test_wp_runs_in_the_stack_site_name_unless_local(wp_project: Path, tmp_path: Path) -> None:
    """--stack follows the one rule of every command: without it (and without --local) it is the
    deployed stack named site.name; --stack and --local together are refused."""
    with moto_aws_env(tmp_path) as env:
        neither = run_wplambda("wp", "--project", str(wp_project), "--", "option", "get", "siteurl", env=env)
    assert neither.returncode == 2
    assert "stack 'wpsite' does not exist in us-east-1" in neither.stderr
    both = run_wplambda("wp", "--local", "--stack", "blog", "--project", str(wp_project), "--", "cli", "version")
    assert both.returncode == 2
    assert "--stack NAME" in both.stderr and "--local" in both.stderr


def test_nothing_left_running(wp_project: Path) -> None:
    """Each `wp --local` stopped what it started: no pid files, no process with the project's state."""
    run_dir = local_paths(wp_project).run
    assert not list(run_dir.glob("*.pid")) and not (run_dir / "invoke.json").exists()
    marker = f"WPLAMBDA_SERVE_STATE={local_paths(wp_project).root}".encode()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            assert marker not in (proc / "environ").read_bytes().split(b"\0"), proc
        except OSError:
            continue


def test_the_remote_interface_in_process(wp_project: Path) -> None:
    """wp_lambda.remote as other commands use it: one local target for several calls."""
    with local_target(load(wp_project)) as target:
        assert target.name == "local site"
        assert target.invoke({"wplambda": "warmer"}) == {"warmed": True}
        first = target.wp(["option", "get", "blogname"])
        assert (first.stdout, first.exit_code, first.truncated) == ("wp-cli site\n", 0, False)
        second = target.wp(["plugin", "is-active", "no-such-plugin"])
        assert second.exit_code == 1 and second.request_id != first.request_id
        with pytest.raises(WpTimeout, match=r"deadline \(2 s\)"):
            target.wp(["eval", "sleep(30);"], timeout=2)
        assert target.wp(["option", "get", "blogname"]).exit_code == 0
    assert not list(local_paths(wp_project).run.glob("*.pid"))


def test_serve_and_a_second_local_console_are_refused_while_one_runs(wp_project: Path) -> None:
    """One owner of the project's database at a time: serve and `wp --local` refuse, naming the holder."""
    with local_target(load(wp_project)):
        serve = run_wplambda("serve", "--project", str(wp_project), "--no-build", "--port", str(free_port()),
                             timeout=120)
        second = wp(wp_project, "cli", "version")
    for result in (serve, second):
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"is already used by a `wplambda wp --local` or console by process {os.getpid()}" in \
            " ".join(result.stderr.split())
    assert wp(wp_project, "option", "get", "blogname").returncode == 0  # free again afterwards
