"""`wplambda serve --install` end to end, over HTTP, with the real handler, php-fpm and MariaDB."""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.parse
import urllib.request

from tests.support.helpers import run_wplambda
from tests.support.serve import (
    ADMIN_PASSWORD,
    NoRedirect,
    Served,
    fetch,
    free_port,
    login,
    pid_alive,
    start_serve,
    title_of,
)


def test_home_page_through_the_handler(served: Served) -> None:
    status, headers, body = fetch(f"{served.url}/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert "My Blog" in title_of(body)
    # A themed page, not just a 200 (a site without a theme answers 200 with nothing). Twenty
    # Twenty-Three is a block theme: its stylesheet is the global-styles block WordPress builds from
    # its theme.json, with the theme's own fonts, and the site title is rendered by its header.
    style = re.search(rb"<style id='global-styles-inline-css'>(.*?)</style>", body, re.S)
    assert style and b"--wp--preset--font-family--source-serif-pro" in style.group(1)  # from its theme.json
    assert b"url('/wp-content/themes/twentytwentythree/assets/fonts/" in body
    assert re.search(rb'class="wp-block-site-title"><a [^>]*>My Blog</a>', body)


def test_install_printed_credentials_once(served: Served) -> None:
    output = "".join(served.output)
    assert "user admin" in output and ADMIN_PASSWORD in output
    assert f"http://127.0.0.1:{served.port}/wp-admin/" in output


def test_login_dashboard_and_rest_post_appears_on_home(served: Served) -> None:
    opener = login(served)
    status, _, dashboard = fetch(f"{served.url}/wp-admin/", opener=opener)
    assert status == 200
    assert b"Dashboard" in dashboard and b"wp-admin-bar" in dashboard
    status, _, nonce = fetch(f"{served.url}/wp-admin/admin-ajax.php?action=rest-nonce", opener=opener)
    assert status == 200 and re.fullmatch(rb"[0-9a-f]{10}", nonce)
    title = f"Served through Lambda {time.time_ns()}"
    post = json.dumps({"title": title, "content": "Hello from the e2e test.", "status": "publish"}).encode()
    status, _, created = fetch(f"{served.url}/?rest_route=/wp/v2/posts", data=post, opener=opener,
                               headers={"Content-Type": "application/json", "X-WP-Nonce": nonce.decode()})
    assert status == 201, created[:500]
    assert json.loads(created)["status"] == "publish"
    status, _, home = fetch(f"{served.url}/")
    assert status == 200 and title.encode() in home
    served.project.joinpath("post-title.txt").write_text(title)


def test_static_file_from_assets_with_caching_headers(served: Served) -> None:
    status, headers, body = fetch(f"{served.url}/wp-includes/css/dashicons.min.css?ver=6.1")
    assert status == 200
    assert headers["content-type"].split(";")[0] == "text/css"
    assert "max-age=31536000" in headers["cache-control"]
    assert body.startswith(b"/*") and len(body) > 10000
    status, _, _ = fetch(f"{served.url}/wp-includes/css/dashicons.min.css",
                         headers={"If-None-Match": headers["etag"]})
    assert status == 304


def test_static_paths_never_leak_php_or_config(served: Served) -> None:
    for path in ("/wp-includes/version.php", "/wp-content/../wp-config.php", "/wp-content/%2e%2e/wp-config.php"):
        status, _, body = fetch(f"{served.url}{path}")
        assert b"DB_PASSWORD" not in body and b"<?php" not in body, path
        assert status in (200, 403, 404)


def test_missing_page_gets_wordpress_404(served: Served) -> None:
    status, _, body = fetch(f"{served.url}/no-such-page-{time.time_ns()}/")
    assert status == 404
    assert b"<html" in body and b"wp-content/themes" in body  # the theme's 404, not the gateway's


def test_local_secrets_stay_out_of_logs_output_and_build(served: Served) -> None:
    local = served.project / ".wplambda" / "local"
    secrets_file = local / "secrets.json"
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    values = json.loads(secrets_file.read_text())
    assert len(values["db_password"]) >= 20 and len(values["salt"]) >= 40
    build = served.project / ".wplambda" / "build-serve"
    places = [*local.joinpath("logs").rglob("*.log"), build / "function.zip", build / "layer.zip",
              build / "function" / "wp-config.php"]
    for value in values.values():
        assert value not in "".join(served.output)
        for place in places:
            assert value.encode() not in place.read_bytes(), place
    assert ".wplambda/" in (served.project / ".gitignore").read_text()


def test_port_in_use_is_a_clear_error(served: Served) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_wplambda("serve", "--project", str(served.project), "--port", str(port))
    assert result.returncode == 2
    assert "already" in result.stderr  # the project is being served by the fixture
    other = served.project.parent / "other"
    assert run_wplambda("init", str(other), "--yes", "--wordpress-source", "/usr/share/wordpress").returncode == 0
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_wplambda("serve", "--project", str(other), "--port", str(port), "--no-build")
    assert result.returncode == 2
    assert f"127.0.0.1:{port}" in result.stderr and "--port" in result.stderr


def test_sigterm_stops_everything_and_restart_keeps_the_post(served: Served) -> None:
    test_login_dashboard_and_rest_post_appears_on_home(served)
    title = served.project.joinpath("post-title.txt").read_text()
    pids = served.all_pids()
    assert len(pids) >= 5  # serve, 2 handlers, their php-fpm, MariaDB
    output = served.stop()
    assert served.process.returncode == 0, output[-2000:]
    deadline = time.monotonic() + 10
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p for p in pids if pid_alive(p)] == []
    run = served.project / ".wplambda" / "local" / "run"
    assert list(run.glob("*.pid")) == [] and list(run.glob("*.sock")) == []

    again = start_serve(served.project, free_port(), "--workers", "1")
    try:
        status, _, home = fetch(f"{again.url}/")
        assert status == 200 and title.encode() in home
    finally:
        again.stop()


def test_a_killed_serve_is_cleaned_up_by_the_next_run_and_reset_wipes_the_data(served: Served) -> None:
    crashed = start_serve(served.project, free_port(), "--workers", "1", "--no-build")
    orphans = crashed.all_pids() - {crashed.process.pid}
    crashed.process.kill()  # SIGKILL: no chance to clean up
    crashed.process.wait(timeout=30)
    # MariaDB (its own session) lives on, php-fpm and the handlers usually too; a handler may also exit
    # on its own once its Runtime API is gone, so the check asks that some do, not every one.
    assert any(pid_alive(p) for p in orphans), orphans

    again = start_serve(served.project, free_port(), "--workers", "1", "--no-build")
    try:
        assert "stopped processes left by an earlier run" in "".join(again.output)
        assert [p for p in orphans if pid_alive(p)] == []
        status, _, _ = fetch(f"{again.url}/")
        assert status == 200
    finally:
        again.stop()

    reset = start_serve(served.project, free_port(), "--workers", "1", "--no-build", "--reset", "--yes")
    try:
        assert "deleted" in "".join(reset.output)
        status, headers, _ = fetch(f"{reset.url}/", opener=urllib.request.build_opener(NoRedirect()))
        assert status == 302 and headers["location"].endswith("/wp-admin/install.php")
    finally:
        reset.stop()
