"""The runtime's overhead, measured: the same WordPress home page from the same php-fpm pool
(a) as one direct FastCGI request, (b) through the full Lambda handler, (c) through Debian's nginx.

Run: ``.venv/bin/python -m benchmarks.runtime [--seconds 8] [--workers 2] [--cold-only]``. It starts
a private MariaDB, copies Debian's WordPress, installs it through the handler, and stops everything
it started (by PID) at the end. Then the cold starts, each in a fresh process whose php-fpm starts
with an empty opcache: today's, with the init warm-up, with the build's primed opcache file cache (with and
without the warm-up), and the simulated SnapStart restore, as ratios to today's.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.helpers import REPO
from tests.support.lambda_events import Client, Context, v2
from tests.support.wp_site import install_fields, make_site
from wp_lambda.bundle import opcache_cache
from wp_lambda.local.mariadb import MariaDB
from wp_lambda.runtime import cgi, fastcgi, opcache, routing
from wp_lambda.runtime.events import Request
from wp_lambda.runtime.handler import Runtime

HOST = "wp.test"
ROUNDS = 3
NGINX = "/usr/sbin/nginx"
WRK = "/usr/bin/wrk"
# One cold instance in a fresh process (so php-fpm's opcache starts empty), in one of the modes
# below; it prints the init phase's time and the first request's, then stops its php-fpm.
COLD_START_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
from wp_lambda.runtime import snapstart
from wp_lambda.runtime.handler import handler, runtime
mode, event = sys.argv[1], json.loads(sys.argv[2])
class Context:
    def __init__(self): self.deadline = time.monotonic() + 30
    def get_remaining_time_in_millis(self): return int((self.deadline - time.monotonic()) * 1000)
def first_request():
    start = time.perf_counter()
    status = handler(event, Context())["statusCode"]
    return status, time.perf_counter() - start
runtime().start()  # what the init phase did before: php-fpm up, nothing compiled
if mode in ("warm-up", "file cache + warm-up"):
    runtime().warm()
if mode == "snapstart":
    snapstart.before_snapshot(runtime())
out = {"init": time.perf_counter() - t0}
restore = time.perf_counter()
if mode == "snapstart":
    snapstart.after_restore(runtime())
status, _ = first_request()
out.update(first=time.perf_counter() - restore, total=time.perf_counter() - t0, status=status)
warm = sorted(first_request()[1] for _ in range(15))
out["warm"] = warm[len(warm) // 2]
print(json.dumps(out))
runtime().stop()
"""


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency(calls: dict[str, Callable[[], int]], seconds: float) -> dict[str, list[float]]:
    """Sequential requests for ``seconds``, taking the paths in turn so that the noise of a shared
    machine falls on all of them alike; each must answer 200."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for name, call in calls.items():
            start = time.perf_counter()
            status = call()
            samples[name].append(time.perf_counter() - start)
            if status != 200:
                raise SystemExit(f"benchmark request ({name}) answered {status}, not 200")
    return samples


def throughput(call: Callable[[], int], seconds: float, clients: int) -> float:
    """Requests per second with ``clients`` concurrent callers (threads)."""
    counts = [0] * clients
    end = time.monotonic() + seconds

    def worker(index: int) -> None:
        while time.monotonic() < end:
            if call() == 200:
                counts[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def overhead(runtime: Runtime, handler: Callable[[], int], count: int = 200) -> float:
    """Median time the handler spends on its own work: the call minus its FastCGI exchange."""
    spent: list[float] = []
    real_request = fastcgi.request

    def timed(*args: object, **kwargs: object) -> fastcgi.FastCGIResponse:
        start = time.perf_counter()
        result = real_request(*args, **kwargs)  # type: ignore[arg-type]
        spent.append(time.perf_counter() - start)
        return result

    fastcgi.request = timed  # type: ignore[assignment]
    try:
        totals = []
        for _ in range(count):
            start = time.perf_counter()
            handler()
            totals.append(time.perf_counter() - start)
    finally:
        fastcgi.request = real_request  # type: ignore[assignment]
    return statistics.median(t - s for t, s in zip(totals, spent, strict=True))


def start_nginx(workdir: Path, document_root: Path, socket_path: str,
                workers: int) -> tuple[subprocess.Popen[bytes], int]:
    """nginx in front of the same php-fpm socket, configured like the runtime's try_files."""
    import socket as socketlib

    with socketlib.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for sub in ("body", "fastcgi", "proxy", "uwsgi", "scgi"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    conf = workdir / "nginx.conf"
    # HTTP_HOST: Debian's fastcgi_params has none, and $host would drop a port (docs/benchmarks.md#runtime).
    # user root: php-fpm's socket is 0660 root-owned, as the runtime's is.
    conf.write_text(f"""
daemon off;
user root;
worker_processes {workers};
pid {workdir}/nginx.pid;
error_log {workdir}/error.log;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/body;
    fastcgi_temp_path {workdir}/fastcgi;
    proxy_temp_path {workdir}/proxy;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {document_root};
        index index.php;
        location / {{ try_files $uri $uri/ /index.php?$args; }}
        location ~ \\.php$ {{
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_param HTTP_HOST $http_host;
            fastcgi_pass unix:{socket_path};
        }}
    }}
}}
""")
    process = subprocess.Popen([NGINX, "-c", str(conf), "-e", str(workdir / "error.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socketlib.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, port
        except OSError as exc:
            if process.poll() is not None or time.monotonic() > deadline:
                error = process.stderr.read().decode() if process.stderr else ""
                raise SystemExit(f"nginx did not start: {error}") from exc
            time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def http_get(port: int) -> Callable[[], int]:
    """One keep-alive connection per thread, as a load generator keeps them."""
    local = threading.local()

    def call() -> int:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local.conn.request("GET", "/", headers={"Host": HOST, "X-Forwarded-Proto": "https"})
        response = local.conn.getresponse()
        response.read()
        return response.status

    return call


def wrk(port: int, seconds: float, clients: int) -> float:
    out = subprocess.run([WRK, f"-t{clients}", f"-c{clients}", f"-d{int(seconds)}s", "-H", f"Host: {HOST}",
                          "-H", "X-Forwarded-Proto: https", f"http://127.0.0.1:{port}/"],
                         capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw errors:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise SystemExit(f"cannot read wrk's output:\n{out}")
    return float(match.group(1))


def lambda_php_ini(environ: dict[str, str], workdir: Path) -> Path:
    """The local layer's php.ini as on Lambda: timestamps never validated."""
    text = Path(environ["WPLAMBDA_PHP_INI"]).read_text()
    text = re.sub(r"(?m)^opcache\.validate_timestamps = 1$", "opcache.validate_timestamps = 0", text)
    if "opcache.validate_timestamps = 0" not in text:
        raise SystemExit("cannot find opcache.validate_timestamps in the local php.ini")
    path = workdir / "php-lambda.ini"
    path.write_text(text)
    return path


def cold_starts(environs: dict[str, dict[str, str]], runs: int) -> dict[str, list[dict[str, float]]]:
    """``runs`` fresh instances per mode, the modes taking turns so a shared machine's noise falls
    on all of them alike."""
    event = json.dumps(v2("GET", "/", headers={"Host": HOST}))
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in environs}
    for _ in range(runs):
        for mode, environ in environs.items():
            env = {**environ, "PYTHONPATH": str(REPO)}
            env.pop("AWS_LAMBDA_RUNTIME_API", None)
            proc = subprocess.Popen([sys.executable, "-c", COLD_START_SCRIPT, mode, event],
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            out, _ = proc.communicate(timeout=120)
            result = json.loads(out.decode().splitlines()[-1])
            if result["status"] != 200:
                raise SystemExit(f"cold start ({mode}) answered {result['status']}")
            results[mode].append(result)
    return results


def report_cold_starts(results: dict[str, list[dict[str, float]]]) -> None:
    def median(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in results[mode]) * 1000

    today, today_total = median("today", "first"), median("today", "total")
    print(f"\ncold start, median of {len(results['today'])} fresh instances per path (1 php-fpm worker, "
          "php.ini as on Lambda):")
    print(f"{'path':<22}{'init ms':>9}{'first 200 ms':>14}{'vs today':>10}{'import->200 ms':>16}")
    for mode in results:
        first = median(mode, "first")
        print(f"{mode:<22}{median(mode, 'init'):>9.0f}{first:>14.0f}{first / today:>10.2f}"
              f"{median(mode, 'total'):>16.0f}")
    print("(init: handler import, php-fpm started, plus the warm-up or before-snapshot hook where named;\n"
          " first 200: the first request after init, for snapstart the after-restore hook included)")
    restore, warm = median("snapstart", "first"), median("snapstart", "warm")
    print(f"snapstart: after-restore hook + first request {restore:.0f} ms, then a warm request {warm:.0f} ms: "
          f"{restore / warm:.2f}x (target <= 1.5x)")
    print(f"warm-up: {median('warm-up', 'init') - median('today', 'init'):+.0f} ms in the init phase, "
          f"first request {median('warm-up', 'first'):.0f} ms instead of {today:.0f} ms (target <= 250 ms; "
          f"today's import -> first 200: {today_total:.0f} ms)")
    print(f"file cache: {median('file cache + warm-up', 'init') - median('warm-up', 'init'):+.0f} ms on the "
          f"warm-up's init, first request without warm-up {median('file cache', 'first'):.0f} ms")


def cold(environ: dict[str, str], document_root: Path, workdir: Path, runs: int) -> None:
    """Every cold-start path side by side, after priming a file cache (the build's own step,
    compiling the tree where it lies) for the ones that use it; the others are told to ignore it."""
    cached = {**environ, "WPLAMBDA_FPM_WORKERS": "1", "WPLAMBDA_WARM_PATHS": "/",
              "WPLAMBDA_PHP_INI": str(lambda_php_ini(environ, workdir))}
    base = {**cached, opcache.ENV_VAR: "off"}
    primed = opcache_cache.prime(document_root, [environ["WPLAMBDA_PHP"]], at=document_root)
    environs = {"today": base, "warm-up": base, "file cache": cached, "file cache + warm-up": cached,
                "snapstart": base}
    results = cold_starts(environs, runs)
    report_cold_starts(results)
    ids = sorted(p.name for p in (document_root / opcache.PACKAGED).iterdir())
    verdict = "one system id: php-fpm read what the CLI wrote" if len(ids) == 1 else \
        f"{len(ids)} system ids: php-fpm compiled its own, the CLI's cache was of no use"
    print(f"(file cache: {primed.files} files compiled by the CLI in {primed.seconds:.1f} s, "
          f"{len(primed.skipped)} left to run time, {primed.bytes // 2**20} MB; {verdict})")


def warm(runtime: Runtime, site_root: Path, workdir: Path, args: argparse.Namespace) -> None:
    """Warm latency and throughput: direct FastCGI, the handler and nginx on one php-fpm pool."""
    nginx: subprocess.Popen[bytes] | None = None
    try:
        event = v2("GET", "/", headers={"Host": HOST})
        request = Request("GET", "/", "", {"host": [HOST], "x-forwarded-proto": ["https"]}, b"", "203.0.113.7")
        target = routing.route(runtime.document_root, "/", "")
        params = cgi.params(request, target, runtime.document_root, HOST, request.source_ip)

        def direct() -> int:
            result = fastcgi.request(runtime.fpm.socket_path, params, b"", deadline=time.monotonic() + 30)
            return cgi.parse_output(result.stdout).status

        def handler() -> int:
            return runtime.handle(event, Context())["statusCode"]

        runtime.start()
        nginx, port = start_nginx(workdir / "nginx", site_root, runtime.fpm.socket_path, args.workers)
        nginx_call = http_get(port)
        sizes = {"direct": len(cgi.parse_output(fastcgi.request(runtime.fpm.socket_path, params, b"",
                                                                deadline=time.monotonic() + 30).stdout).body),
                 "handler": len(runtime.handle(event, Context())["body"])}
        calls = {"direct FastCGI": direct, "wplambda handler": handler, "nginx": nginx_call}
        latency(calls, 2.0)  # warm opcache and the database's caches

        print(f"WordPress home page (about {sizes['handler'] // 1024} KB), php-fpm 8.2 with {args.workers} "
              f"worker(s), {args.seconds:g} s per measurement, {os.cpu_count()} CPUs")
        rows = {name: {"p50": percentile(samples, 0.5) * 1000, "p95": percentile(samples, 0.95) * 1000, "rps": 0.0}
                for name, samples in latency(calls, args.seconds * 3).items()}
        # Throughput in alternating rounds, for the same reason; each path's figure is the mean.
        for _ in range(ROUNDS):
            rows["direct FastCGI"]["rps"] += throughput(direct, args.seconds / ROUNDS, args.workers) / ROUNDS
            rows["wplambda handler"]["rps"] += throughput(handler, args.seconds / ROUNDS, args.workers) / ROUNDS
            rows["nginx"]["rps"] += wrk(port, args.seconds / ROUNDS, args.workers) / ROUNDS

        print(f"\n{'path':<18}{'p50 ms':>9}{'p95 ms':>9}{'req/s':>9}")
        for name, row in rows.items():
            print(f"{name:<18}{row['p50']:>9.2f}{row['p95']:>9.2f}{row['rps']:>9.1f}")
        h, d, n = rows["wplambda handler"], rows["direct FastCGI"], rows["nginx"]
        print(f"\nhandler's own time per request (outside the FastCGI exchange): p50 "
              f"{overhead(runtime, handler) * 1000:.2f} ms")
        print(f"handler - direct FastCGI at p50: {h['p50'] - d['p50']:+.2f} ms (target <= +1 ms)")
        print(f"handler / nginx throughput: {h['rps'] / n['rps']:.1%} (target >= 95%)")
        print(f"handler / direct FastCGI throughput: {h['rps'] / d['rps']:.1%}")
        print("(nginx latency is measured through a Python HTTP client, which adds its own parsing time)")
    finally:
        if nginx is not None:
            stop(nginx)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each measurement")
    parser.add_argument("--workers", type=int, default=2, help="php-fpm workers (and concurrent clients)")
    parser.add_argument("--cold-runs", type=int, default=5, help="fresh instances per cold-start path")
    parser.add_argument("--cold-only", action="store_true", help="measure only the cold starts")
    args = parser.parse_args()
    for tool in (NGINX, WRK, "/usr/sbin/php-fpm8.2"):
        if not Path(tool).exists():
            raise SystemExit(f"{tool} is missing: run `make setup`")

    base = Path(tempfile.mkdtemp(prefix="wplambda-bench-"))
    db = MariaDB.start(base / "db")
    runtime: Runtime | None = None
    try:
        site = make_site(base, db, "wp_bench")
        site.environ["WPLAMBDA_FPM_WORKERS"] = str(args.workers)
        runtime = Runtime(site.environ)
        install = Client(runtime.handle).post_form("/wp-admin/install.php", install_fields(), query="step=2")
        if install.status != 200:
            raise SystemExit(f"WordPress install failed: {install.status}")

        if not args.cold_only:
            warm(runtime, site.root, base, args)
        runtime.stop()
        cold(site.environ, site.root, base, args.cold_runs)
    finally:
        if runtime is not None:
            runtime.stop()
        db.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
