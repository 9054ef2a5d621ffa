"""Files a WordPress tree may hold that must never be shipped or answered: database dumps, archives,
backups, copies of ``wp-config.php`` and the folders backup plugins write to.

They are recognised by name, whatever their type, because a scanner asks for them by name
(``/wp-config.php.bak``, ``/backup.sql.gz``, ``/wp-content/updraft/``) and because their
contents are the site's secrets: the database password and salts, or the whole database. The
build refuses a tree holding one (:mod:`wp_lambda.bundle.private`) and the handler's routing
answers 404 for any such file it finds (:mod:`wp_lambda.runtime.routing`), so one that reaches the
document root anyway, through EFS or by hand, is still never served. One predicate serves both.
"""

from __future__ import annotations

import re

# *.sql and its compressed forms, and the files SQLite-backed sites keep their database in.
_DUMP = re.compile(r"\.(sql|mysql|sqlite3?)(\.(gz|bz2|xz|zst|zip|7z))?$")
# Archive formats (.tar.gz and friends end in .gz/.bz2/.xz); .wpress is All-in-One WP Migration's.
_ARCHIVE = re.compile(r"\.(zip|tar|tgz|tbz2?|txz|gz|bz2|xz|zst|7z|rar|wpress)$")
# What editors, deploy scripts and people leave beside a file they change.
_BACKUP = re.compile(r"(\.(bak|backup|old|orig|save|swp|swo)|~)$")
_WP_CONFIG = "wp-config"
# Backup plugins' folders directly under wp-content: UpdraftPlus (updraft), All-in-One WP Migration
# (ai1wm-backups), WP-DB-Backup (backup-db-*), Duplicator (backups-dup-*), BackUpWordPress
# (backupwordpress-*-backups), WPvivid (wpvividbackups)...
_BACKUP_DIR = re.compile(r"^(updraft|.*backup.*)$")

DUMP, ARCHIVE, BACKUP, WP_CONFIG_COPY, BACKUP_FOLDER = (
    "database dump", "archive", "backup", "copy of wp-config", "backup plugin's folder")


def kind(rel: str) -> str | None:
    """What makes the document-root path ``rel`` (posix, no leading slash) private, or None.

    Case is ignored, as a case-insensitive file system or a scanner would. A leading dot is
    ignored too, so an editor's ``.wp-config.php.swp`` counts as the copy it is.
    """
    parts = rel.lower().split("/")
    if len(parts) > 2 and parts[0] == "wp-content" and _BACKUP_DIR.match(parts[1]):
        return BACKUP_FOLDER
    name = parts[-1].lstrip(".")
    if name.startswith(_WP_CONFIG):
        return WP_CONFIG_COPY
    if _DUMP.search(name):
        return DUMP
    if _ARCHIVE.search(name):
        return ARCHIVE
    if _BACKUP.search(name):
        return BACKUP
    return None
