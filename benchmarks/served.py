"""A throwaway site under ``wplambda serve`` for the benchmarks that time requests to it.

A project is made from Debian's WordPress with ``wplambda init`` and served with ``--install`` (real
php-fpm and MariaDB), on a free loopback port; serve's output goes to a file, so a full pipe can
never stall it while the benchmark runs, and is shown when serve does not start.
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

from tests.support.ports import free_port

START_SECONDS = 300


@dataclass(frozen=True)
class Served:
    project: Path
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def served_site(tmp: Path, name: str, *serve_args: str) -> Iterator[Served]:
    """Init a project named ``name`` under ``tmp``, serve it with ``serve_args`` added, stop it after."""
    wplambda = str(Path(sys.executable).with_name("wplambda"))
    project = tmp / "site"
    subprocess.run([wplambda, "init", str(project), "--yes", "--name", name,
                    "--wordpress-source", "/usr/share/wordpress"], check=True, capture_output=True)
    port = free_port()
    log = tmp / "serve.log"
    with open(log, "w") as out:
        serve = subprocess.Popen([wplambda, "serve", "--project", str(project), "--port", str(port), "--install",
                                  *serve_args], stdout=out, stderr=subprocess.STDOUT,
                                 env={**os.environ, "COLUMNS": "200"})
    try:
        deadline = time.monotonic() + START_SECONDS
        while "Ctrl-C" not in log.read_text():
            if serve.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield Served(project, f"http://127.0.0.1:{port}", serve)
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)
        time.sleep(0.2)
