"""The steps of ``wplambda export`` and ``wplambda import``, for a deployed stack or the local site.

Export: the console function dumps the database into the staging area (``db-export``), the dump is
fetched and checked against the sha256 the function computed, the uploads are copied, and a
manifest is written last (an export folder with ``manifest.json`` is complete). Import: the dump
and the uploads folder are checked here first (bad input changes nothing), the site is backed up,
the console function restores the dump under a temporary prefix and swaps it in with one
``RENAME TABLE`` (``db-import``), then wp-cli's search-replace moves the old URL to the site's, and
the uploads are copied by content.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wp_lambda import __version__, assets_sync, remote
from wp_lambda.common.errors import UserError
from wp_lambda.common.files import atomic_write
from wp_lambda.common.report import Reporter
from wp_lambda.config import Assets, Config
from wp_lambda.dbio import checks, uploads
from wp_lambda.dbio.staging import BucketStaging, DirectoryStaging, Staging
from wp_lambda.runtime import contract

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
DUMP = "database.sql.gz"
UPLOADS_DIR = "uploads"


@dataclass
class Place:
    """One site to export from or import into, and how to reach each of its parts."""

    label: str  # "local site", "stack blog": for messages
    slug: str  # "local", "blog": for backup folder names
    target: remote.Target
    staging: Staging
    uploads: uploads.UploadsStore
    assets: Assets
    url: str | None = None  # the site's address when known without asking its database


@contextlib.contextmanager
def open_place(config: Config, *, stack: str | None, local: bool, profile: str | None = None,
               progress: Reporter | None = None, s3_endpoint: str | None = None,
               s3_bucket: str | None = None) -> Iterator[Place]:
    """The site ``--local`` or ``--stack NAME`` (default: ``site.name``) names, with its staging
    area and uploads store.

    Locally the uploads are serve's folder, or with ``s3_endpoint`` the bucket ``serve
    --s3-endpoint`` keeps them in (``s3_bucket``, default ``SITE-uploads``).
    """
    if s3_endpoint is not None and not local:
        raise UserError("--s3-endpoint goes with --local (a stack's uploads bucket comes from the stack)",
                        "drop --s3-endpoint, or use --local")
    with remote.open_target(config, stack=stack, local=local, profile=profile, progress=progress) as target:
        if local:
            from wp_lambda.serve import LocalPaths

            paths = LocalPaths.of(config)
            staging: Staging = DirectoryStaging(paths.root / "dbio")
            store: uploads.UploadsStore = uploads.DirectoryStore(paths.uploads)
            if s3_endpoint is not None:
                from wp_lambda.local.s3_uploads import UploadsBucket, default_bucket

                bucket = UploadsBucket.connect(config, s3_endpoint, s3_bucket or default_bucket(config),
                                               profile=profile)
                bucket.ensure()
                store = uploads.BucketStore(bucket.client, bucket.name)
            place = Place("local site", "local", target, staging, store, config.assets)
        else:
            from wp_lambda.stack import stack_name

            place = _stack_place(config, target, stack_name(config, stack), profile=profile)
        try:
            yield place
        finally:
            place.staging.discard()


def _stack_place(config: Config, target: remote.Target, stack: str, *, profile: str | None) -> Place:
    from wp_lambda import stack as stack_mod
    from wp_lambda.aws import connect
    from wp_lambda.deploy.execute import ensure_artifact_bucket
    from wp_lambda.deploy.plan import artifact_bucket

    aws = connect(config, profile=profile)
    cfn = aws.client("cloudformation")
    outputs = stack_mod.outputs(stack_mod.require(cfn, stack))
    bucket = outputs.get("UploadsBucketName") or stack_mod.physical_id(cfn, stack, stack_mod.UPLOADS_BUCKET)
    if not bucket:
        raise UserError(f"stack {stack!r} has no uploads bucket ({stack_mod.UPLOADS_BUCKET})",
                        "deploy the kit's template to it")
    s3 = aws.client("s3", max_pool_connections=uploads.WORKERS * 2)
    artifacts = artifact_bucket(config, aws)
    ensure_artifact_bucket(aws, artifacts, managed=not config.aws.artifact_bucket)
    staging = BucketStaging(s3, artifacts, stack, expires=config.console.timeout + 600, owner=aws.account_id())
    return Place(f"stack {stack}", stack, target, staging, uploads.BucketStore(s3, bucket), config.assets,
                 outputs.get("SiteUrl"))


def _call(place: Place, event: dict[str, Any], what: str, hint: str) -> dict[str, Any]:
    result = place.target.invoke(event)
    if "error" in result:
        raise UserError(f"{what} on the {place.label} failed: {result['error']}", hint)
    return result


def export_site(place: Place, out: Path, reporter: Reporter) -> dict[str, Any]:
    """Write ``out/database.sql.gz``, ``out/uploads/`` and ``out/manifest.json`` (last)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)  # present only once everything below is complete
    reporter.step(f"dumping the database of the {place.label}")
    dumped = _call(place, {contract.DIRECT_KEY: contract.DB_EXPORT, "put_url": place.staging.put_url(DUMP),
                           contract.DBIO_HEADERS_KEY: place.staging.headers},
                   "the database dump", "see the console function's log")
    part = out / f".{DUMP}.part"
    place.staging.receive(DUMP, part)
    if assets_sync._sha256(part)[0] != dumped["sha256"]:
        part.unlink()
        raise UserError(f"the dump fetched from the {place.label} does not match the sha256 the function computed",
                        "run the export again")
    os.replace(part, out / DUMP)
    reporter.note(f"{sum(dumped['tables'].values()):,} rows in {len(dumped['tables'])} tables, "
                  f"{dumped['bytes']:,} bytes compressed")
    reporter.step(f"copying uploads from {place.uploads.where}")
    with reporter.transfer("uploads") as progress:
        moved = uploads.pull(place.uploads, out / UPLOADS_DIR, progress=progress)
    reporter.note(f"{moved.copied} copied, {moved.unchanged} already there")
    manifest = {
        "version": MANIFEST_VERSION, "kit_version": __version__, "source": place.label,
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "site_url": dumped.get("site_url"), "wordpress_version": dumped.get("wordpress_version"),
        "table_prefix": dumped.get("prefix"), "tables": dumped["tables"],
        "database": {"file": DUMP, "sha256": dumped["sha256"], "bytes": dumped["bytes"]},
        "uploads": moved.files,
    }
    atomic_write(out / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


@dataclass
class ImportOptions:
    sql: Path
    uploads: Path | None = None
    from_url: str | None = None
    to_url: str | None = None
    dump_prefix: str | None = None
    backup_root: Path | None = None  # None: --no-backup


def check_url(value: str, option: str) -> str:
    """An absolute http(s) URL without a trailing slash, or exit 2 naming the option."""
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.query or parsed.fragment:
        raise UserError(f"{option} {value!r} is not a site URL", "pass it as http://example.com (scheme and host)")
    return value.rstrip("/")


def url_pattern(old: str) -> str:
    """A PCRE for ``old`` under http and https, with and without ``www.``, ending at a URL boundary."""
    parsed = urllib.parse.urlsplit(old)
    host = (parsed.hostname or "").removeprefix("www.")
    port = f":{parsed.port}" if parsed.port else ""
    return f"https?://(?:www\\.)?{re.escape(host + port + parsed.path.rstrip('/'))}(?![A-Za-z0-9.-])"


@dataclass
class CheckedImport:
    """The import's input, checked before anything is started or touched."""

    options: ImportOptions
    dump: checks.DumpInfo
    from_url: str | None
    to_url: str | None
    php_files: list[str]


def check_import(options: ImportOptions) -> CheckedImport:
    """Every check that needs no site: the dump, the uploads folder, the URLs (UserError: exit 2)."""
    dump = checks.inspect_dump(options.sql, options.dump_prefix)
    php_files: list[str] = []
    if options.uploads is not None:
        if not options.uploads.is_dir():
            raise UserError(f"--uploads {options.uploads} is not a folder",
                            "pass the wp-content/uploads folder of the old site")
        php_files = sorted(k for k in assets_sync._files(options.uploads) if checks.is_php(k))
    return CheckedImport(options, dump, check_url(options.from_url, "--from-url") if options.from_url else None,
                         check_url(options.to_url, "--url") if options.to_url else None, php_files)


def import_site(place: Place, checked: CheckedImport, reporter: Reporter,
                confirm: Callable[[str], bool]) -> dict[str, Any]:
    """Back up, restore, swap, search-replace, copy uploads; the summary ``--json`` prints."""
    options, dump, from_url = checked.options, checked.dump, checked.from_url
    for name, mapped in dump.collations.items():
        reporter.warn(f"{options.sql} uses the MySQL 8 collation {name}, which MariaDB and Aurora MySQL 2 lack: "
                      f"its tables are created with {mapped}")
    if checked.php_files:
        reporter.warn(f"{len(checked.php_files)} PHP file(s) in {options.uploads} are skipped (never copied into "
                      f"uploads): {', '.join(checked.php_files)}")
    status = _call(place, {contract.DIRECT_KEY: contract.DB_STATUS}, "reading the site's tables",
                   "see the console function's log")
    to_url = checked.to_url or place.url or status.get("site_url")
    if from_url and not to_url:
        raise UserError(f"the {place.label} has no WordPress installed, so its URL is unknown",
                        "pass --url with the address the site is served at")
    if from_url:
        probe = place.target.wp(["cli", "version"])
        if probe.exit_code != 0:  # search-replace runs after the swap: find out now that it cannot
            raise UserError(f"--from-url needs wp-cli in the {place.label}, and it cannot run: "
                            f"{(probe.stderr or probe.stdout).strip()[-500:]}",
                            "set build.wp_cli in wplambda.toml (then deploy, or restart serve); nothing was changed")
    rows = sum(status.get("tables", {}).values())
    if rows and not confirm(f"The {place.label} has {rows:,} rows in {len(status['tables'])} tables; "
                            "replace its database with the dump?"):
        raise UserError("import cancelled; nothing was changed", "type the name it asks for, or pass --yes")
    backup_dir = None
    if rows and options.backup_root is not None:
        backup_dir = options.backup_root / f"{place.slug}-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}"
        reporter.step(f"backing up the {place.label} to {backup_dir}")
        export_site(place, backup_dir, reporter)
    name = "import.sql.gz" if dump.compressed else "import.sql"
    reporter.step(f"uploading {options.sql} ({options.sql.stat().st_size:,} bytes)")
    place.staging.send(options.sql, name)
    reporter.step(f"restoring {len(dump.tables)} tables (prefix {dump.prefix}) into the {place.label}")
    restored = _call(place, {contract.DIRECT_KEY: contract.DB_IMPORT, "get_url": place.staging.get_url(name),
                             contract.DBIO_HEADERS_KEY: place.staging.headers, "from_prefix": dump.prefix},
                     "the import", "fix the statement it names in the dump and import again; the site was not changed")
    if restored.get("cleaned"):
        reporter.note(f"removed the temporary tables of an earlier import that was stopped: "
                      f"{', '.join(restored['cleaned'])}*")
    summary: dict[str, Any] = {
        "tables": restored["tables"], "statements": restored["statements"], "dump_prefix": dump.prefix,
        "collations_mapped": dump.collations, "skipped_tables": restored.get("skipped_tables", []),
        "backup_prefix": restored.get("backup_prefix"), "backup_dir": str(backup_dir) if backup_dir else None,
        "site_url": to_url, "admins": restored.get("admins", []), "replacements": None,
    }
    if from_url and to_url and from_url != to_url:
        reporter.step(f"replacing {from_url} (http/https, with and without www) with {to_url}")
        summary["replacements"] = search_replace(place, from_url, to_url, restored.get("backup_prefix"))
    if options.uploads is not None:
        reporter.step(f"copying uploads from {options.uploads} to {place.uploads.where}")
        with reporter.transfer("uploads") as progress:
            moved = uploads.push(options.uploads, place.uploads, place.assets, progress=progress)
        summary["uploads"] = {"copied": moved.copied, "unchanged": moved.unchanged, "bytes": moved.bytes,
                              "skipped_php": moved.skipped_php}
    return summary


def search_replace(place: Place, old: str, new: str, backup_prefix: str | None) -> int:
    """wp-cli's search-replace over every table of the site (serialized data stays valid); the count."""
    result = place.target.wp(["search-replace", url_pattern(old), new, "--regex", "--all-tables-with-prefix",
                              "--skip-plugins", "--skip-themes", "--format=count"])
    count = result.stdout.strip().splitlines()[-1:] if result.exit_code == 0 else []
    if not count or not count[0].isdigit():
        back = f" (`wplambda import --revert {backup_prefix}` puts the previous site back)" if backup_prefix else ""
        raise UserError(f"the database was imported, but wp search-replace failed (exit {result.exit_code}): "
                        f"{(result.stderr or result.stdout).strip()[-1000:]}{back}",
                        f"run `wplambda wp -- search-replace {old} {new} --all-tables-with-prefix` once the cause "
                        "is fixed")
    return int(count[0])


def revert(place: Place, backup_prefix: str) -> dict[str, Any]:
    """Swap the tables an earlier import kept (``backup_prefix``) back in; the current ones are kept."""
    return _call(place, {contract.DIRECT_KEY: contract.DB_REVERT, "backup_prefix": backup_prefix}, "the revert",
                 "pass the prefix an earlier import printed (its tables are kept as wpbkYYYYmmddHHMMSS_*)")


def drop_backups(place: Place) -> list[str]:
    return list(_call(place, {contract.DIRECT_KEY: contract.DB_DROP_BACKUPS}, "dropping the kept tables",
                      "see the console function's log")["dropped"])


def status(place: Place) -> dict[str, Any]:
    return _call(place, {contract.DIRECT_KEY: contract.DB_STATUS}, "reading the site's tables",
                 "see the console function's log")
