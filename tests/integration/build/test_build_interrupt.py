"""A build killed half-way (SIGKILL: no cleanup code runs) leaves the previous build untouched."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.support.build import make_project
from tests.support.helpers import run_wplambda, wplambda_cmd
from wp_lambda import bundle as build_mod
from wp_lambda.config import load


def _snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_killed_build_leaves_previous_build_intact(tmp_path: Path, wp_source: Path) -> None:
    project = make_project(tmp_path / "site", wp_source)
    # What `wplambda build --target serve` builds: Debian's PHP in the layer.
    first = build_mod.build(load(project), target="serve", php_source=build_mod.debian_php_source())
    before = _snapshot(first.root)

    proc = subprocess.Popen([*wplambda_cmd(), "build", "--target", "serve", "--force", "--project", str(project)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            temps = list(first.root.parent.glob(".build-serve.*.tmp"))
            if temps and (temps[0] / "function" / "wp-includes").is_dir():
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the build finished before it could be interrupted"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert list(first.root.parent.glob(".build-serve.*.tmp"))  # the half-built tree was left aside...
    assert _snapshot(first.root) == before  # ...and the previous build is byte for byte as it was

    again = run_wplambda("build", "--target", "serve", "--project", str(project))
    assert again.returncode == 0, again.stderr
    assert "up to date" in again.stdout
    forced = run_wplambda("build", "--target", "serve", "--force", "--project", str(project))
    assert forced.returncode == 0, forced.stderr
    assert not list(first.root.parent.glob(".build-serve.*.tmp"))  # the next real build cleans up


def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path, wp_source: Path) -> None:
    project = make_project(tmp_path / "site", wp_source, wordpress={"source": str(tmp_path / "nowhere")})
    result = run_wplambda("build", "--project", str(project))
    assert result.returncode == 2
    assert "wordpress.source" in result.stderr and "nowhere" in result.stderr
    assert not (project / ".wplambda").exists()
    unknown = run_wplambda("build", "--target", "staging", "--project", str(project))
    assert unknown.returncode == 2 and "unknown build target 'staging'" in unknown.stderr
