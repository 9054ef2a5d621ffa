"""`wplambda console --local` driven through a real terminal (a pty), as a person would use it:
readline editing and history, a failing command's exit code, PHP with `eval`, Ctrl-D to leave."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path

from tests.support.helpers import wplambda_cmd

UP = b"\x1b[A"


class Terminal:
    """The primary side of a pty with the console on the other side; collects everything shown."""

    def __init__(self, project: Path) -> None:
        self.fd, secondary = pty.openpty()
        self.process = subprocess.Popen([*wplambda_cmd(), "console", "--local", "--project", str(project)],
                                        stdin=secondary, stdout=secondary, stderr=secondary,
                                        env={**os.environ, "TERM": "xterm", "COLUMNS": "200"})
        os.close(secondary)
        self.seen = b""

    def wait_for(self, text: bytes, count: int = 1, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.seen.count(text) < count:
            assert time.monotonic() < deadline, f"no {text!r} (x{count}) in:\n{self.seen.decode(errors='replace')}"
            ready, _, _ = select.select([self.fd], [], [], 0.5)
            if ready:
                try:
                    self.seen += os.read(self.fd, 65536)
                except OSError:  # the console exited and closed its side
                    assert self.seen.count(text) >= count, self.seen.decode(errors="replace")
                    return

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)


def test_console_runs_lines_shows_failures_recalls_history_and_exits_on_ctrl_d(wp_project: Path) -> None:
    term = Terminal(wp_project)
    try:
        term.wait_for(b"wp> ")
        assert b"nothing (variables, state) carries over" in term.seen  # the banner says lines are stateless
        term.type(b"option get blogname\r")
        term.wait_for(b"wp-cli site\r\n")
        term.wait_for(b"wp> ", 2)
        term.type(b"plugin is-active no-such-plugin\r")
        term.wait_for(b"[exit 1]")
        term.wait_for(b"wp> ", 3)
        term.type(UP + UP + b"\r")  # readline recalls the first line: it runs again
        term.wait_for(b"wp-cli site\r\n", 2)
        term.wait_for(b"wp> ", 4)
        term.type(b"eval echo 40 + 2;\r")  # the rest of the line is PHP, no quoting needed
        term.wait_for(b"42\r\n")
        term.wait_for(b"wp> ", 5)
        term.type(b"\x04")  # Ctrl-D
        assert term.process.wait(timeout=60) == 0
    finally:
        if term.process.poll() is None:
            term.process.kill()
        os.close(term.fd)
    assert term.seen.count(b"[exit") == 1  # only the failing line shows its exit code
    history = (wp_project / ".wplambda" / "console_history").read_text().splitlines()
    assert history[-4:] == ["option get blogname", "plugin is-active no-such-plugin", "option get blogname",
                            "eval echo 40 + 2;"]
    assert not list((wp_project / ".wplambda" / "local" / "run").glob("*.pid"))  # everything it started stopped
