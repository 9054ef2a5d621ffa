"""``build``, ``layers`` and ``plugin add/remove/list``: packaging the site."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import tomlkit
import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from wp_lambda import bref_layers
from wp_lambda import build as build_mod
from wp_lambda import config as config_mod
from wp_lambda.build.fetch import ProgressFn, is_url
from wp_lambda.build.plugins import KINDS, download, mirror
from wp_lambda.build.report import MB
from wp_lambda.cli.app import JsonOption, ProjectOption, err, out, print_json
from wp_lambda.errors import UserError
from wp_lambda.fsutil import atomic_write


class ConsoleReporter:
    """Prints build steps on stdout, warnings on stderr, downloads as a progress bar."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet

    def step(self, message: str) -> None:
        if not self.quiet:
            out.print(f"[cyan]•[/] {escape(message)}", highlight=False)

    def note(self, message: str) -> None:
        if not self.quiet:
            out.print(f"  {escape(message)}", highlight=False)

    def warn(self, message: str) -> None:
        err.print(f"[yellow]warning:[/] {escape(message)}", highlight=False)

    @contextlib.contextmanager
    def transfer(self, label: str) -> Iterator[ProgressFn]:
        with Progress("{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                      console=err, transient=True, disable=self.quiet) as bar:
            task = bar.add_task(label, total=None)

            def update(received: int, total: int | None) -> None:
                bar.update(task, completed=received, total=total)

            yield update


def _print_result(result: build_mod.BuildResult) -> None:
    manifest = result.manifest
    if not result.rebuilt:
        out.print(f"[green]✓[/] up to date, nothing to do ({result.seconds:.2f} s): {result.root}")
        return
    sizes = manifest["sizes"]
    out.print(f"[green]✓[/] built in {result.seconds:.1f} s: {result.root}")
    for name, size in sizes["parts"].items():
        out.print(f"  {name:<10} {size / MB:8.1f} MB")
    out.print(f"  {'total':<10} {sizes['unzipped_total'] / MB:8.1f} MB unzipped "
              f"(Lambda allows {sizes['limits']['unzipped'] // MB} MB with layers)")
    for name, entry in manifest["outputs"].items():
        if name.endswith(".zip"):
            out.print(f"  {name:<12} {entry['bytes'] / MB:6.1f} MB  sha256 {entry['sha256'][:16]}")
    out.print(f"  assets       {manifest['outputs']['assets']['files']} files")
    out.print("  biggest: " + ", ".join(f"{b['path']} ({b['bytes'] / MB:.1f} MB)" for b in sizes["biggest"]))


def build(
    project: ProjectOption = Path(),
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when no input changed.")] = False,
    target: Annotated[str, typer.Option(help="deploy (S3 Uploads required) or serve (local PHP, local uploads).")]
    = "deploy",
    print_layers: Annotated[bool, typer.Option("--print-layers", help="Print the pinned Bref layer ARNs and exit.")]
    = False,
    json_output: JsonOption = False,
) -> None:
    """Package WordPress, S3 Uploads, plugins and the PHP layer into .wplambda/build (deterministic zips)."""
    if print_layers:
        layers(json_output=json_output)
        return
    cfg = config_mod.load(project)
    php_source = build_mod.debian_php_source(cfg.php.version) if target == "serve" else None
    result = build_mod.build(cfg, target=target, force=force, progress=ConsoleReporter(quiet=json_output),
                             php_source=php_source)
    if json_output:
        print_json({"rebuilt": result.rebuilt, "seconds": round(result.seconds, 3), "root": str(result.root),
                    "manifest": result.manifest})
    else:
        _print_result(result)


def layers(
    region: Annotated[str | None, typer.Option(help="Print only the ARN for this region (with --php, --arch).")]
    = None,
    php: Annotated[str, typer.Option("--php", help="PHP version, with --region.")] = config_mod.Php.version,
    arch: Annotated[str, typer.Option("--arch", help="x86_64 or arm64, with --region.")] = "x86_64",
    extension: Annotated[str | None, typer.Option(help="Bref's extra-extension layer instead (gd, imagick, ...); "
                                                   "x86_64 only.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Print the pinned Bref PHP layer ARNs and the Bref release they come from (override one with
    php.layer_arn in wplambda.toml); with --region, just the ARN a site there would use."""
    origin = bref_layers.source()
    if region is not None or extension is not None:
        # One answer, so a script (or a person wiring a layer by hand) gets exactly the pinned ARN;
        # whatever Bref does not publish is a UserError (exit 2) naming what it does.
        if region is None:
            raise UserError("--extension needs --region", "pass --region, e.g. --region eu-west-1")
        arn = (bref_layers.extension_layer_arn(extension, region, php, arch) if extension
               else bref_layers.require_layer_arn(region, php, arch))
        if json_output:
            print_json({"source": origin.to_dict(), "arn": arn})
        else:
            print(arn)
        return
    rows = bref_layers.table()
    if json_output:
        print_json({"source": origin.to_dict(), "account": bref_layers.base_account(),
                    "regions": list(bref_layers.regions()), "php_versions": list(bref_layers.php_versions()),
                    "layers": [{"php": p, "architecture": a, "region": r, "arn": arn} for p, a, r, arn in rows]})
        return
    # The source first: a reviewer sees which release a pin is before reading 176 ARNs.
    print(f"# {origin.describe()}")
    for php_version, architecture, row_region, arn in rows:
        print(f"{php_version}  {architecture:<7} {row_region:<15} {arn}")


plugin_app = typer.Typer(help="Pin plugins (or themes) in wplambda.toml; they are installed at build time.",
                         no_args_is_help=True)
ThemeOption = Annotated[bool, typer.Option("--theme", help="A theme instead of a plugin.")]
NoBuildOption = Annotated[bool, typer.Option("--no-build", help="Only edit wplambda.toml.")]


def _edit(project: Path, change: str, table: str, slug: str, version: str | None,
          check: Callable[[config_mod.Config], object] | None = None) -> config_mod.Config:
    """Apply one change to wplambda.toml with tomlkit (comments kept), validated (and ``check``ed,
    e.g. that the mirror has the zip) before anything is written."""
    cfg = config_mod.load(project)
    path = cfg.root / config_mod.CONFIG_FILE
    doc = tomlkit.parse(path.read_text())
    if table not in doc:
        doc.add(table, tomlkit.table())
    section = doc[table]
    if change == "remove":
        if slug not in section:
            raise UserError(f"{path}: {table}.{slug} is not pinned", "see `wplambda plugin list`")
        del section[slug]
    else:
        section[slug] = version
    text = tomlkit.dumps(doc)
    new = config_mod.parse(text, root=cfg.root, path=path)
    if check is not None:
        check(new)
    atomic_write(path, text)
    return new


def _latest_in_mirror(cfg: config_mod.Config, kind: str, slug: str) -> str:
    """The highest version of ``slug`` in a local mirror directory (a URL mirror needs --version)."""
    base = mirror(cfg)
    if is_url(base):
        raise UserError(f"no --version given for {slug}, and the mirror {base} cannot be listed",
                        f"pin one: wplambda plugin add {slug} --version X.Y.Z")
    versions = [p.name[len(slug) + 1:-4] for p in (Path(base) / kind).glob(f"{slug}.*.zip")]
    if not versions:
        raise UserError(f"{slug} is not in the mirror {base}/{kind}/", "check the slug, or add its zip there")

    def key(v: str) -> list[tuple[int, str]]:
        return [(int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[.+_-]", v)]

    return max(versions, key=key)


def _rebuild(cfg: config_mod.Config, no_build: bool) -> None:
    if no_build:
        return
    _print_result(build_mod.build(cfg, progress=ConsoleReporter()))


@plugin_app.command("add")
def plugin_add(
    name: Annotated[str, typer.Argument(help="wordpress.org slug, e.g. akismet.")],
    version: Annotated[str | None, typer.Option(help="Pinned version (default: the newest in a local mirror).")]
    = None,
    theme: ThemeOption = False,
    no_build: NoBuildOption = False,
    project: ProjectOption = Path(),
) -> None:
    """Pin a plugin (or theme) in wplambda.toml, then rebuild."""
    kind = "theme" if theme else "plugin"
    current = config_mod.load(project)
    version = version or _latest_in_mirror(current, kind, name)
    cfg = _edit(project, "add", KINDS[kind], name, version, check=lambda new: download(
        mirror(new), kind, name, version, ConsoleReporter()))
    out.print(f"pinned {KINDS[kind]}.{name} = \"{version}\"")
    _rebuild(cfg, no_build)


@plugin_app.command("remove")
def plugin_remove(
    name: Annotated[str, typer.Argument(help="The slug to unpin.")],
    theme: ThemeOption = False,
    no_build: NoBuildOption = False,
    project: ProjectOption = Path(),
) -> None:
    """Unpin a plugin (or theme) from wplambda.toml, then rebuild."""
    table = KINDS["theme" if theme else "plugin"]
    cfg = _edit(project, "remove", table, name, None)
    out.print(f"removed {table}.{name}")
    _rebuild(cfg, no_build)


@plugin_app.command("list")
def plugin_list(project: ProjectOption = Path(), json_output: JsonOption = False) -> None:
    """The pinned plugins and themes, and what the last build installed."""
    cfg = config_mod.load(project)
    manifest = build_mod.read_manifest(build_mod.output_dir(cfg, "deploy")) or {}
    built = {(p["kind"], p["slug"]): p for p in manifest.get("inputs", {}).get("plugins", [])}
    rows = [{"kind": kind, "slug": slug, "version": version,
             "built_sha256": built.get((kind, slug), {}).get("sha256")}
            for kind, table in (("plugin", cfg.plugins), ("theme", cfg.themes))
            for slug, version in sorted(table.items())]
    if json_output:
        print_json(rows)
        return
    if not rows:
        out.print("no plugins or themes pinned (add one: wplambda plugin add SLUG --version X.Y.Z)")
    for row in rows:
        sha = row["built_sha256"][:16] if row["built_sha256"] else "not built yet"
        print(f"{row['kind']:<7} {row['slug']:<30} {row['version']:<12} {sha}")


def register(app: typer.Typer) -> None:
    app.command()(build)
    app.command()(layers)
    app.add_typer(plugin_app, name="plugin")
