"""Step 5: deterministic zips, so the same inputs give byte-identical packages.

CloudFormation (through SAM) decides whether to publish a new function version or layer from
the artifact's hash; a zip that changed only in timestamps or entry order would redeploy for
nothing. Entries are sorted, dated 1980-01-01, owned by nobody, 0644 or 0755, and hold
relative paths only.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from wp_lambda.bundle.tree import mode_for, walk
from wp_lambda.common.fetch import file_digest

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
# Already-compressed formats: deflating them again costs time and saves nothing.
STORED_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".woff", ".woff2", ".zip", ".gz",
                             ".mp3", ".mp4", ".ogg", ".webm", ".ico"})
# Level 4: about half the time of zlib's default 6 for ~4% more bytes (measured on WordPress
# 6.1: 1.9 s vs 3.5 s, 25.6 MB vs 24.4 MB); the zip only travels to S3 once per change.
LEVEL = 4


def write_zip(tree: Path, dest: Path) -> tuple[int, str]:
    """Zip every file of ``tree`` into ``dest``; return (size in bytes, sha256)."""
    with zipfile.ZipFile(dest, "w") as zf:
        for rel, path in walk(tree):
            info = zipfile.ZipInfo(rel, date_time=FIXED_DATE)
            info.create_system = 3  # Unix, so the permission bits below are honoured
            info.external_attr = (0o100000 | mode_for(path.stat().st_mode)) << 16
            stored = os.path.splitext(rel)[1].lower() in STORED_SUFFIXES
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes(), compresslevel=None if stored else LEVEL)
    return dest.stat().st_size, file_digest(dest)
