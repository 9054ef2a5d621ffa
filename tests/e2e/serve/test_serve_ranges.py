"""`Range` requests through serve's gateway, as S3 and CloudFront answer them, so a video can seek.

Both origins are checked with the same cases: an upload read from moto's S3 bucket (the range
goes to S3) and a static file of the build's assets (the gateway slices the file itself).
Several ranges in one request get the whole object with 200, as S3 answers them (it serves one
range per GET); moto's S3 does the same, so both origins agree.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.helpers import real_s3_uploads_repositories
from tests.support.serve import Served, fetch, init_site, s3_client, serving
from wp_lambda.local import ranges

BUCKET = "range-media"
VIDEO_KEY = "wp-content/uploads/2026/12/clip.mp4"
ASSET = "wp-includes/js/jquery/jquery.min.js"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: tuple[str, str],
         debian_wordpress: Path) -> Iterator[Served]:
    endpoint, _ = s3_endpoint
    project = init_site(tmp_path_factory.mktemp("ranges") / "site", "ranges")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WPLAMBDA_COMPOSER_REPOSITORIES", real_s3_uploads_repositories())
        with serving(project, "--workers", "1", "--s3-endpoint", endpoint, "--s3-bucket", BUCKET) as server:
            yield server


@pytest.fixture(scope="module")
def video(site: Served, s3_endpoint: tuple[str, str]) -> bytes:
    content = os.urandom(300_001)
    s3_client(s3_endpoint[0]).put_object(Bucket=BUCKET, Key=VIDEO_KEY, Body=content, ContentType="video/mp4")
    return content


@pytest.fixture(scope="module", params=["upload", "asset"])
def target(request: pytest.FixtureRequest, site: Served, video: bytes) -> tuple[str, bytes]:
    """(URL, the full content) for each origin."""
    if request.param == "upload":
        return f"{site.url}/{VIDEO_KEY}", video
    return f"{site.url}/{ASSET}", (site.project / ".wplambda" / "build-serve" / "assets" / ASSET).read_bytes()


@pytest.mark.parametrize(("header", "first", "last"), [
    ("bytes=0-99", 0, 99),                 # the first bytes
    ("bytes=1000-1999", 1000, 1999),       # the middle
    ("bytes=-500", -500, -1),              # the suffix
    ("bytes=2000-", 2000, -1),             # from an offset to the end (what a seeking player sends)
    ("bytes=0-99999999", 0, -1),           # past the end: clipped
])
def test_one_range_is_a_206_with_content_range(target: tuple[str, bytes], header: str, first: int,
                                               last: int) -> None:
    url, content = target
    size = len(content)
    start, end = first % size, last % size
    status, headers, body = fetch(url, headers={"Range": header})
    assert status == 206, body[:200]
    assert body == content[start:end + 1]
    assert headers["content-range"] == f"bytes {start}-{end}/{size}"
    assert headers["content-length"] == str(end - start + 1)
    assert headers["accept-ranges"] == "bytes"


def test_an_unsatisfiable_range_is_a_416_with_the_size(target: tuple[str, bytes]) -> None:
    url, content = target
    for header in (f"bytes={len(content)}-", f"bytes={len(content) + 10}-{len(content) + 20}", "bytes=-0"):
        status, headers, _ = fetch(url, headers={"Range": header})
        assert status == 416, header
        assert headers["content-range"] == f"bytes */{len(content)}"


def test_several_ranges_get_the_whole_object_as_from_s3(target: tuple[str, bytes]) -> None:
    url, content = target
    status, headers, body = fetch(url, headers={"Range": "bytes=0-9,100-109"})
    assert status == 200 and body == content and "content-range" not in headers


def test_no_range_or_a_malformed_one_is_a_plain_200(target: tuple[str, bytes]) -> None:
    url, content = target
    for extra in ({}, {"Range": "bytes=abc"}, {"Range": "items=0-9"}, {"Range": "bytes=50-10"}):
        status, headers, body = fetch(url, headers=extra)
        assert status == 200 and body == content, extra
        assert headers["accept-ranges"] == "bytes"


def test_head_with_a_range_has_the_headers_and_no_body(target: tuple[str, bytes]) -> None:
    url, content = target
    status, headers, body = fetch(url, headers={"Range": "bytes=10-19"}, method="HEAD")
    assert status == 206 and body == b""
    assert headers["content-range"] == f"bytes 10-19/{len(content)}"


def test_resolve_units() -> None:
    """The parser alone, for the edges a server rarely sees."""
    assert ranges.resolve("bytes=0-0", 1) == ranges.ByteRange(0, 0, 1)
    assert ranges.resolve("bytes=-5", 3) == ranges.ByteRange(0, 2, 3)
    assert ranges.resolve(" bytes = 1 - 2 ", 10) == ranges.ByteRange(1, 2, 10)
    assert ranges.resolve("bytes=-", 10) is None
    assert ranges.resolve(None, 10) is None
    with pytest.raises(ranges.Unsatisfiable):
        ranges.resolve("bytes=0-", 0)
    with pytest.raises(ranges.Unsatisfiable):
        ranges.resolve("bytes=-1", 0)
