"""php-fpm supervision: start it in the foreground, wait for its socket, restart it when it dies.

php-fpm runs as a child of the Python runtime for the life of the Lambda instance (or of a local
``serve`` worker). Master and workers get a process group of their own, so one ``killpg`` ends
them all, even workers orphaned by a master that died (they would otherwise live on, holding
the old socket and our output pipe). ``wp_lambda.local.runtime_process.stop_runtime_process``
finds these groups as the runtime's children.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from wp_lambda.runtime import contract, layout, opcache

log = logging.getLogger("wplambda.fpm")

START_TIMEOUT = 10.0


class PhpFpmError(RuntimeError):
    """php-fpm could not be started; the message carries its own stderr."""


@dataclass
class FpmSettings:
    """Where php-fpm and its configuration live; defaults follow docs/internals.md."""

    binary: str = "/opt/bin/php-fpm"
    config: str = "/opt/wplambda/php-fpm.conf"
    php_ini: str = "/opt/wplambda/php.ini"
    workers: int = 1
    # How php-fpm is told about its ini files; empty means ``--php-ini php_ini`` (see layout.py).
    args: tuple[str, ...] = ()
    # The packaged primed opcache file cache (wp_lambda/runtime/opcache.py), if the build made one.
    file_cache: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], document_root: str = "") -> FpmSettings:
        """The settings of the layout ``env`` names (``WPLAMBDA_PHP_LAYOUT``, ``WPLAMBDA_PHP_PREFIX``),
        with the packaged opcache file cache of ``document_root`` when there is one."""
        php = layout.from_env(env)
        return cls(binary=php.php_fpm, config=php.fpm_conf, php_ini=php.php_ini,
                   workers=int(env.get(contract.FPM_WORKERS_ENV) or 1), args=php.ini_args + php.fpm_args,
                   file_cache=opcache.packaged(document_root, env) if document_root else None)


@dataclass
class PhpFpm:
    """One supervised php-fpm master with its pool on a unix socket under the temp dir (/tmp)."""

    settings: FpmSettings
    # The environment php-fpm (and so PHP, with clear_env = no) runs with, secrets included, less
    # the runtime's own (contract.RUNTIME_ONLY_ENV), which start() leaves out.
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    socket_path: str = ""
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _stderr_tail: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=40))
    _dir: str = ""

    def ensure_running(self) -> None:
        """Start php-fpm if it is not running (first request, or after it died)."""
        if self.process is None or self.process.poll() is not None:
            if self.process is not None:
                log.warning("php-fpm (pid %s) exited with %s; restarting it", self.process.pid,
                            self.process.returncode)
                self.stop()
            self.start()

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start php-fpm -F and wait until its socket accepts connections (or raise PhpFpmError)."""
        if not self._dir:
            self._dir = tempfile.mkdtemp(prefix="wplambda-fpm-")
        self.socket_path = os.path.join(self._dir, "php-fpm.sock")
        pid_file = os.path.join(self._dir, "php-fpm.pid")
        for leftover in (self.socket_path, pid_file):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
        env = contract.php_environment(self.environ)
        env.update(WPLAMBDA_FPM_SOCKET=self.socket_path, WPLAMBDA_FPM_PID=pid_file,
                   WPLAMBDA_FPM_WORKERS=str(self.settings.workers))
        cmd = [self.settings.binary, "--nodaemonize", "--fpm-config", self.settings.config,
               *(self.settings.args or ("--php-ini", self.settings.php_ini))]
        if os.geteuid() == 0:
            cmd.append("--allow-to-run-as-root")
        if self.settings.file_cache:
            for name, value in opcache.link(self.settings.file_cache, self._dir).items():
                cmd += ["-d", f"{name}={value}"]
        for path in (self.settings.binary, self.settings.config, self.settings.php_ini):
            if not Path(path).exists():
                raise PhpFpmError(f"php-fpm cannot start: {path} does not exist (check WPLAMBDA_PHP_LAYOUT and "
                                  "WPLAMBDA_PHP_PREFIX, or set WPLAMBDA_PHP_FPM, WPLAMBDA_FPM_CONF and "
                                  "WPLAMBDA_PHP_INI)")
        self._stderr_tail.clear()
        self.process = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, process_group=0)
        self.starts += 1
        reader = threading.Thread(target=self._forward_output, args=(self.process,), daemon=True,
                                  name="php-fpm-output")
        reader.start()
        deadline = time.monotonic() + timeout
        while not _accepts(self.socket_path):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                reader.join(2)  # it ends at EOF, once php-fpm's last words are logged
                output = "\n".join(self._stderr_tail) or "(no output)"
                raise PhpFpmError(f"php-fpm did not start listening on {self.socket_path} within "
                                  f"{timeout:g} s; its output:\n{output}")
            time.sleep(0.002)

    def _forward_output(self, process: subprocess.Popen[bytes]) -> None:
        """Forward php-fpm's log (and PHP errors it catches from workers) to our log, keep a tail."""
        assert process.stdout is not None
        with process.stdout:
            for raw in process.stdout:
                self._log_line(raw)

    def _log_line(self, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
            self._stderr_tail.append(line)
            # php-fpm's own notices are routine; anything else is PHP reporting a problem.
            log.log(logging.INFO if "NOTICE: " in line else logging.WARNING, "php-fpm: %s", line)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None and self.process.poll() is None else None

    def worker_pids(self) -> list[int]:
        """The pool's worker processes (children of the master), from /proc."""
        return child_pids(self.pid) if self.pid is not None else []

    def replace_workers(self, timeout: float = 5.0, *, graceful: bool = True) -> list[int]:
        """Swap every worker for a fresh fork of the master, and return the new workers' pids.

        The master, and with it the opcache's shared memory, stays; only the workers' own state
        goes: their connections (persistent ones included) and PHP's random state, which must
        not be shared by two instances restored from one SnapStart snapshot. ``pm = static``
        makes the master fork a replacement at once. (SIGUSR2 would re-execute the master, and
        drop the opcache.) Graceful is SIGQUIT: an idle worker shuts PHP down, saying goodbye
        on its connections (about 60 ms here). Otherwise SIGTERM, which php-fpm leaves at its
        default for workers: the process ends at once (about 13 ms) and the kernel closes its
        sockets; that suits a restored snapshot, whose connections lead nowhere anyway.
        """
        old = set(self.worker_pids())
        for pid in old:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT if graceful else signal.SIGTERM)
        deadline = time.monotonic() + timeout
        killed = False
        while True:
            current = self.worker_pids()
            if len(current) >= self.settings.workers and not old.intersection(current):
                return current
            if self.pid is None:
                raise PhpFpmError("php-fpm's master exited while its workers were being replaced")
            if time.monotonic() > deadline:
                if killed:
                    raise PhpFpmError(f"php-fpm did not replace its workers within {2 * timeout:g} s")
                for pid in old.intersection(current):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                killed, deadline = True, time.monotonic() + timeout
            time.sleep(0.002)

    def restart(self) -> None:
        """Kill the whole pool (a stuck worker included) and start a fresh one."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop php-fpm for good and remove the socket directory this pool created."""
        self.stop()
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = ""

    def stop(self) -> None:
        """SIGKILL the pool's process group (orphaned workers included) and reap the master.

        The output pipe is left to the forwarding thread, which ends at EOF once every process
        holding it is gone.
        """
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self.process = None


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc); empty when it is gone."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _accepts(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            sock.connect(path)
            return True
    except OSError:
        return False
