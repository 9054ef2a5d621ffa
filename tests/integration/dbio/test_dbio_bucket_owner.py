"""Export's and import's staging in the artifact bucket names this account as the bucket's owner.

Every boto3 call of :class:`~wp_lambda.dbio.staging.BucketStaging` carries ``ExpectedBucketOwner``,
and so do its presigned URLs: there ``x-amz-expected-bucket-owner`` is a signed header, so the
console function must send it, and does (it comes in the event's ``headers``). moto's server
stores and serves the dump; it ignores the owner, so the header is read where botocore puts it
(tests.support.s3_calls) and, for the function's own requests, where a local HTTP server receives it.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html
"""

from __future__ import annotations

import http.server
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import boto3
import pytest

from tests.support.helpers import moto_server
from tests.support.s3_calls import S3Recorder
from wp_lambda.aws import Aws
from wp_lambda.dbio.staging import BucketStaging
from wp_lambda.runtime import contract, dbio

REGION = "us-east-1"
STAGING_CALLS = {"GetBucketLifecycleConfiguration", "PutBucketLifecycleConfiguration", "PutObject", "HeadObject",
                 "GetObject", "ListObjectsV2", "DeleteObjects"}


@pytest.fixture()
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """The kit's own session and clients (SigV4 S3 client included), pointed at moto's server."""
    with moto_server() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
        yield Aws(session=session, region=REGION, profile=None)


def test_staging_and_the_function_name_the_owner_on_every_request(aws: Aws, tmp_path: Path) -> None:
    recorder = S3Recorder()
    recorder.register(aws.session.events)
    s3 = aws.client("s3")
    account = aws.account_id()
    s3.create_bucket(Bucket="artifacts")
    staging = BucketStaging(s3, "artifacts", "blog", expires=60, owner=account)
    assert staging.headers == {contract.EXPECTED_BUCKET_OWNER_HEADER: account}

    # Export: the function PUTs the dump to the presigned URL; the CLI downloads it.
    put_url = staging.put_url("database.sql.gz")
    signed = urllib.parse.parse_qs(urllib.parse.urlsplit(put_url).query)["X-Amz-SignedHeaders"][0].split(";")
    assert contract.EXPECTED_BUCKET_OWNER_HEADER in signed and "content-type" in signed
    dump = tmp_path / "dump.sql.gz"
    dump.write_bytes(b"\x1f\x8b dump bytes")
    dbio._upload(dump, put_url, staging.headers, {}, timeout=30)
    staging.receive("database.sql.gz", tmp_path / "fetched")
    assert (tmp_path / "fetched").read_bytes() == dump.read_bytes()

    # Import: the CLI uploads the dump; the function GETs it from the presigned URL.
    staging.send(dump, "import.sql.gz")
    get_url = staging.get_url("import.sql.gz")
    signed = urllib.parse.parse_qs(urllib.parse.urlsplit(get_url).query)["X-Amz-SignedHeaders"][0].split(";")
    assert contract.EXPECTED_BUCKET_OWNER_HEADER in signed
    with dbio._open_source(get_url, staging.headers, {}, timeout=30) as stream:
        assert stream.read() == dump.read_bytes()

    staging.discard()
    assert s3.list_objects_v2(Bucket="artifacts", ExpectedBucketOwner=account).get("KeyCount") == 0
    on_bucket = recorder.on("artifacts")
    assert STAGING_CALLS.issubset(name for name, _ in on_bucket)
    assert [(name, owner) for name, owner in on_bucket if name != "CreateBucket" and owner != account] == []


class _Capture(http.server.BaseHTTPRequestHandler):
    """Records the headers of each request and answers 200: what S3 sees of the function's requests."""

    seen: ClassVar[list[dict[str, str]]] = []

    def _answer(self) -> None:
        self.seen.append({k.lower(): v for k, v in self.headers.items()})
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_PUT = _answer

    def log_message(self, *_: object) -> None:
        pass


def test_the_function_sends_the_signed_headers_it_is_given(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/wplambda-dbio/blog/x/database.sql.gz"
        source = tmp_path / "dump.gz"
        source.write_bytes(b"gz")
        headers = {contract.EXPECTED_BUCKET_OWNER_HEADER: "123456789012"}
        dbio._upload(source, url, headers, {}, timeout=5)
        with dbio._open_source(url, headers, {}, timeout=5) as stream:
            assert stream.read() == b"ok"
    finally:
        server.shutdown()
    put, get = _Capture.seen
    assert put[contract.EXPECTED_BUCKET_OWNER_HEADER] == "123456789012"
    assert put["content-type"] == contract.DUMP_CONTENT_TYPE
    assert get[contract.EXPECTED_BUCKET_OWNER_HEADER] == "123456789012"


@pytest.mark.parametrize("headers", [
    "x-amz-expected-bucket-owner: 1",
    {"x-amz-expected-bucket-owner": 1},
    {"host": "elsewhere.example"},
    {"x-amz-expected-bucket-owner": "1\r\nx-injected: 1"},
])
def test_headers_other_than_signed_amz_strings_are_refused(headers: object) -> None:
    assert dbio._signed_headers({"headers": headers}) is None
    assert dbio._signed_headers({}) == {}  # a CLI from before the owner check sends none
    assert dbio._signed_headers({"headers": {"x-amz-expected-bucket-owner": "1"}}) == {
        "x-amz-expected-bucket-owner": "1"}
