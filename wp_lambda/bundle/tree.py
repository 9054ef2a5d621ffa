"""File-tree primitives the build steps share: listing, copying with normalised modes, hashing.

Every tree the build writes has the same shape rules (no symlinks, files 0644 or 0755, no
source mtimes relied upon), so the zips made from them depend on content only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from wp_lambda.common.errors import UserError

FILE_MODE = 0o644
EXEC_MODE = 0o755


def walk(root: Path) -> Iterator[tuple[str, Path]]:
    """Every file under ``root`` (symlinks followed) as (posix relative path, path), sorted."""
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        base = Path(dirpath)
        for name in filenames:
            path = base / name
            found.append((path.relative_to(root).as_posix(), path))
    found.sort()
    yield from found


def mode_for(st_mode: int) -> int:
    """The normalised mode: 0755 when the source is executable by anyone, else 0644."""
    return EXEC_MODE if st_mode & 0o111 else FILE_MODE


def unreadable(path: Path, exc: OSError) -> UserError:
    """The user's error for a source file that cannot be read: a dangling link names its target.

    Any such file stops the build rather than being skipped: core and plugins include their
    files by name, so a site built without one fails at request time, far from the cause.
    """
    if path.is_symlink() and not path.exists():
        return UserError(f"{path} is a dangling symlink to {os.readlink(path)}",
                         "restore its target, or remove the link from the source tree")
    return UserError(f"cannot read {path}: {exc.strerror or exc}",
                     "fix its permissions (the build must read every file of the tree), or remove it")


def copy_file(src: Path, dest: Path, *, mode: int | None = None) -> None:
    """Copy content only (symlinks dereferenced), with a normalised mode."""
    try:
        st = src.stat()
    except OSError as exc:
        raise unreadable(src, exc) from None
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copyfile(src, dest)
    except PermissionError as exc:
        if exc.filename == str(src):
            raise unreadable(src, exc) from None
        raise
    os.chmod(dest, mode if mode is not None else mode_for(st.st_mode))


def copy_tree(src: Path, dest: Path, *, skip: Callable[[str], bool] = lambda rel: False) -> int:
    """Copy every file of ``src`` into ``dest`` (dereferenced, modes normalised); return the count."""
    count = 0
    for rel, path in walk(src):
        if skip(rel):
            continue
        copy_file(path, dest / rel)
        count += 1
    return count


def stat_signature(root: Path, *, skip: Callable[[str], bool] = lambda rel: False) -> str:
    """A cheap fingerprint of a tree from names, sizes, mtimes and exec bits (no content read).

    It drives the no-op check only: a touched file makes the build run again, and the content
    hashes then prove the outputs identical.
    """
    digest = hashlib.sha256()
    if not root.exists():
        return "absent"
    if root.is_file():
        st = root.stat()
        return hashlib.sha256(f"{st.st_size}:{st.st_mtime_ns}:{st.st_mode}".encode()).hexdigest()
    for rel, path in walk(root):
        if skip(rel):
            continue
        try:
            st = path.stat()
        except FileNotFoundError:
            digest.update(f"{rel}\0broken\n".encode())
            continue
        digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_mode & 0o111}\n".encode())
    return digest.hexdigest()


def content_digest(root: Path, *, skip: Callable[[str], bool] = lambda rel: False) -> tuple[str, int, int]:
    """(sha256 over every file's path, mode and content; file count; total bytes) of a tree."""
    digest = hashlib.sha256()
    count = size = 0
    for rel, path in walk(root):
        if skip(rel):
            continue
        file_hash = hashlib.sha256()
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    file_hash.update(chunk)
                    size += len(chunk)
        except OSError as exc:
            raise unreadable(path, exc) from None
        digest.update(f"{rel}\0{mode_for(path.stat().st_mode):o}\0{file_hash.hexdigest()}\n".encode())
        count += 1
    return digest.hexdigest(), count, size


def digest_json(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()

