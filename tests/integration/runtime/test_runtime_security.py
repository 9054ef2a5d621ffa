"""Nothing the site must keep leaves it: a traversal and source-disclosure corpus through the
handler on the installed WordPress, plus the routing rules on their own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.lambda_events import SOURCES, Client, Reply
from tests.support.wp_site import Site
from wp_lambda.runtime import routing
from wp_lambda.runtime.handler import Runtime

SENTINEL = "WPLAMBDA-MUST-NOT-LEAK"
# Files planted around the document root, each holding the sentinel.
PLANTED = [".env", ".git/config", ".htaccess", "composer.json", "vendor/composer/installed.json",
           "vendor/autoload.php", "wp-content/debug.log", "wp-content/uploads/shell.phtml",
           "wp-content/uploads/notes.php.bak", "wp-content/backup.sql", ".user.ini"]
# Private files a source tree or a backup plugin leaves in the document root, several of them with
# a type that is otherwise served (json, html, css) or run (php): each must be a 404 from routing.
PRIVATE = ["wp-config.txt", "wp-config.php.txt", "backup.sql.gz", "wp-content/backup-db.sql.gz", "site.tar.gz",
           "wp-content/plugins/akismet/wp-config.json", "wp-config-old.php", "wp-content/themes/x.css.bak",
           "wp-content/updraft/index.html", "wp-content/updraft/backup.css", "wp-content/ai1wm-backups/index.php",
           "wp-content/ai1wm-backups/site.wpress"]

# Must be refused outright (403/404), never reach WordPress or the disk.
REFUSED = [
    "/wp-config.php", "/WP-CONFIG.PHP", "/wp-config.php/", "/wp-config.php/x", "/wp-config-sample.php",
    "/.env", "/%2eenv", "/.git/config", "/.git/", "/.htaccess", "/.user.ini", "/composer.json",
    "/vendor/autoload.php", "/vendor/composer/installed.json", "/wp-content/debug.log",
    "/wp-content/backup.sql", "/wp-content/uploads/notes.php.bak",
    "/../outside.txt", "/%2e%2e/outside.txt", "/%2E%2E/outside.txt", "/%252e%252e/outside.txt",
    "/%25252e%25252e/outside.txt", "/..%2foutside.txt", "/..%5coutside.txt", "/wp-content/..%2f..%2foutside.txt",
    "/wp-content/%2e%2e/%2e%2e/outside.txt", "/wp-includes/..\\..\\outside.txt", "//etc/passwd",
    "/wp-admin//../wp-config.php", "/wp-config.php%00.txt", "/index.php%00.css", "/wp-config.php\x00.png",
    "/./wp-config.php", "/wp-admin/../wp-config.php", "/.well-known/../wp-config.php",
    "/wp-content/link.txt", "/wp-content/linkdir/outside.txt", "/%c0%ae%c0%ae/outside.txt",
    "/wp-content/uploads/shell.phtml",
]
# May reach WordPress (which answers 404 or runs the script) but must never return source.
ANSWERED = ["/wp-includes/version.php", "/wp-config.php.swp", "/wp-config.php~", "/index.phps",
            "/wp-login.php", "/wp-includes/ms-files.php/../../wp-config.php", "/xmlrpc.php",
            "/wp-config.php%20"]


@pytest.fixture(scope="module")
def planted(site: Site) -> Iterator[Site]:
    for rel in PLANTED + PRIVATE:
        path = site.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<?php // {SENTINEL} {rel}\n")
    outside = site.root.parent / "outside.txt"
    outside.write_text(SENTINEL)
    (site.root / "wp-content/link.txt").symlink_to(outside)
    (site.root / "wp-content/linkdir").symlink_to(site.root.parent)
    yield site
    for rel in PLANTED + PRIVATE:
        (site.root / rel).unlink()
    for folder in ("wp-content/updraft", "wp-content/ai1wm-backups"):
        (site.root / folder).rmdir()
    for rel in ("wp-content/link.txt", "wp-content/linkdir"):
        (site.root / rel).unlink()
    outside.unlink()


def _leaks(reply: Reply, site: Site) -> list[str]:
    found = []
    text = reply.text
    for marker in (SENTINEL, "<?php", "DB_PASSWORD", "wplambda_env", "root:x:0:0",
                   site.db_password, site.environ["WORDPRESS_SALT"]):
        if marker in text:
            found.append(marker)
    return found


def test_corpus_is_large_enough() -> None:
    assert len(REFUSED) + len(ANSWERED) >= 30


@pytest.mark.parametrize("path", REFUSED)
def test_refused(runtime: Runtime, installed: Reply, planted: Site, path: str) -> None:
    for source in ("v2", "v1"):
        reply = Client(runtime.handle, SOURCES[source]).get(path)
        assert reply.status in (403, 404), (source, path, reply.status, reply.text[:200])
        assert not _leaks(reply, planted)


@pytest.mark.parametrize("path", ANSWERED)
def test_never_source(runtime: Runtime, installed: Reply, planted: Site, path: str) -> None:
    reply = Client(runtime.handle).get(path)
    assert not _leaks(reply, planted), (path, reply.status)


@pytest.mark.parametrize("rel", [*PRIVATE, "wp-content/updraft/", "wp-content/ai1wm-backups/"])
def test_private_files_on_disk_are_404_before_php(runtime: Runtime, installed: Reply, planted: Site, rel: str) -> None:
    """Under serve and deployed alike: the handler refuses them itself, whatever their type."""
    assert routing.route(str(planted.root.resolve()), f"/{rel}", "") == routing.Route("deny", status=404)
    for source in ("v2", "v1"):
        reply = Client(runtime.handle, SOURCES[source]).get(f"/{rel}")
        assert reply.status == 404 and not _leaks(reply, planted), (source, rel, reply.status)


def test_a_private_looking_url_with_no_file_still_reaches_wordpress(tmp_path: Path) -> None:
    """Plugins answer virtual URLs such as /sitemap.xml.gz; only files on disk are refused."""
    (tmp_path / "index.php").write_text("<?php")
    real = os.path.realpath(tmp_path)
    for path in ("/sitemap.xml.gz", "/download/report.zip", "/wp-content/updraft/"):
        assert routing.route(real, path, "").script_name == "/index.php", path


def test_static_files_in_the_tree_are_still_served(runtime: Runtime, installed: Reply, planted: Site) -> None:
    """The corpus must not pass by refusing everything."""
    reply = Client(runtime.handle).get("/wp-includes/js/jquery/jquery.min.js")
    assert reply.status == 200 and reply.body == (planted.root / "wp-includes/js/jquery/jquery.min.js").read_bytes()


@pytest.mark.parametrize(("raw", "expected"), [
    ("/a/b", False), ("/a%20b/", False), ("/100%25-sure/", False), ("/%e6%97%a5/", False),
    ("/a/../b", True), ("/a/%2e%2e/b", True), ("/a/%252e%252e/b", True), ("/a\\b", True), ("/a%5cb", True),
    ("/a%00b", True), ("//a", True), ("/a/./b", True), ("/a%2f%2fb", True),
])
def test_unsafe_paths(raw: str, expected: bool) -> None:
    assert routing.unsafe(raw) is expected


def test_route_like_try_files(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "dir").mkdir(parents=True)
    (root / "index.php").write_text("<?php")
    (root / "dir/index.php").write_text("<?php")
    (root / "script.php").write_text("<?php")
    (root / "style.css").write_text("a{}")
    (root / "module.wasm").write_bytes(b"\0asm")
    (root / "secret.bak").write_text("x")
    (root / "empty").mkdir()
    real = os.path.realpath(root)
    assert routing.route(real, "/script.php/extra/path", "") == routing.Route(
        "php", "/script.php", f"{real}/script.php", "/extra/path")
    assert routing.route(real, "/dir/", "") == routing.Route("php", "/dir/index.php", f"{real}/dir/index.php")
    assert routing.route(real, "/dir", "x=1") == routing.Route("redirect", status=301, location="/dir/?x=1")
    assert routing.route(real, "/style.css", "").kind == "static"
    assert routing.route(real, "/module.wasm", "").kind == "static"
    assert routing.route(real, "/secret.bak", "").status == 404  # private, and not a static type
    (root / "notes.txt").write_text("x")
    (root / "ca.crt").write_text("x")
    for unlisted in ("/notes.txt", "/ca.crt"):  # known types, but not static ones: PHP reads them
        assert routing.route(real, unlisted, "").status == 404, unlisted
    for front in ("/no/such/page/", "/empty/", "/missing.php/x", "/"):
        assert routing.route(real, front, "").script_name == "/index.php", front


def test_runtime_imports_only_the_standard_library() -> None:
    """The runtime ships in the layer next to nothing but Python itself (boto3 only lazily)."""
    import subprocess
    import sys

    code = ("import sys; before = set(sys.modules); import wp_lambda.runtime.handler, wp_lambda.runtime.secrets; "
            "print('\\n'.join(sorted({m.split('.')[0] for m in set(sys.modules) - before}"
            " - set(sys.stdlib_module_names))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["wp_lambda"]
