"""The Runtime API emulator's reserved concurrency (``serve --concurrency``): with one slot taken,
another invocation is refused at once (Throttled), not queued; once the first is answered the slot
is free. A stand-in runtime speaks the Runtime API over HTTP to the real emulator; the front door's
throttle answers are checked end to end in tests/e2e/serve/test_serve_concurrency.py."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from typing import Any

import pytest

from wp_lambda.local.gateway import throttle_status
from wp_lambda.local.runtime_api import PREFIX, RuntimeAPI, Throttled


def _runtime(api: RuntimeAPI, events: int, hold: threading.Event) -> None:
    """Answer ``events`` invocations with their own event; the first only once ``hold`` is set."""
    for n in range(events):
        with urllib.request.urlopen(f"http://{api.address}{PREFIX}/invocation/next", timeout=10) as next_:
            request_id = next_.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(next_.read())
        if n == 0:
            hold.wait(10)
        answer = urllib.request.Request(f"http://{api.address}{PREFIX}/invocation/{request_id}/response",
                                        data=json.dumps(event).encode(), method="POST")
        urllib.request.urlopen(answer, timeout=10).close()


def test_an_invocation_beyond_the_reservation_is_throttled_at_once() -> None:
    hold = threading.Event()
    results: list[Any] = []
    with RuntimeAPI(timeout=10, concurrency=1) as api:
        runtime = threading.Thread(target=_runtime, args=(api, 2, hold), daemon=True)
        runtime.start()
        first = threading.Thread(target=lambda: results.append(api.invoke({"n": 1})), daemon=True)
        first.start()
        deadline = time.monotonic() + 10
        while not api._running and time.monotonic() < deadline:  # the runtime holds the first one
            time.sleep(0.05)
        started = time.monotonic()
        with pytest.raises(Throttled, match="1 invocation"):
            api.invoke({"n": 2})
        assert time.monotonic() - started < 0.5
        hold.set()
        first.join(10)
        assert results == [{"n": 1}]
        assert api.invoke({"n": 3}) == {"n": 3}  # the slot is free again
        runtime.join(10)


def test_without_a_reservation_nothing_is_throttled_and_the_front_doors_differ() -> None:
    assert RuntimeAPI().concurrency is None
    # Lambda's own throttle status through a Function URL; an HTTP API's 5xx, which CloudFront can
    # answer with a cached page (stale-if-error).
    assert (throttle_status("function-url"), throttle_status("http-api")) == (429, 503)
