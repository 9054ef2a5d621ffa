"""``sync-assets``: the build's static files -> the stack's assets bucket, uploading only what changed.

What changed is decided by content hash against a manifest the kit keeps in the bucket itself
(:data:`MANIFEST_KEY`), not by mtime or size like ``aws s3 sync``: every build writes fresh files,
so an mtime-based sync would re-upload all ~2,000 files on every deploy. The manifest also
records exactly which keys the kit created, which is what makes deletion safe: a key is deleted
only when the previous manifest lists it and the build no longer has it, and never under
:data:`UPLOADS_PREFIX`, so media and anything put there by hand survive every sync.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wp_lambda.aws import error_code
from wp_lambda.config import Assets
from wp_lambda.runtime.contract import UPLOADS_KEY_PREFIX
from wp_lambda.runtime.static import CONTENT_TYPES

MANIFEST_KEY = ".wplambda/assets-manifest.json"
MANIFEST_VERSION = 1
# The uploads bucket's keys (S3 Uploads writes there; CloudFront's uploads behaviour reads there).
UPLOADS_PREFIX = UPLOADS_KEY_PREFIX

DEFAULT_CONTENT_TYPE = "application/octet-stream"

# The long-lived rule. WordPress enqueues core, theme and plugin CSS/JS with `?ver=` and CloudFront
# caches on `ver`, so a new release is a new URL. Fonts and images in the same trees are loaded by
# those stylesheets and scripts and change only with a release too; when one does change, deploy
# invalidates exactly that path in CloudFront. Everything else (json, maps, txt, xml, html, files
# outside these trees) may change between releases under the same URL: short max-age.
VERSIONED_PREFIXES = ("wp-includes/", "wp-admin/", "wp-content/themes/", "wp-content/plugins/",
                      "wp-content/mu-plugins/")
VERSIONED_EXTENSIONS = frozenset({
    "css", "js", "mjs",
    "woff", "woff2", "ttf", "otf", "eot",
    "svg", "png", "jpg", "jpeg", "gif", "webp", "avif", "ico", "bmp",
})


def _extension(key: str) -> str:
    name = key.rpartition("/")[2]
    return name.rpartition(".")[2].lower() if "." in name.lstrip(".") else ""


def content_type(key: str) -> str:
    """The Content-Type for a key, from its extension (lower-cased), by the runtime's table.

    The function serves the same files with the same types (:mod:`wp_lambda.runtime.static`).
    """
    extension = _extension(key)
    return CONTENT_TYPES.get("." + extension, DEFAULT_CONTENT_TYPE) if extension else DEFAULT_CONTENT_TYPE


def cache_control(key: str, assets: Assets) -> str:
    """The Cache-Control for a key under the rule above and the ``[assets]`` config."""
    if key.startswith(VERSIONED_PREFIXES) and _extension(key) in VERSIONED_EXTENSIONS:
        return f"public, max-age={assets.versioned_max_age}"
    return f"public, max-age={assets.default_max_age}"


@dataclass(frozen=True)
class LocalFile:
    """One file of the build's assets tree and the metadata it gets in the bucket."""

    key: str
    path: Path
    size: int
    sha256: str
    content_type: str
    cache_control: str

    def entry(self) -> dict[str, Any]:
        """Its manifest entry: metadata included, so a Cache-Control change re-uploads it."""
        return {"sha256": self.sha256, "size": self.size, "content_type": self.content_type,
                "cache_control": self.cache_control}


