"""A private MariaDB server on a unix socket, owned by the calling process.

``serve``, the build's wp-cli step and the tests all need a real MySQL that touches no system
service and needs no root password: ``mariadb-install-db`` into a directory of our own, then
``mariadbd --no-defaults`` with networking off. The server is stopped by PID, never by name.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from wp_lambda.common.errors import UserError
from wp_lambda.local.processes import alive

_SBIN = ("/usr/sbin", "/usr/local/sbin", "/usr/bin")
INSTALL_HINT = "install it with: sudo apt-get install mariadb-server (or run `make setup`)"
_SOCKET_MAX = 100  # sun_path is 108 bytes; leave room


def find_binary(name: str) -> str:
    """Locate a MariaDB binary on PATH or in the sbin directories PATH often lacks."""
    found = shutil.which(name) or next(
        (str(Path(d) / name) for d in _SBIN if (Path(d) / name).is_file()), None)
    if not found:
        raise UserError(f"{name} not found", INSTALL_HINT)
    return found


def _socket_answers(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            sock.connect(str(path))
            return True
    except OSError:
        return False


@dataclass
class MariaDB:
    """A running private server. Use :meth:`start`; stop with :meth:`stop` (or as a context manager)."""

    datadir: Path
    socket: Path
    pid: int
    log: Path
    _process: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, datadir: Path, *, timeout: float = 30.0, socket_path: Path | None = None) -> MariaDB:
        """Initialise ``datadir`` on first use, start the server and wait until it answers."""
        datadir = datadir.resolve()
        datadir.mkdir(parents=True, exist_ok=True)
        user = getpass.getuser()
        log = datadir.parent / f"{datadir.name}.log"
        # A temp dir of its own: servers sharing /tmp collide on their temporary table files
        # (seen as "Could not remove temporary table" aborting mariadb-install-db).
        tmpdir = datadir.parent / f"{datadir.name}.tmp"
        tmpdir.mkdir(exist_ok=True)
        if not (datadir / "mysql").is_dir():
            install = find_binary("mariadb-install-db")
            result = subprocess.run(
                [install, "--no-defaults", f"--datadir={datadir}", f"--user={user}", f"--tmpdir={tmpdir}",
                 "--auth-root-authentication-method=socket", "--skip-test-db"],
                capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise UserError(f"mariadb-install-db failed for {datadir}:\n{result.stderr.strip()[-2000:]}",
                                f"remove {datadir} and try again")
        if socket_path is None:
            socket_path = datadir / "mysqld.sock"
            if len(str(socket_path)) > _SOCKET_MAX:
                socket_path = Path(tempfile.mkdtemp(prefix="wplambda-db-")) / "mysqld.sock"
        pid_file = datadir / "mysqld.pid"
        stale = _read_pid(pid_file)
        if stale and alive(stale):
            raise UserError(f"a MariaDB server (pid {stale}) is already running on {datadir}",
                            f"stop it (kill {stale}) or wait for the other command to finish")
        for leftover in (pid_file, socket_path):
            leftover.unlink(missing_ok=True)
        cmd = [find_binary("mariadbd"), "--no-defaults", f"--datadir={datadir}", f"--socket={socket_path}",
               "--skip-networking", f"--pid-file={pid_file}", f"--log-error={log}", f"--tmpdir={tmpdir}",
               "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=16M", "--skip-log-bin",
               "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci"]
        if os.geteuid() == 0:
            cmd.append("--user=root")
        process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        server = cls(datadir, socket_path, process.pid, log, process)
        deadline = time.monotonic() + timeout
        while not _socket_answers(socket_path):
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise UserError(f"MariaDB did not start on {socket_path}:\n{tail}",
                                f"see {log}; remove {datadir} to start from an empty database")
            time.sleep(0.05)
        return server

    def sql(self, statement: str, *, database: str | None = None) -> str:
        """Run SQL as the socket-authenticated admin and return the tab-separated output."""
        cmd = [find_binary("mariadb"), "--no-defaults", f"--socket={self.socket}", f"--user={getpass.getuser()}",
               "--batch", "--skip-column-names", "-e", statement]
        if database:
            cmd.append(database)
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"SQL failed: {result.stderr.strip()}")
        return result.stdout

    def ensure_database(self, name: str, user: str, password: str) -> None:
        """Create the database and a password user for it (idempotent; the password is reset)."""
        quoted_pw = password.replace("\\", "\\\\").replace("'", "\\'")
        self.sql(
            f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
            f"CREATE USER IF NOT EXISTS '{user}'@'localhost' IDENTIFIED BY '{quoted_pw}';"
            f"ALTER USER '{user}'@'localhost' IDENTIFIED BY '{quoted_pw}';"
            f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{user}'@'localhost'; FLUSH PRIVILEGES;")

    @property
    def wordpress_host(self) -> str:
        """``DB_HOST`` for WordPress: ``localhost`` plus the socket path."""
        return f"localhost:{self.socket}"

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM by PID, wait, then SIGKILL; remove the socket either way."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(self.pid) and time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                break
            time.sleep(0.05)
        if alive(self.pid):
            os.kill(self.pid, signal.SIGKILL)
        if self._process is not None:
            self._process.wait(timeout=5)
        self.socket.unlink(missing_ok=True)

    def __enter__(self) -> MariaDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None

