"""A stand-in for wordpress.org's plugin and theme directories on 127.0.0.1.

It answers the two requests the kit makes, the same way the real services do:
``GET /plugins/info/1.2/?action=plugin_information&request[slug]=SLUG`` (``/themes/info/1.2/``
with ``theme_information``) with a JSON object carrying ``slug``, ``version`` (the newest
release) and ``download_link``, or an ``error`` member and a 404 for an unknown slug; and
``GET /plugin/SLUG.VERSION.zip`` (``/theme/...``), downloads.wordpress.org's layout. The zips are
made here: a one-file plugin and a minimal classic theme, each stating its version in its header.
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.parse
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PLUGIN = "hello-wplambda"
THEME = "wplambda-plain"


def plugin_files(slug: str, version: str, extra: str = "") -> dict[str, str]:
    return {f"{slug}/{slug}.php": f"<?php\n/*\n * Plugin Name: {slug}\n * Version: {version}\n */\n{extra}"}


def theme_files(slug: str, version: str) -> dict[str, str]:
    return {f"{slug}/style.css": f"/*\nTheme Name: {slug}\nVersion: {version}\n*/\n",
            f"{slug}/index.php": "<?php\necho '<p>plain theme</p>';\n"}


@dataclass
class Directory:
    root: Path
    url: str = ""
    latest: dict[tuple[str, str], str] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def publish(self, kind: str, slug: str, version: str, files: dict[str, str] | None = None) -> Path:
        """Put a release's zip in place and make it the version the directory states as latest."""
        files = files or (plugin_files(slug, version) if kind == "plugin" else theme_files(slug, version))
        path = self.root / kind / f"{slug}.{version}.zip"
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, text in files.items():
                zf.writestr(name, text)
        self.latest[(kind, slug)] = version
        return path

    def answer(self, path: str, query: str) -> tuple[int, bytes, str]:
        self.requests.append(f"{path}?{query}")
        for kind in ("plugin", "theme"):
            if path == f"/{kind}s/info/1.2/":
                params = urllib.parse.parse_qs(query)
                slug = (params.get("request[slug]") or params.get("slug") or [""])[0]
                if params.get("action") != [f"{kind}_information"]:
                    return 400, json.dumps({"error": "Action not implemented."}).encode(), "application/json"
                version = self.latest.get((kind, slug))
                if version is None:
                    body = {"error": f"{kind.capitalize()} not found."}
                    return 404, json.dumps(body).encode(), "application/json"
                body = {"name": slug, "slug": slug, "version": version,
                        "download_link": f"{self.url}/{kind}/{slug}.{version}.zip"}
                return 200, json.dumps(body).encode(), "application/json"
        file = self.root / path.lstrip("/")
        if path.endswith(".zip") and ".." not in path and file.is_file():
            return 200, file.read_bytes(), "application/zip"
        return 404, b"not found", "text/plain"


@contextmanager
def serve_directory(root: Path) -> Iterator[Directory]:
    directory = Directory(root)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            status, body, content_type = directory.answer(parts.path, parts.query)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    directory.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield directory
    finally:
        server.shutdown()
        server.server_close()
