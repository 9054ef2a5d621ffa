"""Load check of `wplambda serve`: 32 concurrent clients for 30 s against GET / and a static asset.

Run: `.venv/bin/python -m benchmarks.serve_load [--seconds 30] [--connections 32] [--workers 2]`.
It creates a throwaway project from Debian's WordPress, starts `wplambda serve --install`, drives it
with wrk (Debian's package), and prints requests/s, p50/p95/p99 latency, errors, and the handler
processes' RSS (python handlers + their php-fpm) before and after. Loopback only; it stops by itself.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
import urllib.request
from pathlib import Path

from benchmarks.served import served_site
from wp_lambda.local.processes import descendants

WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d non2xx=%d p50=%.3f p95=%.3f p99=%.3f seconds=%.3f\\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.duration / 1e6))
end
"""


def handler_pids(serve_pid: int) -> set[int]:
    """serve's handler processes and their php-fpm (MariaDB runs in a session of its own)."""
    return {p for p in descendants(serve_pid)
            if "mariadbd" not in Path(f"/proc/{p}/cmdline").read_text(errors="replace")}


def rss_mib(pids: set[int]) -> float:
    total = 0
    for pid in pids:
        try:
            match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
        except OSError:
            continue
        total += int(match.group(1)) if match else 0
    return total / 1024


def _wrk(url: str, seconds: int, connections: int, script: Path) -> dict[str, float]:
    result = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "30s",
                             "-s", str(script), url], capture_output=True, text=True, check=True)
    match = re.search(r"RESULT (.*)", result.stdout)
    if not match:
        raise RuntimeError(f"wrk printed no result:\n{result.stdout}\n{result.stderr}")
    values = {k: float(v) for k, v in (pair.split("=") for pair in match.group(1).split())}
    values["rps"] = values["requests"] / values["seconds"]
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wplambda-load-") as tmp, \
            served_site(Path(tmp), "load", "--workers", str(args.workers)) as site:
        urllib.request.urlopen(f"{site.url}/", timeout=30).read()  # warm every path once
        script = Path(tmp) / "report.lua"
        script.write_text(WRK_SCRIPT)
        handlers = handler_pids(site.process.pid)
        print(f"wplambda serve, {args.workers} handler processes, wrk {args.connections} connections, "
              f"{args.seconds} s each")
        rss_before = rss_mib(handlers)
        rows = []
        for name, path in (("GET /", "/"), ("static asset", "/wp-includes/css/dashicons.min.css?ver=6.1")):
            rows.append((name, _wrk(site.url + path, args.seconds, args.connections, script)))
        rss_after = rss_mib(handlers | handler_pids(site.process.pid))
    print(f"{'target':<14}{'req/s':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'errors':>8}{'non-2xx':>9}")
    for name, r in rows:
        print(f"{name:<14}{r['rps']:>10.1f}{r['p50']:>10.1f}{r['p95']:>10.1f}{r['p99']:>10.1f}"
              f"{int(r['errors']):>8}{int(r['non2xx']):>9}")
    print(f"handler RSS (python + php-fpm): before {rss_before:.1f} MiB, after {rss_after:.1f} MiB")
    print(f"static/dynamic throughput ratio: {rows[1][1]['rps'] / rows[0][1]['rps']:.1f}x")

if __name__ == "__main__":
    main()
