"""Init-phase warm-up: WordPress is compiled into the opcache before the first visitor arrives.

A cold php-fpm spends most of the first request compiling WordPress (hundreds of files) into
the opcache. Lambda does not bill the init phase the same way and no visitor waits on it, so
the handler requests ``WPLAMBDA_WARM_PATHS`` there, through the very request path an event
takes. php-fpm's opcache lives in shared memory that the master allocates and every worker
inherits by fork, so one worker's compile warms them all.

The warm-up is a bonus, never a condition: it is skipped when the database does not answer
(WordPress would only wait for it, then render an error page that compiles little), it stops at
a deadline well inside Lambda's 10 s init phase, and nothing it does can fail the init.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from wp_lambda.runtime import contract
from wp_lambda.runtime.events import Request, Response

log = logging.getLogger("wplambda")

ENV_PATHS = contract.WARM_PATHS_ENV
DEFAULT_PATHS = ("/",)
# Lambda's init phase is 10 s in all; the handler counts this from the start of its own init
# (php-fpm and the secrets come first), leaving the runtime's bootstrap and a margin.
BUDGET = 6.0
# Long enough for a live server's greeting, short enough that a paused or absent one costs little.
PROBE_TIMEOUT = 1.0
MYSQL_PORT = 3306


@dataclass
class Budget:
    """A stand-in for the Lambda context during init: the time left until the warm-up's deadline."""

    deadline: float

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass
class Report:
    """What a warm-up did: each path's status and time, or why it was skipped."""

    results: list[tuple[str, int, float]] = field(default_factory=list)
    skipped: str = ""
    seconds: float = 0.0


def paths(environ: Mapping[str, str]) -> list[str]:
    """The paths to warm: comma-separated ``WPLAMBDA_WARM_PATHS``; unset means the home page,
    empty means none."""
    value = environ.get(ENV_PATHS)
    if value is None:
        return list(DEFAULT_PATHS)
    return [item.strip() for item in value.split(",") if item.strip()]


def database_address(environ: Mapping[str, str]) -> str | tuple[str, int] | None:
    """Where WordPress will connect, read as wpdb reads ``DB_HOST`` (``host``, ``host:port``,
    ``[v6]:port``, ``localhost:/socket``): a socket path or (host, port); None for a bare
    ``localhost``, whose default socket only PHP knows."""
    host = environ.get(contract.DB_HOST_ENV) or "127.0.0.1"  # wp-config.php's own default
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        rest = rest.removeprefix(":")
    else:
        name, _, rest = host.partition(":")
    if rest.startswith("/"):
        return rest
    if name == "localhost" and not rest:
        return None
    return name, int(rest or environ.get(contract.DB_PORT_ENV) or MYSQL_PORT)


def database_problem(environ: Mapping[str, str], timeout: float = PROBE_TIMEOUT) -> str | None:
    """Why the database cannot serve WordPress right now, or None when it sent its greeting.

    A MySQL server speaks first: a live one sends its handshake (protocol 10) at once, a refusing
    one an error packet (too many connections, a blocked host), and a paused Aurora cluster
    nothing until it has resumed, which is longer than the warm-up can wait.
    """
    try:
        address = database_address(environ)
    except ValueError as exc:
        return f"WORDPRESS_DB_HOST/WORDPRESS_DB_PORT do not name a port: {exc}"
    if address is None:
        return None
    try:
        if isinstance(address, str):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(address)
            except OSError:
                sock.close()
                raise
        else:
            sock = socket.create_connection(address, timeout=timeout)
        with sock:
            head = sock.recv(5)
    except OSError as exc:
        return f"{address}: {type(exc).__name__}: {exc}"
    if len(head) < 5:
        return f"{address} closed the connection before its greeting"
    if head[4] == 0xFF:
        return f"{address} refused the connection (MySQL error packet)"
    return None


def run(serve: Callable[[Request, Budget], Response], environ: Mapping[str, str],
        budget: float = BUDGET) -> Report:
    """Request each warm path through ``serve`` (the handler's HTTP path) until the deadline.

    Never raises: a warm-up that fails only means the first visitor compiles WordPress.
    """
    started = time.monotonic()
    report = Report()
    wanted = paths(environ)
    if not wanted:
        return report
    try:
        problem = database_problem(environ)
        if problem:
            report.skipped = f"the database is unreachable ({problem})"
            log.warning("wplambda: warm-up skipped: %s; the first request will compile WordPress", report.skipped)
            return report
        context = Budget(started + budget)
        host = environ.get(contract.SITE_HOST_ENV) or "localhost"
        for target in wanted:
            if context.get_remaining_time_in_millis() <= 0:
                report.skipped = f"the {budget:g} s deadline passed before {target}"
                log.warning("wplambda: warm-up stopped: %s", report.skipped)
                break
            path, _, query = target.partition("?")
            request = Request("GET", path, query, {"host": [host], "x-forwarded-proto": ["https"]}, b"", "127.0.0.1")
            begun = time.monotonic()
            response = serve(request, context)
            report.results.append((target, response.status, time.monotonic() - begun))
            if response.status >= 500:
                # A 504 has restarted php-fpm (and emptied the opcache); WordPress is failing or too
                # slow right now, and the next path would fare no better.
                report.skipped = f"{target} answered {response.status}"
                log.warning("wplambda: warm-up stopped: %s", report.skipped)
                break
    except Exception:
        log.exception("wplambda: warm-up failed; the first request will compile WordPress")
    report.seconds = time.monotonic() - started
    done = ", ".join(f"{path} {status} in {seconds * 1000:.0f} ms" for path, status, seconds in report.results)
    if done:
        log.info("wplambda: warm-up: %s (%.0f ms in all)", done, report.seconds * 1000)
    return report
