"""What ``wplambda import`` checks before it touches anything: the dump and the uploads folder.

Every refusal here is a :class:`UserError` (exit 2) raised before the dump is uploaded or a table
is created, so bad input never reaches the site. The scan reads the whole file once, which is also
what finds a truncated ``.gz``: gzip's end-of-stream marker and CRC are at its very end.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from wp_lambda.common.errors import UserError

# MySQL 8's default collations; MariaDB (10.x) and Aurora MySQL 5.7 lack them. dbio.php maps them.
COLLATION_MAP = {"utf8mb4_0900_bin": "utf8mb4_bin"}
SAFE_COLLATION = "utf8mb4_unicode_520_ci"
_MYSQL8_COLLATION = re.compile(rb"\butf8mb4_0900_\w+")
_CREATE = re.compile(rb"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?`?([^`\s(]+)`?", re.I)
_FIRST_WORD = re.compile(rb"^\s*(?:/\*[!M]?\d*\s*)?([A-Za-z]+)")
SQL_STARTS = {b"SET", b"CREATE", b"INSERT", b"DROP", b"LOCK", b"UNLOCK", b"USE", b"START", b"BEGIN", b"REPLACE",
              b"ALTER"}
# The tables every WordPress database has; a prefix is the part before them.
CORE_TABLES = ("options", "posts", "users", "usermeta")
LIVE_PREFIX = "wp_"
# Executable in an uploads folder: never copied (WordPress itself refuses to upload these).
PHP_SUFFIXES = (".php", ".phtml", ".phar", ".phps", ".pht", ".php3", ".php4", ".php5", ".php7", ".php8")


@dataclass
class DumpInfo:
    """What the scan found: the dump's WordPress prefix, its tables and the collations to map."""

    path: Path
    compressed: bool
    prefix: str
    tables: list[str]
    collations: dict[str, str] = field(default_factory=dict)
    other_tables: list[str] = field(default_factory=list)


def mapped_collation(name: str) -> str:
    return COLLATION_MAP.get(name, SAFE_COLLATION)


def _lines(path: Path, compressed: bool) -> Iterator[bytes]:
    opener = gzip.open if compressed else open
    with opener(path, "rb") as fh:
        yield from fh


def _looks_like_sql(head: bytes, path: Path) -> None:
    if b"\x00" in head:
        raise UserError(f"{path} is not an SQL dump: it holds binary data",
                        "pass the .sql (or .sql.gz) file written by mysqldump, wp db export or wplambda export")
    for line in head.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith((b"--", b"#")) or re.fullmatch(rb"/\*[^!].*\*/;?", stripped):
            continue
        match = _FIRST_WORD.match(stripped)
        if match and match.group(1).upper() in SQL_STARTS:
            return
        shown = stripped[:60].decode("utf-8", "replace")
        raise UserError(f"{path} is not an SQL dump: it starts with {shown!r}",
                        "pass the .sql (or .sql.gz) file written by mysqldump, wp db export or wplambda export")
    raise UserError(f"{path} holds no SQL statement", "pass a complete dump of the site's database")


def inspect_dump(path: Path, prefix: str | None = None) -> DumpInfo:
    """Scan the dump: SQL, complete, WordPress tables under one prefix (or ``prefix``)."""
    try:
        with path.open("rb") as fh:
            magic = fh.read(2)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}", "pass the path of an existing dump") from None
    compressed = magic == b"\x1f\x8b"
    tables: list[str] = []
    collations: set[str] = set()
    head = b""
    try:
        for line in _lines(path, compressed):
            if len(head) < 65536:
                head += line[:65536]
                if len(head) >= 65536 or b"\x00" in head:
                    _looks_like_sql(head, path)
            if line[:6].upper() == b"INSERT":
                continue  # rows: only table definitions and SET statements carry collations
            created = _CREATE.match(line)
            if created:
                tables.append(created.group(1).decode("utf-8", "replace"))
            collations.update(m.decode() for m in _MYSQL8_COLLATION.findall(line))
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise UserError(f"{path} is a damaged or truncated gzip file ({exc})",
                        "copy or download the dump again, and check it with `gzip -t`") from None
    if len(head) < 65536:
        _looks_like_sql(head, path)
    found = _wordpress_prefixes(tables)
    if prefix is not None:
        if prefix not in found:
            raise UserError(f"{path} has no WordPress tables with the prefix {prefix!r}"
                            f" (found: {', '.join(found) or 'none'})",
                            "pass --dump-prefix with one of the prefixes found, or drop it")
        chosen = prefix
    elif len(found) == 1:
        chosen = found[0]
    elif not found:
        shown = ", ".join(tables[:8]) + (" ..." if len(tables) > 8 else "")
        raise UserError(f"{path} has no WordPress tables (no *options, *posts, *users and *usermeta tables; "
                        f"tables: {shown or 'none'})",
                        "pass a dump of a WordPress database (mysqldump DBNAME, or wp db export)")
    else:
        raise UserError(f"{path} holds WordPress tables under several prefixes: {', '.join(found)}",
                        "pick the site's with --dump-prefix PREFIX")
    return DumpInfo(path, compressed, chosen, [t for t in tables if t.startswith(chosen)],
                    {name: mapped_collation(name) for name in sorted(collations)},
                    [t for t in tables if not t.startswith(chosen)])


def _wordpress_prefixes(tables: list[str]) -> list[str]:
    names = set(tables)
    return sorted(t[: -len("options")] for t in names
                  if t.endswith("options") and all(t[: -len("options")] + core in names for core in CORE_TABLES))


def is_php(key: str) -> bool:
    """Whether a file would be executable PHP (``x.php``, ``x.PHP``, ``x.php.suspected`` is not)."""
    return key.lower().endswith(PHP_SUFFIXES)
