"""Ports for servers a test starts later (serve's gateway, its invoke endpoint, a mirror), or for
an address where nothing listens.

Asking the kernel for port 0 and closing the socket hands out an *ephemeral* port, and the kernel
gives those to outgoing connections too: between the check and the server's bind, a client socket
of another xdist worker (moto, MariaDB, a download) can take it, and serve then dies with "address
already in use" (seen with three workers). So ports come from below the ephemeral range, each
xdist worker from a block of its own, walked in order so one worker never reuses a port it just
released.
"""

from __future__ import annotations

import itertools
import os
import random
import socket
from pathlib import Path

BASE = 20_000
BLOCK = 1_000
# Each process starts at its own place in its block, so two test sessions run side by side (two
# checkouts, no xdist) rarely meet on one port.
_turn = itertools.count(random.randrange(BLOCK))


def _ephemeral_start() -> int:
    """The first port of the kernel's ephemeral range (Linux: ip_local_port_range)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def _worker_index() -> int:
    """0 for ``gw0`` (or no xdist), 1 for ``gw1``, ..."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port on 127.0.0.1 where nothing listens now and no outgoing connection will land."""
    start = BASE + _worker_index() * BLOCK
    if start + BLOCK <= _ephemeral_start():
        for _ in range(BLOCK):
            port = start + next(_turn) % BLOCK
            if _bindable(port):
                return port
    # Too many workers for the blocks below the ephemeral range: the kernel's choice, with its race.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
