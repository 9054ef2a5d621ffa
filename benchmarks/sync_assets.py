"""`wplambda sync-assets` versus `aws s3 sync`, against moto's S3 on localhost.

Both tools run as subprocesses (start-up included) on the same build's assets (Debian's WordPress
static files, laid out by tests/integration/deploy/conftest.py), each into its own bucket, for:
  (a) the first upload, (b) a re-sync with nothing changed, (c) a re-sync after a rebuild that
renewed every mtime (content unchanged). Run: .venv/bin/python -m benchmarks.sync_assets
"""

from __future__ import annotations

import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import boto3
from moto.server import ThreadedMotoServer

BIN = Path(sys.executable).parent
RUNS = 3


def _fixtures() -> ModuleType:
    """The deploy tests' build layout helpers (one definition of the asset tree for tests and bench)."""
    return importlib.import_module("tests.integration.deploy.conftest")


def _run(args: list[str], cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args[:3])} failed:\n{result.stderr[-2000:]}")
    return elapsed, result.stdout


def kit(root: Path, bucket: str) -> tuple[float, int]:
    elapsed, out = _run([str(BIN / "wplambda"), "sync-assets", "--bucket", bucket, "--json"], root)
    return elapsed, int(json.loads(out)["uploaded"])


def aws_cli(root: Path, bucket: str) -> tuple[float, int]:
    elapsed, out = _run([str(BIN / "aws"), "s3", "sync", "--no-progress", ".wplambda/build/assets",
                         f"s3://{bucket}"], root)
    return elapsed, sum(line.startswith("upload:") for line in out.splitlines())


def _age(tree: Path) -> None:
    """Set every mtime a day back, so each run starts from a build older than its bucket."""
    then = time.time() - 86400
    for path in tree.rglob("*"):
        os.utime(path, (then, then))


def main() -> None:
    fixtures = _fixtures()
    server = ThreadedMotoServer(ip_address="localhost", port=0, verbose=False)
    server.start()
    endpoint = f"http://localhost:{server._server.server_port}"  # type: ignore[union-attr]
    home = Path(tempfile.mkdtemp(prefix="wplambda-bench-"))
    os.environ.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(home / "none"),
                      AWS_SHARED_CREDENTIALS_FILE=str(home / "none"))
    try:
        root = fixtures.make_project(home / "site")
        assets = root / ".wplambda" / "build" / "assets"
        files = fixtures.lay_out_assets(assets)
        size = sum(p.stat().st_size for p in assets.rglob("*") if p.is_file())
        s3 = boto3.client("s3")
        print(f"{files} files, {size / 1e6:.1f} MB, moto S3 at {endpoint}; median of {RUNS} runs\n")
        print(f"{'scenario':<34} {'wplambda s':>10} {'uploaded':>9} {'aws s3 sync s':>14} {'uploaded':>9} "
              f"{'speed-up':>9}")
        rows: dict[str, list[tuple[float, int, float, int]]] = {}
        for run in range(RUNS):
            kit_bucket, aws_bucket = f"bench-kit-{run}", f"bench-aws-{run}"
            s3.create_bucket(Bucket=kit_bucket)
            s3.create_bucket(Bucket=aws_bucket)
            _age(assets)  # a build made before this run's first upload
            rows.setdefault("(a) first upload", []).append(
                (*kit(root, kit_bucket), *aws_cli(root, aws_bucket)))
            rows.setdefault("(b) re-sync, nothing changed", []).append(
                (*kit(root, kit_bucket), *aws_cli(root, aws_bucket)))
            fixtures.renew_mtimes(assets)
            rows.setdefault("(c) re-sync after mtime renewal", []).append(
                (*kit(root, kit_bucket), *aws_cli(root, aws_bucket)))
        for name, samples in rows.items():
            kit_s = statistics.median(s[0] for s in samples)
            aws_s = statistics.median(s[2] for s in samples)
            kit_n, aws_n = samples[-1][1], samples[-1][3]
            print(f"{name:<34} {kit_s:>10.2f} {kit_n:>9} {aws_s:>14.2f} {aws_n:>9} {aws_s / kit_s:>8.1f}x")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
