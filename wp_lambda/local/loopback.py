"""An HTTP server of the local stand-ins (Runtime API, Lambda invoke endpoint) served from a
daemon thread of the process that owns it, so that process's own code can reach it and stop it."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer:
    """``handler`` on ``host:port`` (port 0: any free one), one thread per connection."""

    def __init__(self, host: str, port: int, handler: type[BaseHTTPRequestHandler], name: str) -> None:
        self.name = name
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True

    @property
    def address(self) -> str:
        """``host:port`` as bound."""
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}" if isinstance(host, str) else f"{host.decode()}:{port}"

    def start(self) -> None:
        threading.Thread(target=self._server.serve_forever, name=self.name, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
