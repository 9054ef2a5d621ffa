"""Helpers for the serve tests: start `wplambda serve` as a user would, find its processes, fetch pages."""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import re
import signal
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from tests.support.helpers import DEBIAN_WORDPRESS, run_wplambda, wplambda_cmd
from tests.support.ports import free_port

ADMIN_PASSWORD = "correct-horse-battery-staple"


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (read from /proc), so a test can check they all stopped."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@dataclass
class Served:
    """A running `wplambda serve` subprocess."""

    project: Path
    port: int
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def all_pids(self) -> set[int]:
        """serve, its children (handlers, php-fpm) and MariaDB (its own session, recorded in a pid file)."""
        pids = {self.process.pid} | descendants(self.process.pid)
        for pid_file in (self.project / ".wplambda" / "local" / "run").glob("*.pid"):
            pid = int(pid_file.read_text())
            pids |= {pid} | descendants(pid)
        return pids

    def drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def stop(self, sig: int = signal.SIGTERM) -> str:
        self.process.send_signal(sig)
        self.process.wait(timeout=60)
        if self.reader is not None:
            self.reader.join(timeout=10)
        return "".join(self.output)


def start_serve(project: Path, port: int, *args: str, timeout: float = 240) -> Served:
    """Start `wplambda serve` (with this process's environment) and wait until it is serving."""
    process = subprocess.Popen([*wplambda_cmd(), "serve", "--project", str(project), "--port", str(port), *args],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "COLUMNS": "200"})
    served = Served(project, port, process)
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        served.output.append(line)
        if "Ctrl-C stops everything" in line:
            # Keep draining: serve logs every request, and a full pipe would stall it.
            served.reader = threading.Thread(target=served.drain, daemon=True)
            served.reader.start()
            return served
    process.kill()
    raise AssertionError("serve did not start:\n" + "".join(served.output) + (process.stdout.read() or ""))


def invoke_env(project: Path) -> dict[str, str]:
    """What boto3 (and so `wplambda ... --stack`) needs to call the project's running invoke
    endpoint: its URL and this run's key pair, read from serve's 0600 state file as a user would."""
    state = json.loads((project / ".wplambda" / "local" / "run" / "invoke.json").read_text())
    return {"AWS_ENDPOINT_URL_LAMBDA": state["endpoint_url"], "AWS_ACCESS_KEY_ID": state["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": state["secret_access_key"]}


def init_site(root: Path, name: str, *init_args: str) -> Path:
    """`wplambda init --yes` of a project on Debian's WordPress tree, through the console script."""
    result = run_wplambda("init", str(root), "--yes", "--name", name,
                          "--wordpress-source", str(DEBIAN_WORDPRESS), *init_args)
    assert result.returncode == 0, result.stderr
    return root


@contextlib.contextmanager
def serving(project: Path, *args: str) -> Iterator[Served]:
    """A `wplambda serve` for the duration of a fixture, stopped afterwards unless a test already did."""
    server = start_serve(project, free_port(), *args)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.stop()


def fetch(url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None,
          opener: urllib.request.OpenerDirector | None = None, method: str | None = None
          ) -> tuple[int, dict[str, str], bytes]:
    """One request; HTTP errors are answers too."""
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=60) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def title_of(html: bytes) -> str:
    match = re.search(rb"<title>(.*?)</title>", html, re.S)
    return match.group(1).decode(errors="replace") if match else ""


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Let a test see redirects instead of following them."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def login(served: Served, user: str = "admin", password: str = ADMIN_PASSWORD) -> urllib.request.OpenerDirector:
    """Log in (as admin unless told) through wp-login.php; an opener that carries the logged-in cookies."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())
    fetch(f"{served.url}/wp-login.php", opener=opener)  # sets the test cookie
    form = urllib.parse.urlencode({"log": user, "pwd": password, "wp-submit": "Log In",
                                   "redirect_to": f"{served.url}/wp-admin/", "testcookie": "1"}).encode()
    status, headers, _ = fetch(f"{served.url}/wp-login.php", data=form, opener=opener)
    assert status == 302, f"login failed with {status}"
    assert headers["location"].startswith(f"{served.url}/wp-admin/")  # a subscriber lands on profile.php
    assert any(c.name.startswith("wordpress_logged_in_") for c in jar)
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def s3_client(endpoint: str) -> Any:
    """A boto3 S3 client for moto's server (credentials from the environment the fixture set)."""
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def mp4(path: Path, size: int) -> Path:
    """An MP4 of about ``size`` bytes: an ISO BMFF ``ftyp`` box, then an ``mdat`` box of random bytes.

    Random bytes alone would be sniffed by PHP's fileinfo as whatever magic they happen to match
    (usually nothing), and WordPress, which checks an upload's real type, then refuses it now and then.
    """
    payload = os.urandom(max(size - 32, 0))
    ftyp = struct.pack(">I4s4sI4s4s", 24, b"ftyp", b"isom", 0x200, b"isom", b"mp42")
    path.write_bytes(ftyp + struct.pack(">I4s", 8 + len(payload), b"mdat") + payload)
    return path


def jpeg(path: Path, width: int, height: int, *, block: int = 8) -> Path:
    """A JPEG of random ``block``-pixel squares, drawn by Debian's PHP with GD (no imaging library
    in the tests). Random content keeps it from compressing: with ``block=1`` a 1800x1200 image
    is over 4 MB."""
    script = (f"$i = imagecreatetruecolor({width}, {height}); $b = {block};"
              f"for ($y = 0; $y < {height}; $y += $b) for ($x = 0; $x < {width}; $x += $b)"
              " imagefilledrectangle($i, $x, $y, $x + $b - 1, $y + $b - 1, mt_rand(0, 0xffffff));"
              f"imagejpeg($i, {str(path)!r}, 92);")
    subprocess.run(["php", "-r", script], check=True)
    return path


def jpeg_dimensions(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's start-of-frame segment."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    at = 2
    while at < len(data):
        marker, length = data[at + 1], int.from_bytes(data[at + 2:at + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            return int.from_bytes(data[at + 7:at + 9], "big"), int.from_bytes(data[at + 5:at + 7], "big")
        at += 2 + length
    raise AssertionError("no start-of-frame segment")


def new_post_in_block_editor(page: Any, url: str, title: str) -> None:
    """Open the block editor on a new post (dismissing the welcome guide) and type its title;
    the caret is left in the title."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(f"{url}/wp-admin/post-new.php")
    title_field = page.locator(".editor-post-title__input, h1.wp-block-post-title").first
    title_field.wait_for(state="attached")
    guide = page.locator(".edit-post-welcome-guide")
    try:
        guide.wait_for(state="visible", timeout=10_000)
        guide.locator("button[aria-label='Close dialog']").click()
        guide.wait_for(state="hidden")
    except PlaywrightTimeout:
        pass  # the guide was dismissed before (it is a per-user preference)
    title_field.click()
    page.keyboard.type(title)


def publish_in_block_editor(page: Any) -> None:
    """Publish twice (the pre-publish panel) and wait until WordPress says the post is live."""
    from playwright.sync_api import expect

    page.locator(".editor-post-publish-panel__toggle, .editor-post-publish-button__button").first.click()
    page.locator(".editor-post-publish-panel .editor-post-publish-button").click()
    expect(page.locator(".post-publish-panel__postpublish-header")).to_contain_text("is now live")
