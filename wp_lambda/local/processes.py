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
from dataclasses import dataclass
from pathlib import Path

from wp_lambda.runtime.fpm import child_pids


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


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, children first."""
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in child_pids(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def _kill(pid: int, sig: int) -> None:
    """Signal ``pid``'s whole group when it leads one (php-fpm's pool), else just ``pid``."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def stop_tree(pid: int, timeout: float = 10.0) -> None:
    """Stop ``pid`` and everything below it, whatever sessions they made for themselves.

    php-fpm puts itself in a session of its own, so killing a handler's group would orphan its
    pool. The handler is frozen first (it cannot restart php-fpm while we look), then every
    descendant and the handler itself are killed, and we wait until they are gone.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGSTOP)
    for child in reversed(descendants(pid)):
        _kill(child, signal.SIGKILL)
    _kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.02)


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
        stop_tree(self.pid, timeout)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=1)
        self.pid_file.unlink(missing_ok=True)


def find_processes(marker: str, env_entry: str) -> list[int]:
    """PIDs (other than ours) whose command line contains ``marker`` or whose environment holds
    exactly ``env_entry`` (``NAME=value``).

    Both are needed: php-fpm writes its title over its argv and environment, so its master is
    found by the config path in its title, the handlers by their environment.
    """
    wanted = env_entry.encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        pid = int(proc.name)
        if pid == os.getpid():
            continue
        try:
            if marker in _proc_text(pid, "cmdline") or wanted in (proc / "environ").read_bytes().split(b"\0"):
                found.append(pid)
        except OSError:
            continue
    return found


class ProcessGroup:
    """The set of children of one ``serve`` run, recorded as pid files in ``run_dir``."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.children: list[Child] = []

    def clean_stale(self, marker: str, env_entry: str) -> list[int]:
        """Stop processes left by a crashed run: those its pid files name and every process that
        :func:`find_processes` matches (``marker`` is the run's state directory).

        The scan catches what no pid file names: when a run dies, its handlers lose the Runtime
        API and exit, and their php-fpm pools are left orphaned. Returns the PIDs that were
        stopped; stale pid files and sockets are removed either way.
        """
        stopped = []
        for pid in find_processes(marker, env_entry):
            if alive(pid):
                stop_tree(pid)
                stopped.append(pid)
        if not self.run_dir.is_dir():
            return stopped
        for pid_file in sorted(self.run_dir.glob("*.pid")):
            try:
                pid = int(pid_file.read_text().strip())
            except ValueError:
                pid = 0
            ours = marker in _proc_text(pid, "cmdline") + _proc_text(pid, "environ")
            if pid and pid != os.getpid() and alive(pid) and ours:
                stop_tree(pid)
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

    def adopt(self, name: str, process: subprocess.Popen[bytes]) -> Child:
        """Own a started process: record its pid file, stop it with the group."""
        child = Child(name, process, self.record(name, process.pid))
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
