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

PREFIX = "wplambda-dbio/"
RULE_ID = "wplambda-dbio-expiry"
EXPIRY_DAYS = 1


class Staging(Protocol):
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
    """Short-lived keys in the artifact bucket, reached by the function through presigned URLs."""

    def __init__(self, s3: Any, bucket: str, stack: str, expires: int) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = f"{PREFIX}{stack}/{secrets.token_hex(8)}/"
        self.expires = expires
        ensure_expiry_rule(s3, bucket)

    def _key(self, name: str) -> str:
        return self.prefix + name

    def put_url(self, name: str) -> str:
        return str(self.s3.generate_presigned_url("put_object", Params={"Bucket": self.bucket, "Key": self._key(name),
                                                                          "ContentType": "application/gzip"},
                                                  ExpiresIn=self.expires))

    def get_url(self, name: str) -> str:
        return str(self.s3.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": self._key(name)},
                                                  ExpiresIn=self.expires))

    def send(self, source: Path, name: str) -> None:
        self.s3.upload_file(str(source), self.bucket, self._key(name))

    def receive(self, name: str, dest: Path) -> None:
        self.s3.download_file(self.bucket, self._key(name), str(dest))

    def discard(self) -> None:
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
            if keys:
                self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})


def ensure_expiry_rule(s3: Any, bucket: str) -> None:
    """Add the rule expiring :data:`PREFIX` to the bucket's lifecycle, keeping every other rule.

    S3 replaces a bucket's whole lifecycle configuration on each put, so the existing rules are
    read first and written back with ours.
    """
    try:
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])
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
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
