"""``export`` and ``import``: a site's database and uploads out to a folder, and in from a dump."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from wp_lambda import config as config_mod
from wp_lambda.cli.app import ConsoleReporter, StderrReporter, out, print_json
from wp_lambda.cli.options import JsonOption, LocalOption, ProfileOption, ProjectOption, StackOption, YesOption
from wp_lambda.common.errors import UserError
from wp_lambda.dbio import service

BACKUPS = Path(".wplambda") / "backups"
S3EndpointOption = Annotated[str | None, typer.Option(
    "--s3-endpoint", help="With --local: the uploads are in a bucket of this S3-compatible endpoint, as under "
                          "`serve --s3-endpoint` (default: serve's uploads folder).")]
S3BucketOption = Annotated[str | None, typer.Option("--s3-bucket", help="The bucket for --s3-endpoint "
                                                    "(default: SITE-uploads, as serve).")]


def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write (created; an interrupted "
                                         "export is resumed by running it again).")],
    stack: StackOption = None,
    local: LocalOption = False,
    project: ProjectOption = Path(),
    json_out: JsonOption = False,
    profile: ProfileOption = None,
    s3_endpoint: S3EndpointOption = None,
    s3_bucket: S3BucketOption = None,
) -> None:
    """Back up a site: database.sql.gz, uploads/ and manifest.json (URL, versions, rows, sha256 of every file)."""
    cfg = config_mod.load(project)
    reporter = StderrReporter() if json_out else ConsoleReporter()
    with service.open_place(cfg, stack=stack, local=local, profile=profile, progress=reporter,
                            s3_endpoint=_endpoint(s3_endpoint), s3_bucket=s3_bucket) as place:
        manifest = service.export_site(place, output, reporter)
    if json_out:
        print_json({"output": str(output), **{k: manifest[k] for k in ("site_url", "wordpress_version",
                                                                      "table_prefix", "tables", "database")},
                    "uploads": len(manifest["uploads"])})
        return
    out.print(f"[green]exported[/] {escape(manifest['site_url'] or place.label)} to {escape(str(output))}: "
              f"{sum(manifest['tables'].values()):,} rows in {len(manifest['tables'])} tables, "
              f"{len(manifest['uploads'])} uploads (manifest.json lists them with their sha256)")


def import_(
    sql: Annotated[Path | None, typer.Option("--sql", help="The dump: .sql or .sql.gz (mysqldump, wp db export, "
                                             "wplambda export).")] = None,
    stack: StackOption = None,
    local: LocalOption = False,
    uploads: Annotated[Path | None, typer.Option("--uploads", help="The old site's wp-content/uploads folder: "
                                                 "copied by content, PHP files skipped, nothing deleted.")] = None,
    from_url: Annotated[str | None, typer.Option("--from-url", help="The old site's URL: replaced (http and https, "
                                                 "with and without www) by the site's with wp search-replace.")] = None,
    url: Annotated[str | None, typer.Option("--url", help="The site's URL to replace --from-url with (default: "
                                            "the stack's SiteUrl, or the local site's own).")] = None,
    dump_prefix: Annotated[str | None, typer.Option("--dump-prefix", help="The dump's table prefix, when it holds "
                                                    "more than one WordPress site.")] = None,
    yes: YesOption = False,
    no_backup: Annotated[bool, typer.Option("--no-backup", help="Do not export the current site to "
                                            ".wplambda/backups/ first.")] = False,
    revert: Annotated[str | None, typer.Option("--revert", help="Swap back the tables an earlier import kept "
                                               "(the backup prefix it printed, e.g. wpbk20260101120000_).")] = None,
    drop_old: Annotated[bool, typer.Option("--drop-old", help="Drop the tables earlier imports kept.")] = False,
    project: ProjectOption = Path(),
    json_out: JsonOption = False,
    profile: ProfileOption = None,
    s3_endpoint: S3EndpointOption = None,
    s3_bucket: S3BucketOption = None,
) -> None:
    """Replace a site's database with a dump (built under a temporary prefix, swapped in atomically).

    The tables it replaces are kept under a dated prefix (wpbk...) until --drop-old; --revert PREFIX
    swaps them back.
    """
    cfg = config_mod.load(project)
    if sum((sql is not None, revert is not None, drop_old)) != 1:
        raise UserError("say what to do: --sql DUMP (import), --revert PREFIX or --drop-old",
                        "pass exactly one of them")
    checked = None
    if sql is not None:
        checked = service.check_import(service.ImportOptions(
            sql, uploads, from_url, url, dump_prefix, None if no_backup else cfg.root / BACKUPS))
    reporter = StderrReporter() if json_out else ConsoleReporter()
    with service.open_place(cfg, stack=stack, local=local, profile=profile, progress=reporter,
                            s3_endpoint=_endpoint(s3_endpoint), s3_bucket=s3_bucket) as place:
        if revert is not None:
            result: dict[str, Any] = service.revert(place, revert)
            message = (f"[green]reverted[/] the {place.label} to {escape(revert)}; the tables it replaced are kept "
                       f"as {escape(result['backup_prefix'])}")
        elif drop_old:
            result = {"dropped": service.drop_backups(place)}
            message = f"dropped {len(result['dropped'])} kept table set(s): {escape(', '.join(result['dropped']))}"
        else:
            assert checked is not None

            def confirm(question: str) -> bool:
                if yes:
                    return True
                try:
                    answer = typer.prompt(f"{question}\nType {place.slug} to confirm", default="",
                                          show_default=False)
                except typer.Abort:  # no terminal to answer on (stdin closed)
                    return False
                return bool(answer == place.slug)

            result = service.import_site(place, checked, reporter, confirm)
            message = _import_message(place.label, result)
    if json_out:
        print_json(result)
    else:
        out.print(message, highlight=False)


def _endpoint(value: str | None) -> str | None:
    """--s3-endpoint checked before anything starts (boto3 is imported only when it is given)."""
    if value is None:
        return None
    from wp_lambda.local.s3_uploads import check_endpoint

    return check_endpoint(value)


def _import_message(label: str, result: dict[str, Any]) -> str:
    lines = [f"[green]imported[/] {sum(result['tables'].values()):,} rows in {len(result['tables'])} tables into "
             f"the {label}"]
    if result["replacements"] is not None:
        lines.append(f"  search-replace: {result['replacements']:,} replacement(s) of the old URL")
    if result.get("uploads"):
        up = result["uploads"]
        lines.append(f"  uploads: {up['copied']} copied, {up['unchanged']} unchanged"
                     + (f", {len(up['skipped_php'])} PHP file(s) skipped" if up["skipped_php"] else ""))
    if result["skipped_tables"]:
        lines.append(f"  not imported (not the site's prefix): {', '.join(result['skipped_tables'])}")
    if result["backup_prefix"]:
        lines.append(f"  the previous tables are kept as {result['backup_prefix']}*: `wplambda import --revert "
                     f"{result['backup_prefix']}` goes back, `--drop-old` drops them")
    if result["backup_dir"]:
        lines.append(f"  backup of the previous site: {result['backup_dir']}")
    lines.append(f"  site: {result['site_url']}")
    lines.append(f"  administrators: {', '.join(result['admins']) or 'none found'}")
    return "\n".join(escape(line) if not line.startswith("[green]") else line for line in lines)


def register(app: typer.Typer) -> None:
    app.command()(export)
    app.command("import")(import_)
