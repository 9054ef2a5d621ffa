"""Uploads in and out: a folder of media <-> the site's uploads (serve's folder, or the bucket).

Both directions go by content: a file whose bytes are already there is not copied again, so an
interrupted export or import is resumed by running it again. Hashing and content types come from
``sync-assets`` (:mod:`wp_lambda.assets_sync`). An import only adds or replaces files under
``wp-content/uploads/``: nothing is deleted, and PHP files are skipped and listed.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from wp_lambda import assets_sync
from wp_lambda.common import fetch
from wp_lambda.config import Assets
from wp_lambda.dbio.checks import is_php

WORKERS = 8


@dataclass(frozen=True)
class Stored:
    """One file as the site holds it: its size, and its MD5 when the store knows it cheaply."""

    size: int
    md5: str | None = None


class UploadsStore(Protocol):
    """Where a site keeps its uploads; keys are relative to ``wp-content/uploads/``."""

    where: str

    def list(self) -> dict[str, Stored]: ...
    def download(self, key: str, dest: Path) -> None: ...
    def upload(self, key: str, source: Path, item: assets_sync.LocalFile) -> None: ...


class DirectoryStore:
    """``serve``'s uploads folder (``.wplambda/local/uploads``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.where = str(root)

    def list(self) -> dict[str, Stored]:
        if not self.root.is_dir():
            return {}
        return {key: Stored(path.stat().st_size, fetch.file_digest(path, "md5"))
                for key, path in assets_sync._files(self.root).items()}

    def download(self, key: str, dest: Path) -> None:
        _copy(self.root / key, dest)

    def upload(self, key: str, source: Path, item: assets_sync.LocalFile) -> None:
        _copy(source, self.root / key)


class BucketStore:
    """The uploads bucket, under the prefix S3 Uploads writes to."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.where = f"s3://{bucket}/{assets_sync.UPLOADS_PREFIX}"

    def list(self) -> dict[str, Stored]:
        found: dict[str, Stored] = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                      Prefix=assets_sync.UPLOADS_PREFIX):
            for obj in page.get("Contents", []):
                etag = obj.get("ETag", "").strip('"')
                # A multipart upload's ETag is not the MD5 of the bytes ("-N" suffix): unknown then.
                found[obj["Key"][len(assets_sync.UPLOADS_PREFIX):]] = Stored(obj["Size"], None if "-" in etag else etag)
        return found

    def download(self, key: str, dest: Path) -> None:
        tmp = dest.with_name(f".{dest.name}.part")
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.s3.download_file(self.bucket, assets_sync.UPLOADS_PREFIX + key, str(tmp))
        os.replace(tmp, dest)

    def upload(self, key: str, source: Path, item: assets_sync.LocalFile) -> None:
        body = source.read_bytes()
        self.s3.put_object(Bucket=self.bucket, Key=assets_sync.UPLOADS_PREFIX + key, Body=body,
                           ContentType=item.content_type, CacheControl=item.cache_control,
                           ContentMD5=base64.b64encode(hashlib.md5(body).digest()).decode())


def _copy(source: Path, dest: Path) -> None:
    """Copy through a temp file beside ``dest``: a half-copied file never has the final name."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    shutil.copyfile(source, tmp)
    os.replace(tmp, dest)




def _same(local: Path, stored: Stored | None) -> bool:
    """Whether ``stored`` already holds ``local``'s bytes (size, then MD5 when it is known)."""
    if stored is None or local.stat().st_size != stored.size:
        return False
    return stored.md5 is None or stored.md5 == fetch.file_digest(local, "md5")


@dataclass
class Transfer:
    """What moved: ``files`` maps every key to its sha256 and size (the manifest's entries)."""

    copied: int = 0
    unchanged: int = 0
    bytes: int = 0
    skipped_php: list[str] = field(default_factory=list)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)


Progress = Callable[[int, int | None], None]  # bytes done, bytes in all (the build's download bars)


def _run(jobs: list[tuple[int, Callable[[], None]]], progress: Progress | None) -> None:
    """Run the copies (size, job) in parallel; the first failure is raised after the others finish."""
    failure: BaseException | None = None
    total, done = sum(size for size, _ in jobs), 0
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = {pool.submit(job): size for size, job in jobs}
        for future in as_completed(futures):
            try:
                future.result()
            except Exception as exc:
                failure = failure or exc
                continue
            done += futures[future]
            if progress:
                progress(done, total)
    if failure is not None:
        raise failure


def push(source: Path, store: UploadsStore, assets: Assets, *, progress: Progress | None = None) -> Transfer:
    """Copy ``source`` (a ``wp-content/uploads`` folder) into ``store``: new or changed files only."""
    local = assets_sync.scan(source, assets)
    result = Transfer(skipped_php=sorted(k for k in local if is_php(k)))
    present = store.list()
    jobs: list[tuple[int, Callable[[], None]]] = []
    for key, item in local.items():
        if key in result.skipped_php:
            continue
        result.files[key] = {"sha256": item.sha256, "size": item.size}
        if _same(item.path, present.get(key)):
            result.unchanged += 1
            continue
        result.copied += 1
        result.bytes += item.size
        jobs.append((item.size, functools.partial(store.upload, key, item.path, item)))
    _run(jobs, progress)
    return result


def pull(store: UploadsStore, dest: Path, *, progress: Progress | None = None) -> Transfer:
    """Copy every file of ``store`` into ``dest``; files already there with the same bytes stay."""
    result = Transfer()
    jobs: list[tuple[int, Callable[[], None]]] = []
    for key, stored in sorted(store.list().items()):
        target = dest / key
        if target.is_file() and _same(target, stored):
            result.unchanged += 1
            continue
        result.copied += 1
        result.bytes += stored.size
        jobs.append((stored.size, functools.partial(store.download, key, target)))
    _run(jobs, progress)
    for key, item in assets_sync.scan(dest, Assets()).items():
        result.files[key] = {"sha256": item.sha256, "size": item.size}
    return result
