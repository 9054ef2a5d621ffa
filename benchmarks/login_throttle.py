"""What the hardening mu-plugin costs a normal login: time to the dashboard with and without it.

Run: ``.venv/bin/python -m benchmarks.login_throttle [--rounds 20]``. It creates a throwaway
project from Debian's WordPress, starts ``wplambda serve --install`` (real php-fpm and MariaDB),
makes the throttle's table exist (one failed login from another address, as on any live site),
then times a person's login, again and again: GET wp-login.php, POST the right password, GET
the dashboard it redirects to. Rounds alternate between the mu-plugin in place and the mu-plugin
moved out of serve's tree (WordPress lists mu-plugins on each request, so this is "without" from
the next request on), so a change in the machine's load hits both sides alike. The runtime's own
walls (the refusals before PHP, SameSite on cookies) stay on in both: they are microseconds.
"""

from __future__ import annotations

import argparse
import http.client
import http.cookiejar
import statistics
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from benchmarks.served import served_site

PASSWORD = "benchmark-admin-password-1"
MU_PLUGIN = "wplambda-hardening.php"


def to_dashboard(url: str) -> float:
    """Seconds from the login page to the dashboard, as a browser with no cookies yet goes."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = urllib.parse.urlencode({"log": "admin", "pwd": PASSWORD, "wp-submit": "Log In", "testcookie": "1",
                                   "redirect_to": f"{url}/wp-admin/"}).encode()
    started = time.perf_counter()
    opener.open(f"{url}/wp-login.php", timeout=60).read()
    with opener.open(f"{url}/wp-login.php", data=form, timeout=60) as response:  # follows the 302
        page = response.read()
        landed = response.url
    elapsed = time.perf_counter() - started
    if landed != f"{url}/wp-admin/" or b"Dashboard" not in page:
        raise RuntimeError(f"the login did not reach the dashboard (landed on {landed})")
    return elapsed


def fail_once(url: str) -> None:
    """One failed login from 127.0.0.2: the throttle's table exists, with a row, as on a live site."""
    port = int(urllib.parse.urlsplit(url).port or 80)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=("127.0.0.2", 0))
    connection.request("POST", "/wp-login.php", urllib.parse.urlencode({"log": "someone", "pwd": "guess"}),
                       {"Content-Type": "application/x-www-form-urlencoded"})
    connection.getresponse().read()
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="logins timed on each side")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wplambda-login-") as tmp, \
            served_site(Path(tmp), "login", "--admin-password", PASSWORD, "--workers", "1") as site:
        plugin = site.project / ".wplambda" / "build-serve" / "function" / "wp-content" / "mu-plugins" / MU_PLUGIN
        parked = Path(tmp) / MU_PLUGIN
        if not plugin.is_file():
            raise RuntimeError(f"no {plugin}: serve's tree has moved")
        fail_once(site.url)
        times: dict[bool, list[float]] = {True: [], False: []}
        for rounds, keep in ((2, None), (args.rounds, times)):  # two rounds warm the opcache, unrecorded
            for _ in range(rounds):
                for side in (True, False):
                    if not side:
                        plugin.rename(parked)
                    try:
                        elapsed = to_dashboard(site.url)
                    finally:
                        if not side:
                            parked.rename(plugin)
                    if keep is not None:
                        keep[side].append(elapsed)
    with_ms, without_ms = (statistics.median(times[side]) * 1000 for side in (True, False))
    print(f"time to the dashboard (GET wp-login.php, POST, GET /wp-admin/), median of {args.rounds} each, "
          "1 handler process")
    for name, side, ms in (("with the hardening mu-plugin", True, with_ms),
                           ("without it", False, without_ms)):
        spread = statistics.quantiles(times[side], n=10)
        print(f"{name:<30} {ms:8.1f} ms  (p10 {spread[0] * 1000:.1f}, p90 {spread[-1] * 1000:.1f})")
    print(f"ratio with/without: {with_ms / without_ms:.3f}")


if __name__ == "__main__":
    main()
