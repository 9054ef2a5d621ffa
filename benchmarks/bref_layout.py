"""Why the runtime passes ``-d opcache.file_cache_only=0`` to php-fpm under Bref's layout: the same
WordPress home page through the handler, from two php-fpm pools started from the same Bref layout
(Debian's PHP at Bref's paths, ``bref.ini`` with Bref's ``opcache.file_cache_only = 1``): (a) as the
runtime starts it, with Bref's FPM bootstrap override, (b) without it, so opcache only keeps files.

Run: ``.venv/bin/python -m benchmarks.bref_layout [--seconds 8] [--workers 2]``. It starts a private
MariaDB, copies Debian's WordPress, installs it through the handler, and stops everything it started.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import tempfile
from pathlib import Path

from benchmarks.runtime import HOST, ROUNDS, latency, percentile, throughput
from tests.support.bref_opt import debian_php_missing, make_fake_opt
from tests.support.lambda_events import Client, Context, v2
from tests.support.wp_site import install_fields, make_site
from wp_lambda.config import Config
from wp_lambda.local.mariadb import MariaDB
from wp_lambda.runtime.handler import Runtime

# The variables that name Debian's PHP one by one; the Bref layout names it instead.
_DEBIAN_PATHS = ("WPLAMBDA_PHP_FPM", "WPLAMBDA_PHP", "WPLAMBDA_PHP_INI", "WPLAMBDA_FPM_CONF")
# What opcache itself reports: file-cache-only mode (it then has no shared memory to report), or not.
PROBE = "<?php header('Content-Type: text/plain'); $s = opcache_get_status(false);" \
        " echo empty($s['file_cache_only']) ? 0 : 1, ' ', $s['memory_usage']['used_memory'] ?? 0;\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each measurement")
    parser.add_argument("--workers", type=int, default=2, help="php-fpm workers (and concurrent clients)")
    args = parser.parse_args()
    missing = debian_php_missing()
    if missing:
        raise SystemExit(missing)

    base = Path(tempfile.mkdtemp(prefix="wplambda-bench-bref-"))
    db = MariaDB.start(base / "db")
    runtimes: dict[str, Runtime] = {}
    try:
        site = make_site(base, db, "wp_bench_bref")
        (site.root / "wplambda-opcache.php").write_text(PROBE)
        opt = make_fake_opt(base / "bref", Config(), task=site.root)
        environ = {k: v for k, v in site.environ.items() if k not in _DEBIAN_PATHS}
        environ.update(opt.environ(), WPLAMBDA_FPM_WORKERS=str(args.workers))
        kit = Runtime(environ)
        plain = Runtime(environ)
        settings = plain.fpm.settings
        plain.fpm.settings = dataclasses.replace(settings, args=tuple(
            a for a in settings.args if a not in ("-d", "opcache.file_cache_only=0")))
        runtimes = {"(a) kit: -d opcache.file_cache_only=0": kit, "(b) bref.ini alone: file cache only": plain}
        install = Client(kit.handle).post_form("/wp-admin/install.php", install_fields(), query="step=2")
        if install.status != 200:
            raise SystemExit(f"WordPress install failed: {install.status}")

        event = v2("GET", "/", headers={"Host": HOST})
        calls = {name: (lambda rt=rt: rt.handle(event, Context())["statusCode"]) for name, rt in runtimes.items()}
        latency(calls, 2.0)  # warm both pools' caches and the database's
        print(f"WordPress home page through the handler, Debian's php-fpm 8.2 at Bref v3's paths, {args.workers} "
              f"worker(s) per pool, {args.seconds:g} s per measurement")
        for name, rt in runtimes.items():
            probe = rt.handle(v2("GET", "/wplambda-opcache.php", headers={"Host": HOST}), Context())["body"]
            file_cache_only, shm = probe.split()
            print(f"  {name}: opcache reports file_cache_only = {file_cache_only}, shared memory used "
                  f"{int(shm) // 1024} KB")
        rows = {name: {"p50": percentile(s, 0.5) * 1000, "p95": percentile(s, 0.95) * 1000, "rps": 0.0}
                for name, s in latency(calls, args.seconds * 2).items()}
        for _ in range(ROUNDS):  # alternating rounds, so the machine's other load falls on both
            for name, call in calls.items():
                rows[name]["rps"] += throughput(call, args.seconds / ROUNDS, args.workers) / ROUNDS
        print(f"\n{'php-fpm':<40}{'p50 ms':>9}{'p95 ms':>9}{'req/s':>9}")
        for name, row in rows.items():
            print(f"{name:<40}{row['p50']:>9.2f}{row['p95']:>9.2f}{row['rps']:>9.1f}")
        a, b = rows.values()
        print(f"\n(b) / (a): p50 {b['p50'] / a['p50']:.2f}x, throughput {b['rps'] / a['rps']:.2f}x")
    finally:
        for rt in runtimes.values():
            rt.stop()
        db.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
