"""What EFS mode costs: the WordPress home page and the cold start, package mode beside EFS mode.

Run: ``.venv/bin/python -m benchmarks.efs [--seconds 8] [--cold-runs 5]``. It starts a private
MariaDB, makes two copies of Debian's WordPress through the handler, one per mode, each with the
php.ini Lambda gets (package: opcache never re-checks timestamps; EFS: re-checks every 2 s), and
stops everything it started at the end.

EFS mode's wp-content is a plain directory on the same disk here (this machine has no NFS client),
so the numbers show what the mode itself costs (WP_CONTENT_DIR outside the document root, opcache
timestamp checks, the runtime's routing), not EFS's network latency, which comes on top on Lambda.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from benchmarks.runtime import HOST, cold_starts, latency, percentile
from tests.support.lambda_events import Client, Context, v2
from tests.support.wp_site import Site, install_fields, make_site
from wp_lambda.config import Config
from wp_lambda.local.mariadb import MariaDB
from wp_lambda.render import render_text
from wp_lambda.runtime import content, contract
from wp_lambda.runtime.handler import Runtime


def lambda_php_ini(site: Site, config: Config) -> None:
    """The php.ini the deployed layer carries for ``config`` (not serve's always-revalidating one)."""
    Path(site.environ["WPLAMBDA_PHP_INI"]).write_text(render_text("php.ini.j2", config, local=False))


def efs_site(base: Path, db: MariaDB) -> Site:
    """A site in EFS mode: wp-config.php moves WP_CONTENT_DIR to a "mount" the kit seeded."""
    config = Config()
    config.storage.mode = "efs"
    site = make_site(base, db, "wp_efs")
    (site.root / "wp-config.php").write_text(render_text("wp-config.php.j2", config))
    mount = base / "mnt" / "wp-content"
    content.sync(site.root / "wp-content", mount, {})
    site.environ[contract.CONTENT_DIR_ENV] = str(mount)
    lambda_php_ini(site, config)
    return site


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of the latency measurement")
    parser.add_argument("--cold-runs", type=int, default=5)
    args = parser.parse_args()
    if not Path("/usr/sbin/php-fpm8.2").exists():
        raise SystemExit("php-fpm8.2 is missing: run `make setup`")

    base = Path(tempfile.mkdtemp(prefix="wplambda-bench-efs-"))
    db = MariaDB.start(base / "db")
    runtimes: dict[str, Runtime] = {}
    try:
        package = make_site(base / "package", db, "wp_package")
        lambda_php_ini(package, Config())
        sites = {"package": package, "efs (directory)": efs_site(base / "efs", db)}
        event = v2("GET", "/", headers={"Host": HOST, "X-Forwarded-Proto": "https"})
        for name, site in sites.items():
            runtimes[name] = Runtime(site.environ)
            install = Client(runtimes[name].handle).post_form("/wp-admin/install.php", install_fields(),
                                                              query="step=2")
            if install.status != 200:
                raise SystemExit(f"WordPress install ({name}) failed: {install.status}")

        def call(runtime: Runtime) -> int:
            return runtime.handle(event, Context())["statusCode"]

        calls = {name: (lambda runtime=runtime: call(runtime)) for name, runtime in runtimes.items()}
        latency(calls, 2.0)  # warm opcache and the database's caches
        samples = latency(calls, args.seconds * 2)
        print(f"GET / through the handler, php-fpm 8.2 (1 worker), {args.seconds * 2:g} s alternating, "
              f"{os.cpu_count()} CPUs")
        print(f"\n{'mode':<18}{'p50 ms':>9}{'p95 ms':>9}{'cold ms':>9}")
        for runtime in runtimes.values():
            runtime.stop()
        # Cold starts in turns too, so that the page cache and the machine's load favour neither.
        colds: dict[str, list[float]] = {name: [] for name in sites}
        for _ in range(args.cold_runs):
            for name, site in sites.items():
                colds[name] += cold_starts(site.environ, 1)
        rows = {}
        for name in sites:
            rows[name] = (percentile(samples[name], 0.5) * 1000, percentile(samples[name], 0.95) * 1000,
                          statistics.median(colds[name]) * 1000)
            print(f"{name:<18}{rows[name][0]:>9.1f}{rows[name][1]:>9.1f}{rows[name][2]:>9.0f}")
        package_row, efs_row = rows["package"], rows["efs (directory)"]
        print(f"\nefs / package: p50 {efs_row[0] / package_row[0]:.2f}x, p95 {efs_row[1] / package_row[1]:.2f}x, "
              f"cold start {efs_row[2] / package_row[2]:.2f}x (cold: median of {args.cold_runs}, empty opcache)")
        print("EFS mode here is a local directory: on Lambda each opcache re-check and each first read "
              "of a file is a round trip to EFS on top of this.")
    finally:
        for runtime in runtimes.values():
            runtime.stop()
        db.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
