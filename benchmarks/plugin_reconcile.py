"""Benchmark reconciling plugin activation: the kit's batched plan beside one wp-cli call per plugin.

Run: .venv/bin/python -m benchmarks.plugin_reconcile [--plugins 8] [--rounds 3]

On Lambda every wp-cli command is one invocation of the console function and one PHP process
that loads WordPress, so the kit runs one ``wp plugin activate A B C`` per kind and verb instead of
a call per plugin. Both run here against the local site (``wp_lambda.remote.local_target``: the
console runtime under awslambdaric, the private MariaDB, the real wp-cli from ../shared), with N
generated plugins pinned ``active = true``; each round first deactivates them all. Also measured:
a reconcile with nothing to change (what every deploy after the first pays).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import tomlkit

from wp_lambda import project as project_mod
from wp_lambda import remote
from wp_lambda.config import load
from wp_lambda.plugins import reconcile

DEBIAN_WORDPRESS = Path("/usr/share/wordpress")
WP_CLI = Path(__file__).resolve().parents[1].parent / "shared" / "wp-cli" / "wp-cli.phar"


def _median(fn: Callable[[], object], rounds: int, before: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        before()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _check(result: remote.WpResult) -> None:
    if result.exit_code != 0:
        sys.exit(f"wp-cli failed: {result.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plugins", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not WP_CLI.is_file() or not (DEBIAN_WORDPRESS / "wp-settings.php").exists():
        sys.exit(f"needs {WP_CLI} and Debian's wordpress package")
    slugs = [f"bench-plugin-{i}" for i in range(args.plugins)]
    with tempfile.TemporaryDirectory(prefix="wplambda-bench-reconcile-") as tmp_name:
        tmp = Path(tmp_name)
        source = tmp / "wordpress"
        shutil.copytree(DEBIAN_WORDPRESS, source, symlinks=False)
        (source / "wp-config.php").unlink(missing_ok=True)
        for slug in slugs:
            (tmp / "mirror" / "plugin").mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(tmp / "mirror" / "plugin" / f"{slug}.1.0.zip", "w") as zf:
                zf.writestr(f"{slug}/{slug}.php", f"<?php\n/*\n * Plugin Name: {slug}\n * Version: 1.0\n */\n")
        root = tmp / "site"
        project_mod.init_project(root, {"wordpress_source": str(source)})
        path = root / "wplambda.toml"
        doc = tomlkit.parse(path.read_text())
        doc["build"]["plugin_mirror"] = str(tmp / "mirror")  # type: ignore[index]
        doc["build"]["wp_cli"] = str(WP_CLI)  # type: ignore[index]
        for slug in slugs:
            doc["plugins"][slug] = {"version": "1.0", "active": True}  # type: ignore[index]
        path.write_text(tomlkit.dumps(doc))
        config = load(root)
        with remote.local_target(config) as target:
            _check(target.wp(["core", "install", "--url=http://127.0.0.1:8080", "--title=bench", "--admin_user=a",
                              "--admin_email=a@example.com", "--admin_password=bench-only-1", "--skip-email"]))

            def reset() -> None:
                _check(target.wp(["plugin", "deactivate", *slugs]))

            def one_call_each() -> None:
                for slug in slugs:
                    _check(target.wp(["plugin", "activate", slug]))

            def kit() -> None:
                assert len(reconcile.reconcile(config, target).actions) == len(slugs)

            naive = _median(one_call_each, args.rounds, reset)
            batched = _median(kit, args.rounds, reset)
            noop = _median(lambda: reconcile.reconcile(config, target), args.rounds, lambda: None)
    print(f"{args.plugins} plugins to activate, median of {args.rounds} (local console function, real wp-cli):")
    print(f"  one `wp plugin activate` per plugin:  {naive:6.2f} s  ({args.plugins} invocations)")
    print(f"  kit reconcile (survey + batched):     {batched:6.2f} s  (4 invocations)  {naive / batched:4.1f}x faster")
    print(f"  kit reconcile, nothing to change:     {noop:6.2f} s  (3 invocations)")


if __name__ == "__main__":
    main()
