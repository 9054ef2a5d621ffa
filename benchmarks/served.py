"""A throwaway site under ``wplambda serve`` for the benchmarks that time requests to it.

A project is made from Debian's WordPress with ``wplambda init`` and served with ``--install`` (real
php-fpm and MariaDB), on a free loopback port; serve's output goes to a file, so a full pipe can
never stall it while the benchmark runs, and is shown when serve does not start. The same project
can be served again (:func:`serve_project`), with other options, on the same database: how a
benchmark compares two ways of serving one site.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.helpers import pinned_wp_cli_env
from tests.support.ports import free_port

START_SECONDS = 300
WPLAMBDA = str(Path(sys.executable).with_name("wplambda"))


@dataclass(frozen=True)
class Served:
    project: Path
    url: str
    process: subprocess.Popen[bytes]
    # serve's output: one line per request, after the banner.
    log: Path


def wplambda_env() -> dict[str, str]:
    """The environment the benchmarks run ``wplambda`` with: the pinned wp-cli from ../shared/
    (the release cannot be downloaded here), and a wide terminal, so the banner is not wrapped."""
    return {**os.environ, **pinned_wp_cli_env(), "COLUMNS": "200"}


def init_project(tmp: Path, name: str) -> Path:
    """``wplambda init`` of a project named ``name`` under ``tmp``, on Debian's WordPress."""
    project = tmp / "site"
    subprocess.run([WPLAMBDA, "init", str(project), "--yes", "--name", name,
                    "--wordpress-source", "/usr/share/wordpress"], check=True, capture_output=True,
                   env=wplambda_env())
    return project


@contextmanager
def serve_project(project: Path, log: Path, *serve_args: str) -> Iterator[Served]:
    """Serve ``project`` with ``serve_args`` added, its output in ``log``; stop it after."""
    port = free_port()
    with open(log, "w") as out:
        serve = subprocess.Popen([WPLAMBDA, "serve", "--project", str(project), "--port", str(port), "--install",
                                  *serve_args], stdout=out, stderr=subprocess.STDOUT,
                                 env=wplambda_env())
    try:
        deadline = time.monotonic() + START_SECONDS
        while "Ctrl-C" not in log.read_text():
            if serve.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield Served(project, f"http://127.0.0.1:{port}", serve, log)
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)
        time.sleep(0.2)


@contextmanager
def served_site(tmp: Path, name: str, *serve_args: str) -> Iterator[Served]:
    """Init a project named ``name`` under ``tmp``, serve it with ``serve_args`` added, stop it after."""
    with serve_project(init_project(tmp, name), tmp / "serve.log", *serve_args) as site:
        yield site
