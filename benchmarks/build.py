"""Benchmark `wplambda build` against the naive way (`cp -r` + `zip -r`) on Debian's WordPress.

Run: .venv/bin/python -m benchmarks.build

Measures a full build, a no-op rebuild (in-process and through the CLI, Python start-up
included) and a rebuild after one plugin file changed, with the zip sizes; the naive baseline
copies and zips the same trees from scratch every time, and its zips change when only mtimes do.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from wp_lambda import bundle as build_mod
from wp_lambda import project as project_mod
from wp_lambda.config import load

DEBIAN_WORDPRESS = Path("/usr/share/wordpress")
MB = 1024 * 1024


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def naive(function_src: Path, layer_src: Path, work: Path) -> tuple[float, int, int, str]:
    """cp -rL + zip -r of the same trees: (seconds, function.zip bytes, layer.zip bytes, function sha256)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    def run() -> None:
        subprocess.run(["cp", "-rL", str(function_src), str(work / "function")], check=True)
        subprocess.run(["cp", "-rL", str(layer_src), str(work / "layer")], check=True)
        for name in ("function", "layer"):
            subprocess.run(["zip", "-r", "-q", str(work / f"{name}.zip"), "."], cwd=work / name, check=True)

    seconds, _ = timed(run)
    return seconds, (work / "function.zip").stat().st_size, (work / "layer.zip").stat().st_size, \
        sha(work / "function.zip")


def main() -> None:
    if not (DEBIAN_WORDPRESS / "wp-settings.php").exists() or shutil.which("zip") is None:
        sys.exit("needs Debian's wordpress package and zip: run `make setup`")
    with tempfile.TemporaryDirectory(prefix="wplambda-bench-build-") as tmp_name:
        tmp = Path(tmp_name)
        os.environ["WPLAMBDA_CACHE_DIR"] = str(tmp / "cache")
        source = tmp / "wordpress"
        shutil.copytree(DEBIAN_WORDPRESS, source, symlinks=False)
        project = tmp / "site"
        project_mod.init_project(project, {"wordpress_source": str(source)})
        php = build_mod.debian_php_source()

        def kit_build() -> build_mod.BuildResult:
            return build_mod.build(load(project), target="serve", php_source=php)

        full_s, result = timed(kit_build)
        assert isinstance(result, build_mod.BuildResult)
        noop_s, noop = timed(kit_build)
        assert isinstance(noop, build_mod.BuildResult) and not noop.rebuilt
        cli = [str(Path(sys.executable).with_name("wplambda")), "build", "--target", "serve", "--project", str(project)]
        cli_s, _ = timed(lambda: subprocess.run(cli, check=True, capture_output=True))
        readme = source / "wp-content/plugins/akismet/readme.txt"
        readme.write_text(readme.read_text() + "\nbenchmark edit\n")
        plugin_s, changed = timed(kit_build)
        assert isinstance(changed, build_mod.BuildResult) and changed.rebuilt
        fn_zip, layer_zip = changed.function_zip.stat().st_size, changed.layer_zip.stat().st_size
        kit_sha = sha(changed.function_zip)
        for path in source.rglob("*"):
            os.utime(path)
        touched = kit_build()
        kit_stable = sha(touched.function_zip) == kit_sha

        naive_s, naive_fn, naive_layer, naive_sha = naive(touched.function, touched.layer, tmp / "naive")
        time.sleep(1.1)  # zip stores 2-second DOS times: make the touch visible to it
        for path in touched.function.rglob("*"):
            os.utime(path)
        naive2_s, _, _, naive_sha2 = naive(touched.function, touched.layer, tmp / "naive")

    rows = [
        ("full build (s)", full_s, naive_s),
        ("no-op rebuild, in-process (s)", noop_s, naive2_s),
        ("no-op rebuild, CLI wall time (s)", cli_s, naive2_s),
        ("rebuild after 1 plugin file changed (s)", plugin_s, naive2_s),
        ("function.zip (MB)", fn_zip / MB, naive_fn / MB),
        ("layer.zip (MB)", layer_zip / MB, naive_layer / MB),
    ]
    print(f"{'':42} {'wplambda build':>15} {'cp -rL + zip -r':>16} {'ratio':>7}")
    for label, kit, alt in rows:
        print(f"{label:42} {kit:15.2f} {alt:16.2f} {kit / alt if alt else float('nan'):7.2f}")
    print(f"{'same zip after touching every mtime':42} {'yes' if kit_stable else 'NO':>15} "
          f"{'yes' if naive_sha == naive_sha2 else 'no':>16}")
    print("(serve target: Debian's PHP 8.2 and its libraries in the layer; the naive side zips the kit's "
          "already-assembled trees, so it does less work than a real from-scratch package)")


if __name__ == "__main__":
    main()
