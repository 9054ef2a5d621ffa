"""Step 1: WordPress core, from a pinned release, a URL, a local archive or a local directory.

A release is downloaded from ``WPLAMBDA_WORDPRESS_BASE_URL`` (default https://wordpress.org)
and verified against the SHA-1 wordpress.org publishes next to it; archives are cached and
extracted once under the user's cache dir, keyed by version and hash, so a rebuild never
downloads or unpacks again.
"""

from __future__ import annotations

import hashlib
import os
import re
import tarfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wp_lambda.bundle import themes
from wp_lambda.bundle.tree import content_digest, copy_tree, stat_signature
from wp_lambda.common import fetch
from wp_lambda.common.errors import UserError
from wp_lambda.common.files import atomic_dir
from wp_lambda.common.report import Reporter
from wp_lambda.config import Config

DEFAULT_BASE_URL = "https://wordpress.org"
VERSION_RE = re.compile(r"^\d+\.\d+(\.\d+)?$")
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")
# Files of the source tree that must not reach the function: a distribution's own config
# (Debian's wp-config.php reads /etc/wordpress) and Apache rules.
DROPPED = frozenset({"wp-config.php", ".htaccess"})


@dataclass(frozen=True)
class CoreSource:
    """Where WordPress core comes from; ``location`` is a URL or a resolved local path."""

    kind: str  # "release" | "url" | "archive" | "dir"
    location: str
    version: str | None
    sha1: str | None

    def fingerprint(self) -> str:
        """Cheap identity of the input, for the no-op check (no network, no content read)."""
        if self.kind in ("release", "url"):
            return f"{self.location}#{self.sha1 or ''}"
        return stat_signature(Path(self.location), skip=_dropped)


def base_url() -> str:
    return os.environ.get("WPLAMBDA_WORDPRESS_BASE_URL", DEFAULT_BASE_URL).rstrip("/")


def resolve(config: Config) -> CoreSource:
    """Interpret ``wordpress.source``: a version, a URL, or a path relative to the project."""
    source, sha1 = config.wordpress.source.strip(), config.wordpress.sha1 or None
    if VERSION_RE.match(source):
        return CoreSource("release", f"{base_url()}/wordpress-{source}.tar.gz", source, sha1)
    if fetch.is_url(source):
        return CoreSource("url", source, None, sha1)
    path = Path(source).expanduser()
    path = path if path.is_absolute() else config.root / path
    if path.is_dir():
        if not (path / "wp-settings.php").is_file():
            raise UserError(f"wordpress.source: {path} is not a WordPress tree (no wp-settings.php)",
                            "point it at the directory holding wp-settings.php, e.g. /usr/share/wordpress")
        return CoreSource("dir", str(path), read_version(path), sha1)
    if path.is_file() and path.name.endswith(ARCHIVE_SUFFIXES):
        return CoreSource("archive", str(path), None, sha1)
    raise UserError(f"wordpress.source: {source!r} is neither a version, a URL, nor an existing "
                    f"directory or .tar.gz/.zip file (looked at {path})",
                    "use a version such as \"6.8.3\", or a local copy such as /usr/share/wordpress")


def read_version(root: Path) -> str | None:
    """``$wp_version`` from wp-includes/version.php."""
    try:
        text = (root / "wp-includes" / "version.php").read_text(errors="replace")
    except FileNotFoundError:
        return None
    match = re.search(r"\$wp_version\s*=\s*'([^']+)'", text)
    return match.group(1) if match else None


def _published_sha1(url: str) -> str:
    """The SHA-1 wordpress.org publishes at ``<archive URL>.sha1``."""
    try:
        text = fetch.fetch_bytes(url + ".sha1", what="checksum").decode(errors="replace")
    except fetch.NotFound:
        raise UserError(f"no published checksum at {url}.sha1",
                        "set wordpress.sha1 in wplambda.toml to the archive's SHA-1") from None
    match = re.search(r"\b[0-9a-f]{40}\b", text)
    if not match:
        raise UserError(f"{url}.sha1 does not hold a SHA-1", "set wordpress.sha1 in wplambda.toml")
    return match.group(0)


