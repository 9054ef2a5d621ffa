"""What the origin-secret check costs: per request that CloudFront sends (the check that lets it
through), and per request that bypasses CloudFront (the whole handler's 403, which is what an
attacker hitting the execute-api URL or the Function URL costs the function).

Run: ``.venv/bin/python -m benchmarks.origin_check [--rounds 200000]``. No PHP, no database: the
check happens before routing, so neither is reached. A page through PHP takes milliseconds
(``benchmarks.runtime``); these are microseconds.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import tempfile
import timeit
from collections.abc import Callable

from tests.support.lambda_events import v2
from wp_lambda.runtime import cgi, contract, events
from wp_lambda.runtime.handler import Runtime


def per_call(fn: Callable[[], object], rounds: int) -> float:
    """Microseconds per call, the best of three runs (the least disturbed by the other processes)."""
    return min(timeit.repeat(fn, number=rounds, repeat=3)) / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200_000)
    args = parser.parse_args()
    secret = secrets.token_hex(24)  # 48 characters, as long as the stack's (OriginSecret, PasswordLength)
    with tempfile.TemporaryDirectory(prefix="wplambda-bench-origin-") as root:
        rt = Runtime({contract.ORIGIN_SECRET_ENV: secret, contract.DOCUMENT_ROOT_ENV: root})
        # The refusal's log line would dominate the measurement and flood the terminal.
        logging.getLogger("wplambda").setLevel(logging.ERROR)
        proven = v2("GET", "/", headers={"X-Wplambda-Origin-Secret": secret})
        adapter = events.detect(proven)
        assert adapter is not None
        request = adapter.to_request(proven)
        wrong = v2("GET", "/wp-login.php", headers={"X-Wplambda-Origin-Secret": secret[:-1] + "?"})
        assert rt.handle(wrong, None)["statusCode"] == 403 and rt.refuse_bypass(request) is None
        rows = [
            ("check, right value (added to each CloudFront request)",
             per_call(lambda: rt.refuse_bypass(request), args.rounds)),
            ("cgi.from_cloudfront alone (hmac.compare_digest)",
             per_call(lambda: cgi.from_cloudfront(request, rt.environ), args.rounds)),
            ("whole handler, wrong value -> 403 (a bypass attempt)",
             per_call(lambda: rt.handle(wrong, None), args.rounds // 10)),
        ]
    for name, micros in rows:
        print(f"{name:<58} {micros:8.2f} us")


if __name__ == "__main__":
    main()
