"""The console script in a subprocess and ``run_wplambda``'s in-process run agree.

Most tests run the commands that only touch project files (``IN_PROCESS_COMMANDS``) in-process,
through ``main()`` under typer's CliRunner, because a console script's start-up costs about 0.7 s.
These cases run each way on the same input and compare exit code, stdout and stderr exactly: the
start-up itself, a success that writes a project, and user errors (exit 2) from each command kind.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.helpers import IN_PROCESS_COMMANDS, run_wplambda


def _both(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    return run_wplambda(*args, cwd=cwd, in_process=False), run_wplambda(*args, cwd=cwd, in_process=True)


def _same(console: subprocess.CompletedProcess[str], inside: subprocess.CompletedProcess[str]) -> None:
    assert (inside.returncode, inside.stdout, inside.stderr) == (console.returncode, console.stdout, console.stderr)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "site"
    result = run_wplambda("init", str(root), "--yes", "--name", "blog", in_process=False)
    assert result.returncode == 0, result.stderr
    return root


def test_the_console_script_starts_and_prints_its_version(tmp_path: Path) -> None:
    console, inside = _both("--version", cwd=tmp_path)
    assert console.returncode == 0 and console.stdout.startswith("wplambda ")
    _same(console, inside)


def test_init_prints_and_writes_the_same(tmp_path: Path) -> None:
    written = {}
    for in_process in (False, True):
        result = run_wplambda("init", "site", "--yes", "--name", "same", cwd=tmp_path, in_process=in_process)
        written[in_process] = (result, {p.relative_to(tmp_path).as_posix(): p.read_bytes()
                                        for p in sorted((tmp_path / "site").rglob("*")) if p.is_file()})
        shutil.rmtree(tmp_path / "site")
    assert written[False][0].returncode == 0, written[False][0].stderr
    _same(written[False][0], written[True][0])
    # Secrets are random per init; the files written are the same ones.
    assert written[True][1].keys() == written[False][1].keys()


@pytest.mark.parametrize("args", [
    ("layers", "--region", "il-central-1", "--php", "8.4", "--arch", "arm64"),
    ("cost", "--project", "no-such-dir"),
    ("render", "--project", "no-such-dir"),
    ("layers", "--no-such-option"),
    ("init", "--yes", "--network", "no-such-network"),
], ids=["layers", "cost", "render", "unknown-option", "bad-choice"])
def test_user_errors_exit_2_with_the_same_message(tmp_path: Path, args: tuple[str, ...]) -> None:
    console, inside = _both(*args, cwd=tmp_path)
    assert console.returncode == 2 and console.stderr
    _same(console, inside)


def test_a_bad_config_is_refused_the_same_way(project: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(project, bad)
    config = bad / "wplambda.toml"
    config.write_text(config.read_text().replace('version = "8.3"', 'version = "8.1"', 1))
    console, inside = _both("validate", "--project", str(bad), cwd=tmp_path)
    assert console.returncode == 2 and "php.version" in console.stderr
    _same(console, inside)


def test_validate_of_a_good_project_is_the_same(project: Path, tmp_path: Path) -> None:
    console, inside = _both("validate", "--project", str(project), cwd=tmp_path)
    assert console.returncode == 0, console.stderr
    _same(console, inside)


def test_every_in_process_command_exists() -> None:
    console = run_wplambda("--help", in_process=False)
    assert console.returncode == 0
    for command in IN_PROCESS_COMMANDS:
        assert f" {command} " in console.stdout, command


def test_the_config_schema_is_the_same(tmp_path: Path) -> None:
    console, inside = _both("config", "schema", cwd=tmp_path)
    assert console.returncode == 0 and console.stdout.lstrip().startswith("{")
    _same(console, inside)