def _download(source: CoreSource, reporter: Reporter) -> tuple[Path, str]:
    """The verified archive in the cache, downloading it if needed; returns (path, sha1)."""
    name = source.location.rsplit("/", 1)[-1]
    label = source.version or hashlib.sha256(source.location.encode()).hexdigest()[:12]
    try:
        expected = source.sha1 or _published_sha1(source.location)
    except UserError:
        # Offline: a release already in the cache is still good; its name carries its hash.
        for candidate in sorted((fetch.cache_dir() / "wordpress" / label).glob(f"*/{name}")):
            sha1 = candidate.parent.name
            if fetch.file_digest(candidate, "sha1") == sha1:
                reporter.note(f"offline: using the cached {name} (sha1 {sha1})")
                return candidate, sha1
        raise
    key = f"wordpress/{label}/{expected}/{name}"
    path = fetch.cache_dir() / key
    if path.is_file() and fetch.file_digest(path, "sha1") == expected:
        return path, expected
    with reporter.transfer(f"downloading {name}") as progress:
        data = fetch.fetch_bytes(source.location, progress=progress, what="WordPress release")
    actual = hashlib.sha1(data).hexdigest()
    if actual != expected:
        raise UserError(f"checksum mismatch for {source.location}: expected sha1 {expected}, got {actual}",
                        "the download is corrupt or was tampered with; retry, or check wordpress.sha1 "
                        "and the mirror (WPLAMBDA_WORDPRESS_BASE_URL)")
    fetch.cached(key, lambda: data)
    return path, expected


def _safe_members(names: list[str], archive: Path) -> None:
    for name in names:
        parts = Path(name).parts
        if name.startswith("/") or ".." in parts:
            raise UserError(f"{archive} holds an unsafe path {name!r}", "use an official WordPress archive")


def _extract(archive: Path, sha256: str) -> Path:
    """Extract once into the cache (keyed by content hash) and return the WordPress root in it."""
    dest = fetch.cache_dir() / "wordpress" / f"tree-{sha256}"
    if not dest.is_dir():
        with atomic_dir(dest) as tmp:
            if archive.name.endswith(".zip"):
                with zipfile.ZipFile(archive) as zf:
                    _safe_members(zf.namelist(), archive)
                    zf.extractall(tmp)
            else:
                try:
                    with tarfile.open(archive) as tf:
                        members = tf.getmembers()
                        _safe_members([m.name for m in members] + [m.linkname for m in members if m.linkname],
                                      archive)
                        # The "data" filter (Python >= 3.11.4) also strips modes and devices.
                        if hasattr(tarfile, "data_filter"):
                            tf.extractall(tmp, filter="data")
                        else:
                            tf.extractall(tmp)
                except tarfile.TarError as exc:
                    raise UserError(f"{archive} is not a readable tarball: {exc}",
                                    "re-download it, or use another wordpress.source") from exc
    for candidate in (dest, *sorted(p for p in dest.iterdir() if p.is_dir())):
        if (candidate / "wp-settings.php").is_file():
            return candidate
    raise UserError(f"{archive} holds no WordPress tree (no wp-settings.php)", "use an official WordPress archive")


def prepare(source: CoreSource, reporter: Reporter, pinned_themes: Iterable[str], *,
            excluded: Callable[[str], bool]) -> tuple[Path, dict[str, Any]]:
    """The WordPress root to copy from and the manifest entry describing it.

    The theme check comes before anything reads the whole tree, so a tree whose themes are
    only dangling links fails with the theme folder named rather than with one of its links.
    The digest covers what is shipped: files ``build.exclude`` names (a site backup can be
    gigabytes) are neither read nor copied (:func:`copy_core`).
    """
    entry: dict[str, Any] = {"kind": source.kind}
    if source.kind == "dir":
        root = Path(source.location)
        entry["themes"] = themes.require_theme(root, pinned_themes)
        entry["sha256"], entry["files"], entry["bytes"] = content_digest(
            root, skip=lambda rel: _dropped(rel) or excluded(rel))
    else:
        if source.kind == "archive":
            archive = Path(source.location)
            sha1 = fetch.file_digest(archive, "sha1")
            if source.sha1 and sha1 != source.sha1:
                raise UserError(f"checksum mismatch for {archive}: expected sha1 {source.sha1}, got {sha1}",
                                "fix wordpress.sha1 or use the right archive")
            entry["source"] = archive.name
        else:
            archive, sha1 = _download(source, reporter)
            entry["source"] = source.location
        sha256 = fetch.file_digest(archive)
        entry.update(sha1=sha1, sha256=sha256)
        root = _extract(archive, sha256)
        entry["themes"] = themes.require_theme(root, pinned_themes)
    entry["version"] = read_version(root)
    entry["translations"] = themes.translation_count(root)
    return root, entry


def _dropped(rel: str) -> bool:
    return rel in DROPPED or rel.startswith("wp-content/uploads/")


def copy_core(root: Path, dest: Path, excluded: Callable[[str], bool]) -> int:
    """Copy WordPress into the function tree, dereferencing links and dropping the source's config
    and the files ``build.exclude`` names."""
    return copy_tree(root, dest, skip=lambda rel: _dropped(rel) or excluded(rel))
