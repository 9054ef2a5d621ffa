"""Where a dump waits between this machine and the console function.

A dump never travels in an invocation's payload (Lambda caps it at 6 MB): the function gets a URL.
Deployed, that is a presigned URL of the artifact bucket under :data:`PREFIX`, which a lifecycle
rule expires after a day even when a run is killed before it cleans up; locally, a ``file://`` URL
of a folder under ``.wplambda/local`` (the console process runs on this machine).
"""

from __future__ import annotations

import secrets
import shutil
import time
from pathlib import Path
from typing import Any, Protocol

from wp_lambda.aws import error_code
from wp_lambda.runtime import contract

PREFIX = "wplambda-dbio/"
RULE_ID = "wplambda-dbio-expiry"
EXPIRY_DAYS = 1


class Staging(Protocol):
    # Headers every request to put_url/get_url must carry: they are part of the URLs' signature.
    headers: dict[str, str]

    def put_url(self, name: str) -> str: ...
    def get_url(self, name: str) -> str: ...
    def send(self, source: Path, name: str) -> None: ...
    def receive(self, name: str, dest: Path) -> None: ...
    def discard(self) -> None: ...


class DirectoryStaging:
    """A private folder of this run, handed to the local console process as ``file://`` URLs.

    A run that was killed leaves its folder; the next run removes those older than a day, as the
    bucket's lifecycle rule does deployed (a younger one may belong to a run still going).
    """

    def __init__(self, parent: Path) -> None:
        self.headers: dict[str, str] = {}  # file:// URLs are signed by nothing
        parent.mkdir(parents=True, exist_ok=True)
        stale = time.time() - EXPIRY_DAYS * 86400
        for old in parent.glob("run-*"):
            if old.stat().st_mtime < stale:
                shutil.rmtree(old, ignore_errors=True)
        self.root = parent / f"run-{secrets.token_hex(6)}"
        self.root.mkdir(mode=0o700)

    def put_url(self, name: str) -> str:
        return (self.root / name).as_uri()

    get_url = put_url

    def send(self, source: Path, name: str) -> None:
        shutil.copyfile(source, self.root / name)

    def receive(self, name: str, dest: Path) -> None:
        shutil.copyfile(self.root / name, dest)

    def discard(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class BucketStaging:
    """Short-lived keys in the artifact bucket, reached by the function through presigned URLs.

    Every call names ``owner`` (this account) as the bucket's expected owner, the presigned URLs
    included: there ``x-amz-expected-bucket-owner`` becomes a signed header (the client must be
    SigV4, :meth:`wp_lambda.aws.Aws.client`), which the console function sends from :attr:`headers`.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html
    """

    def __init__(self, s3: Any, bucket: str, stack: str, expires: int, *, owner: str) -> None:
        self.s3 = s3
        self.owned = {"Bucket": bucket, "ExpectedBucketOwner": owner}
        self.headers = {contract.EXPECTED_BUCKET_OWNER_HEADER: owner}
        self.prefix = f"{PREFIX}{stack}/{secrets.token_hex(8)}/"
        self.expires = expires
        ensure_expiry_rule(s3, self.owned)

    def _key(self, name: str) -> str:
        return self.prefix + name

    def put_url(self, name: str) -> str:
        params = {**self.owned, "Key": self._key(name), "ContentType": contract.DUMP_CONTENT_TYPE}
        return str(self.s3.generate_presigned_url("put_object", Params=params, ExpiresIn=self.expires))

    def get_url(self, name: str) -> str:
        return str(self.s3.generate_presigned_url("get_object", Params={**self.owned, "Key": self._key(name)},
                                                  ExpiresIn=self.expires))

    def send(self, source: Path, name: str) -> None:
        self.s3.upload_file(str(source), self.owned["Bucket"], self._key(name),
                            ExtraArgs={"ExpectedBucketOwner": self.owned["ExpectedBucketOwner"]})

    def receive(self, name: str, dest: Path) -> None:
        self.s3.download_file(self.owned["Bucket"], self._key(name), str(dest),
                              ExtraArgs={"ExpectedBucketOwner": self.owned["ExpectedBucketOwner"]})

    def discard(self) -> None:
        for page in self.s3.get_paginator("list_objects_v2").paginate(**self.owned, Prefix=self.prefix):
            keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
            if keys:
                self.s3.delete_objects(**self.owned, Delete={"Objects": keys, "Quiet": True})


def ensure_expiry_rule(s3: Any, owned: dict[str, str]) -> None:
    """Add the rule expiring :data:`PREFIX` to the bucket's lifecycle, keeping every other rule.

    S3 replaces a bucket's whole lifecycle configuration on each put, so the existing rules are
    read first and written back with ours.
    """
    try:
        rules = s3.get_bucket_lifecycle_configuration(**owned).get("Rules", [])
    except Exception as exc:
        if error_code(exc) != "NoSuchLifecycleConfiguration":
            raise
        rules = []
    if any(rule.get("ID") == RULE_ID for rule in rules):
        return
    rules.append({"ID": RULE_ID, "Status": "Enabled", "Filter": {"Prefix": PREFIX},
                  "Expiration": {"Days": EXPIRY_DAYS},
                  "NoncurrentVersionExpiration": {"NoncurrentDays": EXPIRY_DAYS},
                  "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": EXPIRY_DAYS}})
    s3.put_bucket_lifecycle_configuration(**owned, LifecycleConfiguration={"Rules": rules})
