"""``wplambda export``/``import``'s PHP dumper and restorer beside ``mysqldump | gzip`` and ``gunzip | mysql``.

Run: ``.venv/bin/python -m benchmarks.dbio [--posts 10000] [--post-kb 10]``. It starts a private
MariaDB, installs Debian's WordPress twice (a source and a target database), fills the source with
generated posts (about 100 MB of SQL with the defaults), then in one run: dumps it with the kit's
``db-export`` invocation and with mysqldump (both gzip level 6), and restores each dump into a
fresh target with ``db-import`` (temporary prefix, then the swap) and with the mysql client. PHP's
peak memory is its own ``memory_get_peak_usage``; every process's peak RSS comes from GNU time.
Everything it started is stopped by PID at the end.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support.lambda_events import Client
from tests.support.wp_site import install_fields, make_site
from wp_lambda.local.mariadb import MariaDB, find_binary
from wp_lambda.runtime.handler import Runtime

GNU_TIME = "/usr/bin/time"


def php_wrapper(directory: Path, php: str) -> tuple[str, Path]:
    """A stand-in for the layer's php that records the real one's peak RSS (KiB) with GNU time."""
    record = directory / "php-rss.txt"
    script = directory / "php"
    script.write_text(f'#!/bin/sh\nexec {GNU_TIME} -a -o {record} -f %M {php} "$@"\n')
    script.chmod(0o755)
    return str(script), record


def last_rss(record: Path) -> int:
    return int(record.read_text().split()[-1]) * 1024


def timed(runtime: Runtime, event: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    result = runtime.handle(event, None)
    if "error" in result:
        raise SystemExit(f"{event['wplambda']} failed: {result['error']}")
    return time.perf_counter() - started, result


def shell(command: str, rss_file: Path) -> tuple[float, int]:
    """A pipeline under bash; its time, and the peak RSS (bytes) GNU time wrote to ``rss_file``."""
    started = time.perf_counter()
    subprocess.run(["bash", "-o", "pipefail", "-c", command], check=True)
    return time.perf_counter() - started, int(rss_file.read_text().split()[-1]) * 1024


def mib(value: float) -> str:
    return f"{value / 1048576:.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--post-kb", type=int, default=10, help="size of each post's content")
    args = parser.parse_args()
    for tool in (GNU_TIME, "/usr/bin/mysqldump", "/usr/bin/mysql"):
        if not Path(tool).exists():
            raise SystemExit(f"{tool} is missing: run `make setup`")
    base = Path(tempfile.mkdtemp(prefix="wplambda-bench-dbio-"))
    db = MariaDB.start(base / "db")
    runtimes: list[Runtime] = []
    try:
        sites = {}
        for name in ("src", "kit", "base"):
            site = make_site(base / name, db, f"bench_{name}")
            site.environ["WPLAMBDA_LOCAL"] = "1"
            site.environ["WPLAMBDA_PHP"], rss = php_wrapper(base / name, site.environ["WPLAMBDA_PHP"])
            runtime = Runtime(site.environ)
            runtimes.append(runtime)
            installed = Client(runtime.handle).post_form("/wp-admin/install.php", install_fields(), query="step=2")
            if installed.status != 200:
                raise SystemExit("WordPress install failed")
            sites[name] = (runtime, rss)
        # Hex digests, different in every post and paragraph, so the dump compresses like real text
        # does (about 2:1) rather than like one repeated sentence.
        hashes = max(1, args.post_kb * 1024 // 65)
        db.sql("INSERT INTO wp_posts (post_author, post_date, post_date_gmt, post_content, post_title, "
               "post_excerpt, post_status, post_name, to_ping, pinged, post_modified, post_modified_gmt, "
               "post_content_filtered, guid) "
               "SELECT 1, NOW(), NOW(), (SELECT GROUP_CONCAT(SHA2(CONCAT(p.seq, '/', s.seq), 256) SEPARATOR ' ') "
               f"FROM seq_1_to_{hashes} s), CONCAT('Post ', p.seq), '', 'publish', CONCAT('post-', p.seq), '', '', "
               f"NOW(), NOW(), '', CONCAT('http://wp.test/?p=', p.seq) FROM seq_1_to_{args.posts} p",
               database="bench_src")
        src, src_rss = sites["src"]
        kit_dump, base_dump = base / "kit.sql.gz", base / "mysqldump.sql.gz"

        export_s, exported = timed(src, {"wplambda": "db-export", "put_url": kit_dump.as_uri()})
        export_rss = last_rss(src_rss)
        client = [find_binary("mariadb-dump"), "--no-defaults", f"--socket={db.socket}", f"--user={getpass.getuser()}"]
        dump_times = base / "dump-rss.txt"
        dump_s, dump_rss = shell(f"{GNU_TIME} -o {dump_times} -f %M {' '.join(client)} --single-transaction "
                                 f"bench_src | gzip -6 > {base_dump}", dump_times)

        kit, kit_rss = sites["kit"]
        import_s, imported = timed(kit, {"wplambda": "db-import", "get_url": kit_dump.as_uri(), "from_prefix": "wp_"})
        import_rss = last_rss(kit_rss)
        mysql = [find_binary("mariadb"), "--no-defaults", f"--socket={db.socket}", f"--user={getpass.getuser()}"]
        load_times = base / "load-rss.txt"
        load_s, load_rss = shell(f"gunzip -c {base_dump} | {GNU_TIME} -o {load_times} -f %M {' '.join(mysql)} "
                                 "bench_base", load_times)

        rows = sum(exported["tables"].values())
        same = db.sql("SELECT COUNT(*), SUM(LENGTH(post_content)) FROM wp_posts", database="bench_kit") == \
            db.sql("SELECT COUNT(*), SUM(LENGTH(post_content)) FROM wp_posts", database="bench_base")
        print(f"{args.posts:,} generated posts, {rows:,} rows; SQL {mib(exported['sql_bytes'])}, gzip "
              f"{mib(exported['bytes'])} (kit) / {mib(base_dump.stat().st_size)} (mysqldump); "
              f"{os.cpu_count()} CPUs; both targets hold the same posts: {same}")
        print(f"\n{'step':<10}{'kit (PHP)':>14}{'mysql tools':>14}{'ratio':>8}   {'PHP peak heap':>14}"
              f"{'PHP peak RSS':>14}{'tool peak RSS':>15}")
        for step, kit_s, tool_s, heap, rss, tool_rss in (
                ("export", export_s, dump_s, exported["peak_memory"], export_rss, dump_rss),
                ("import", import_s, load_s, imported["peak_memory"], import_rss, load_rss)):
            print(f"{step:<10}{kit_s:>13.1f}s{tool_s:>13.1f}s{kit_s / tool_s:>8.2f}   {mib(heap):>14}{mib(rss):>14}"
                  f"{mib(tool_rss):>15}")
        print("\n(export: the kit's time includes gzip in the Python runtime; import: the kit's includes the "
              "temporary prefix, the swap and counting rows)")
        print(json.dumps({"export_s": round(export_s, 2), "mysqldump_s": round(dump_s, 2),
                          "import_s": round(import_s, 2), "mysql_s": round(load_s, 2)}))
    finally:
        for runtime in runtimes:
            runtime.stop()
        db.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
