"""Child processes that ``serve`` owns: started with a pid file, stopped by PID, never by name.

A crash (or ``kill -9``) of ``serve`` leaves pid files behind; the next run reads them, stops
whatever still runs under those PIDs if it is ours, and removes stale sockets, so a second
``serve`` never fights a ghost of the first.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def terminate(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group led by ``pid`` (or the process), wait, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                os.kill(pid, sig)
        deadline = time.monotonic() + (timeout if sig == signal.SIGTERM else 5.0)
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if not alive(pid):
                return
            time.sleep(0.05)


def _proc_text(pid: int, name: str) -> str:
    """``/proc/PID/cmdline`` or ``environ`` as text ("" when gone or not ours to read)."""
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@dataclass
class Child:
    """A started child process and its pid file."""

    name: str
    process: subprocess.Popen[bytes]
    pid_file: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 10.0) -> None:
        terminate(self.pid, timeout)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=1)
        self.pid_file.unlink(missing_ok=True)


class ProcessGroup:
    """The set of children of one ``serve`` run, recorded as pid files in ``run_dir``."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.children: list[Child] = []

    def clean_stale(self, marker: str) -> list[int]:
        """Stop processes left by a crashed run (only if their command line or environment has ``marker``).

        Returns the PIDs that were stopped; stale pid files and sockets are removed either way.
        """
        stopped = []
        if not self.run_dir.is_dir():
            return stopped
        for pid_file in sorted(self.run_dir.glob("*.pid")):
            try:
                pid = int(pid_file.read_text().strip())
            except ValueError:
                pid = 0
            ours = marker in _proc_text(pid, "cmdline") + _proc_text(pid, "environ")
            if pid and pid != os.getpid() and alive(pid) and ours:
                terminate(pid)
                stopped.append(pid)
            pid_file.unlink(missing_ok=True)
        for sock in self.run_dir.glob("*.sock"):
            sock.unlink(missing_ok=True)
        return stopped

    def running(self, name: str) -> int | None:
        """The PID recorded as ``name`` if that process still runs (another live run), else None."""
        try:
            pid = int((self.run_dir / f"{name}.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if pid != os.getpid() and alive(pid) else None

    def start(self, name: str, argv: Sequence[str], *, env: dict[str, str], log: Path,
              cwd: Path | None = None) -> Child:
        """Start ``argv`` in its own session (so its children stop with it), logging to ``log``."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            process = subprocess.Popen(list(argv), env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        pid_file = self.run_dir / f"{name}.pid"
        pid_file.write_text(f"{process.pid}\n")
        child = Child(name, process, pid_file)
        self.children.append(child)
        return child

    def record(self, name: str, pid: int) -> Path:
        """Record a process started elsewhere (e.g. MariaDB) so a crash leaves a trace of it."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        pid_file = self.run_dir / f"{name}.pid"
        pid_file.write_text(f"{pid}\n")
        return pid_file

    def stop_all(self) -> None:
        """Stop every child, newest first."""
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