def _sha256(path: Path) -> tuple[str, int]:
    """The file's SHA-256 and size, from one read."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _files(root: Path) -> dict[str, Path]:
    """Regular files under ``root`` by POSIX key, skipping dotfiles and dot-directories.

    os.walk rather than Path.rglob: on ~2,000 files it is several times faster, and a no-op sync
    is mostly this walk plus hashing.
    """
    found: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if not name.startswith(".") and os.path.isfile(full):
                found[name if rel == "." else f"{rel}/{name}"] = Path(full)
    return found


def scan(assets_dir: Path, assets: Assets, workers: int = 4) -> dict[str, LocalFile]:
    """Every file of the assets tree by bucket key, hashed (dotfiles are never published).

    Hashing runs on a few threads: hashlib releases the GIL, and it is most of a no-op sync.
    """
    paths = _files(assets_dir)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        digests = list(pool.map(_sha256, paths.values()))
    return {key: LocalFile(key, path, size, digest, content_type(key), cache_control(key, assets))
            for (key, path), (digest, size) in zip(paths.items(), digests, strict=True)}


@dataclass
class SyncPlan:
    """What a sync will do; computed before anything is written, shown as is by ``--dry-run``."""

    upload: list[LocalFile]
    unchanged: list[str]
    delete: list[str]
    # Keys whose bytes change under an existing URL: the only paths CloudFront must forget.
    changed: list[str]


def plan_sync(local: dict[str, LocalFile], manifest: dict[str, dict[str, Any]],
              present: set[str] | None = None) -> SyncPlan:
    """Diff the build against the previous manifest.

    With ``present`` (the keys really in the bucket, from a listing), a key the manifest lists but
    the bucket lacks (deleted by hand) is uploaded again; without it the manifest is trusted.
    """
    upload, unchanged, changed = [], [], []
    for key, item in local.items():
        previous = manifest.get(key)
        there = present is None or key in present
        if previous == item.entry() and there:
            unchanged.append(key)
            continue
        upload.append(item)
        if previous is not None and there:
            changed.append(key)
    delete = sorted(key for key in manifest
                    if key not in local and not key.startswith(UPLOADS_PREFIX) and key != MANIFEST_KEY)
    gone = (k for k in delete if present is None or k in present)
    return SyncPlan(upload, unchanged, delete, sorted([*changed, *gone]))


@dataclass
class SyncResult:
    """The outcome; :meth:`summary` is exactly what ``--json`` prints."""

    uploaded: int
    unchanged: int
    deleted: int
    bytes: int
    seconds: float
    changed_paths: list[str] = field(default_factory=list)
    dry_run: bool = False

    def summary(self) -> dict[str, Any]:
        return {"uploaded": self.uploaded, "unchanged": self.unchanged, "deleted": self.deleted,
                "bytes": self.bytes, "seconds": round(self.seconds, 3)}


def read_manifest(s3: Any, bucket: str) -> dict[str, dict[str, Any]]:
    """The previous sync's manifest (empty before the first sync)."""
    try:
        body = s3.get_object(Bucket=bucket, Key=MANIFEST_KEY)["Body"].read()
    except Exception as exc:
        if error_code(exc) in ("NoSuchKey", "404"):
            return {}
        raise
    data = json.loads(body)
    return dict(data["files"]) if data.get("version") == MANIFEST_VERSION else {}


def manifest_bytes(files: dict[str, dict[str, Any]]) -> bytes:
    """Canonical manifest bytes (sorted keys), so equal content hashes equal."""
    return json.dumps({"version": MANIFEST_VERSION, "files": files}, sort_keys=True,
                      separators=(",", ":")).encode()


def _present_keys(s3: Any, bucket: str) -> set[str]:
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.update(obj["Key"] for obj in page.get("Contents", []))
    return keys


def _delete(s3: Any, bucket: str, keys: Iterable[str]) -> None:
    batch = list(keys)
    for start in range(0, len(batch), 1000):
        chunk = batch[start:start + 1000]
        response = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk],
                                                              "Quiet": True})
        if response.get("Errors"):
            first = response["Errors"][0]
            raise RuntimeError(f"could not delete s3://{bucket}/{first['Key']}: {first['Message']}")


def sync(s3: Any, bucket: str, assets_dir: Path, assets: Assets, *, dry_run: bool = False,
         verify: bool = False, workers: int = 16, on_plan: Callable[[SyncPlan], None] | None = None,
         on_upload: Callable[[LocalFile], None] | None = None) -> SyncResult:
    """Sync ``assets_dir`` to ``bucket``; ``s3`` should have a pool of at least ``workers``.

    ``verify`` also lists the bucket to restore objects deleted behind the kit's back (one LIST
    per 1,000 keys; deploy always verifies, a plain sync trusts the manifest unless asked).
    The new manifest is written last and records only what really reached the bucket, so an
    interrupted sync is finished by the next one instead of being forgotten.
    """
    started = time.monotonic()
    local = scan(assets_dir, assets)
    manifest = read_manifest(s3, bucket)
    plan = plan_sync(local, manifest, _present_keys(s3, bucket) if verify else None)
    if on_plan:
        on_plan(plan)
    if dry_run:
        return SyncResult(len(plan.upload), len(plan.unchanged), len(plan.delete),
                          sum(f.size for f in plan.upload), time.monotonic() - started, plan.changed, True)

    def put(item: LocalFile) -> LocalFile:
        s3.put_object(Bucket=bucket, Key=item.key, Body=item.path.read_bytes(),
                      ContentType=item.content_type, CacheControl=item.cache_control)
        return item

    # Failed uploads keep their old entry (or none), so the next sync retries exactly them.
    new_manifest = {k: v for k, v in manifest.items() if k in local}
    new_manifest.update({k: local[k].entry() for k in plan.unchanged})
    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(put, item) for item in plan.upload]
        for future in as_completed(futures):
            try:
                done = future.result()
            except Exception as exc:
                failure = failure or exc
                continue
            new_manifest[done.key] = done.entry()
            if on_upload:
                on_upload(done)
    if failure is None and plan.delete:
        _delete(s3, bucket, plan.delete)
    else:
        new_manifest.update({k: manifest[k] for k in plan.delete})
    if new_manifest != manifest:
        s3.put_object(Bucket=bucket, Key=MANIFEST_KEY, Body=manifest_bytes(new_manifest),
                      ContentType="application/json", CacheControl="no-store")
    if failure is not None:
        raise failure
    return SyncResult(len(plan.upload), len(plan.unchanged), len(plan.delete),
                      sum(f.size for f in plan.upload), time.monotonic() - started, plan.changed)
