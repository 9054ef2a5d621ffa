"""``build`` and ``layers``: packaging the site."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wp_lambda import bref_layers
from wp_lambda import bundle as build_mod
from wp_lambda import config as config_mod
from wp_lambda.cli.app import ConsoleReporter, print_build_result, print_json
from wp_lambda.cli.options import JsonOption, ProjectOption
from wp_lambda.common.errors import UserError


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
    php_source = build_mod.local_php_source(cfg.php.version) if target == "serve" else None
    result = build_mod.build(cfg, target=target, force=force, progress=ConsoleReporter(quiet=json_output),
                             php_source=php_source)
    if json_output:
        print_json({"rebuilt": result.rebuilt, "seconds": round(result.seconds, 3), "root": str(result.root),
                    "manifest": result.manifest})
    else:
        print_build_result(result)


def layers(
    region: Annotated[str | None, typer.Option(help="Print only the ARN for this region (with --php, --arch).")]
    = None,
    php: Annotated[str, typer.Option("--php", help="PHP version, with --region.")] = config_mod.DEFAULT_PHP_VERSION,
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
                    "layers": [{"php": p, "architecture": a, "region": r, "arn": arn,
                                "php_release": bref_layers.layer_php_release(p, a)} for p, a, r, arn in rows]})
        return
    # The source first: a reviewer sees which release a pin is, and which PHP it carries (what the
    # PHP security check judges), before reading 176 ARNs.
    print(f"# {origin.describe()}")
    print("# PHP in these layers: " + ", ".join(f"{v}: {bref_layers.layer_php_release(v, 'x86_64') or 'not recorded'}"
                                                 for v in bref_layers.php_versions()))
    for php_version, architecture, row_region, arn in rows:
        print(f"{php_version}  {architecture:<7} {row_region:<15} {arn}")


def register(app: typer.Typer) -> None:
    app.command()(build)
    app.command()(layers)
