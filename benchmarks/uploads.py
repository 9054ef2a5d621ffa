"""A 50 MB upload two ways under `wplambda serve --s3-endpoint` (moto's S3 on loopback): straight to
the bucket with a presigned POST, and through the Lambda handler with the 6 MB limit lifted locally.

Run: `.venv/bin/python -m benchmarks.uploads [--mb 50] [--rounds 3]`.
Both paths make the same attachment (the real S3 Uploads from ../shared/composer/artifacts writes to
moto's bucket): (a) direct: POST the kit's presign route, POST the form and the file to the bucket,
POST the complete route (what the browser does, here from Python); (b) handler: POST the file to
WordPress's REST media route, which becomes one Lambda event (the body base64-encoded in it) for
the handler, php-fpm and S3 Uploads, as it would on Lambda if the 6 MB limit did not exist.
php.ini's upload limits and serve's --max-body are raised in the throwaway site so that (b) can
run at all ((a) never reaches them). The rounds alternate the two paths; it prints the median time of each, their
ratio, and the RSS of the handler processes (python + php-fpm, sampled every 20 ms): the peak, and
the largest growth during one upload (PHP keeps memory it once used, so the peak alone would
credit one path with the other's).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from benchmarks.serve_load import handler_pids, rss_mib
from tests.support.helpers import moto_server, real_s3_uploads_repositories
from tests.support.serve import ADMIN_PASSWORD, Served, fetch, init_site, login, serving


class PeakRss:
    """The largest RSS the handler processes reach while the block runs."""

    def __init__(self, serve_pid: int) -> None:
        self.serve_pid = serve_pid
        self.start = rss_mib(handler_pids(serve_pid))
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib(handler_pids(self.serve_pid)))
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def multipart(fields: dict[str, str], content: bytes, content_type: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n'
                 f"Content-Type: {content_type}\r\n\r\n".encode() + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    content = os.urandom(args.mb * 1024 * 1024)
    limit = f"{args.mb + 16}M"
    with tempfile.TemporaryDirectory(prefix="wplambda-uploads-") as tmp, moto_server() as endpoint:
        os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench-secret",
                          AWS_DEFAULT_REGION="us-east-1",
                          WPLAMBDA_COMPOSER_REPOSITORIES=real_s3_uploads_repositories())
        project = init_site(Path(tmp) / "site", "uploads")
        config = project / "wplambda.toml"
        config.write_text(config.read_text().replace(
            "[php.ini]\n", f'[php.ini]\nupload_max_filesize = "{limit}"\npost_max_size = "{limit}"\n', 1))
        with serving(project, "--install", "--admin-password", ADMIN_PASSWORD, "--workers", "1",
                     "--s3-endpoint", endpoint, "--s3-bucket", "bench-media", "--max-body", limit) as served:
            run(served, content, args.rounds, args.mb)


def run(served: Served, content: bytes, rounds: int, mb: int) -> None:
    opener = login(served)
    nonce = fetch(f"{served.url}/wp-admin/admin-ajax.php?action=rest-nonce", opener=opener)[2].decode()
    rest = {"X-WP-Nonce": nonce}

    def route(path: str, payload: dict[str, object]) -> dict[str, object]:
        status, _, body = fetch(f"{served.url}/?rest_route={path}", data=json.dumps(payload).encode(), opener=opener,
                                headers={**rest, "Content-Type": "application/json"})
        assert status == 201, body[:300]
        return json.loads(body)

    def direct(name: str) -> None:
        target = route("/wplambda/v1/uploads", {"filename": name, "type": "video/mp4", "size": len(content)})
        body, kind = multipart(target["fields"], content, "video/mp4")  # type: ignore[arg-type]
        status, _, answer = fetch(str(target["url"]), data=body, headers={"Content-Type": kind})
        assert status < 300, answer
        route("/wplambda/v1/uploads/complete", {"key": target["key"]})

    def through_handler(name: str) -> None:
        status, _, answer = fetch(f"{served.url}/?rest_route=/wp/v2/media", data=content, opener=opener, headers={
            **rest, "Content-Type": "video/mp4", "Content-Disposition": f'attachment; filename="{name}"'})
        assert status == 201, answer[:300]

    paths: dict[str, Callable[[str], None]] = {"direct to the bucket": direct, "through the handler": through_handler}
    times: dict[str, list[float]] = {name: [] for name in paths}
    peaks: dict[str, float] = dict.fromkeys(paths, 0.0)
    growth: dict[str, float] = dict.fromkeys(paths, 0.0)
    idle = rss_mib(handler_pids(served.process.pid))
    for round_ in range(rounds):
        for label, upload in paths.items():
            with PeakRss(served.process.pid) as rss:
                started = time.perf_counter()
                upload(f"bench-{round_}-{uuid.uuid4().hex[:6]}.mp4")
                times[label].append(time.perf_counter() - started)
            peaks[label] = max(peaks[label], rss.peak)
            growth[label] = max(growth[label], rss.peak - rss.start)
    print(f"{mb} MB upload under wplambda serve --s3-endpoint (moto), {rounds} rounds, 1 handler process; "
          f"handler RSS idle {idle:.1f} MiB")
    print(f"{'path':<24}{'median s':>10}{'min s':>8}{'max s':>8}{'peak RSS MiB':>14}{'RSS growth MiB':>16}")
    for label in paths:
        print(f"{label:<24}{statistics.median(times[label]):>10.2f}{min(times[label]):>8.2f}"
              f"{max(times[label]):>8.2f}{peaks[label]:>14.1f}{growth[label]:>16.1f}")
    ratio = statistics.median(times["through the handler"]) / statistics.median(times["direct to the bucket"])
    print(f"handler/direct time ratio: {ratio:.2f}x; RSS growth ratio: "
          f"{growth['through the handler'] / max(growth['direct to the bucket'], 0.1):.1f}x")


if __name__ == "__main__":
    main()
