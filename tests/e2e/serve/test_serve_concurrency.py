"""`serve --concurrency N`: the site function's reserved concurrency, emulated with real parts.

A project on a copy of Debian's WordPress with one slow PHP page (it sleeps), served by two handler
processes but a cap of one: of two requests in flight at once, the second is throttled at once with
the front door's answer (503 behind the default HTTP API), while the first is answered by PHP;
static files never reach the function, and once the first is done the function takes requests again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.helpers import copy_wordpress
from tests.support.serve import Served, fetch, init_site, serving

SLEEP_PAGE = "wplambda-sleep.php"


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory, debian_wordpress: Path) -> Iterator[Served]:
    base = tmp_path_factory.mktemp("concurrency")
    source = copy_wordpress(base / "wordpress")
    (source / SLEEP_PAGE).write_text("<?php sleep((int)($_GET['s'] ?? 3)); echo 'slept';\n")
    project = init_site(base / "site", "capped", "--wordpress-source", str(source))
    with serving(project, "--workers", "2", "--concurrency", "1") as server:
        yield server


def test_the_banner_names_the_cap(capped: Served) -> None:
    banner = " ".join("".join(capped.output).split())
    assert ("concurrency: 1 request(s) in the site's function at once, as reserved concurrency; the rest get 503 "
            "(http-api's throttle answer)") in banner


def test_a_request_beyond_the_cap_is_throttled_while_one_runs(capped: Served) -> None:
    slow: dict[str, tuple[int, bytes]] = {}

    def first() -> None:
        status, _, body = fetch(f"{capped.url}/{SLEEP_PAGE}?s=4")
        slow["answer"] = (status, body)

    thread = threading.Thread(target=first)
    thread.start()
    time.sleep(1.5)  # the first is in PHP's sleep now: the one slot is taken
    started = time.monotonic()
    status, headers, body = fetch(f"{capped.url}/{SLEEP_PAGE}?s=0")
    assert (status, body) == (503, b'{"message": "Service Unavailable"}')
    assert headers["content-type"] == "application/json"
    assert time.monotonic() - started < 1.0  # refused at once, not queued behind the first
    # A static file is CloudFront's and the bucket's, never the function's: not throttled.
    assert fetch(f"{capped.url}/wp-includes/js/jquery/jquery.min.js")[0] == 200
    thread.join(timeout=30)
    assert slow["answer"] == (200, b"slept")
    # The slot is free again (asked under another key: the gateway's page cache, as CloudFront's,
    # keeps the 503 of ?s=0 for its 10 s of error caching).
    assert fetch(f"{capped.url}/{SLEEP_PAGE}?s=0&again")[:1] == (200,)
