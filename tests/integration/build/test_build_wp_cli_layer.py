"""wp-cli ships in the runtime layer: the configured phar (a path, or the pinned release checked
against the sha512 pinned in the kit) lands at wplambda/wp-cli.phar in layer.zip, never in the function
(the document root), and changing it rebuilds the layer."""

from __future__ import annotations

import dataclasses
import hashlib
import zipfile
from pathlib import Path

import pytest

from tests.support.build import composer_repos, make_project
from tests.support.helpers import real_wp_cli
from wp_lambda import bundle as build_mod
from wp_lambda.bundle import QuietReporter, plugins
from wp_lambda.bundle.plugins import ENV_WP_CLI_PHAR, WP_CLI, WP_CLI_IN_LAYER
from wp_lambda.config import load


def sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


def test_deploy_build_puts_the_phar_in_the_layer_only(tmp_path: Path, wp_source: Path,
                                                      composer_packages: Path) -> None:
    project = make_project(tmp_path / "site", wp_source,
                           build={"wp_cli": real_wp_cli(), "composer_repositories": composer_repos(composer_packages)})
    result = build_mod.build(load(project), target="deploy")
    phar = Path(real_wp_cli()).read_bytes()
    with zipfile.ZipFile(result.layer_zip) as layer:
        assert sha512(layer.read(WP_CLI_IN_LAYER)) == sha512(phar)
        assert layer.getinfo(WP_CLI_IN_LAYER).external_attr >> 16 & 0o777 == 0o644
    with zipfile.ZipFile(result.function_zip) as function:
        assert not [n for n in function.namelist() if n.endswith(".phar") or "wp-cli" in n]
    assert result.manifest["inputs"]["wp_cli"] == {"source": real_wp_cli(), "bytes": len(phar),
                                                   "sha512": sha512(phar)}


def test_changing_wp_cli_rebuilds_the_layer_and_empty_leaves_it_out(tmp_path: Path, wp_source: Path,
                                                                    http_root: tuple[Path, str],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project(tmp_path / "site", wp_source, build={"wp_cli": ""})
    config = load(project)
    reporter = QuietReporter()
    first = build_mod.build(config, target="serve", progress=reporter)
    assert any("build.wp_cli is empty: the runtime layer carries no wp-cli" in m for m in reporter.messages)
    assert first.manifest["inputs"]["wp_cli"] is None and not (first.layer / WP_CLI_IN_LAYER).exists()

    root, base = http_root  # the pinned release, from a mirror of its GitHub download
    data = b"<?php echo 'pinned wp-cli stand-in';"
    (root / "pinned").mkdir(exist_ok=True)
    (root / "pinned" / "wp-cli.phar").write_bytes(data)
    (root / "pinned" / "wp-cli.phar.sha512").write_text(f"{sha512(data)}  wp-cli-{WP_CLI.version}.phar\n")
    monkeypatch.setenv("WPLAMBDA_WP_CLI_URL", f"{base}/pinned/wp-cli.phar")
    monkeypatch.delenv(ENV_WP_CLI_PHAR)  # the session's stand-in: "pinned" means the download here
    # The official phar cannot be had here: the stand-in's sha512 takes the pin's place where the build reads it.
    monkeypatch.setattr(plugins, "WP_CLI", dataclasses.replace(WP_CLI, digest=sha512(data)))
    config.build.wp_cli = "pinned"
    assert build_mod.is_stale(config, "serve")
    reporter = QuietReporter()
    second = build_mod.build(config, target="serve", progress=reporter)
    assert "runtime layer: unchanged, reusing it" not in reporter.messages
    assert (second.layer / WP_CLI_IN_LAYER).read_bytes() == data
    assert second.manifest["inputs"]["wp_cli"]["source"] == "pinned"
    assert not build_mod.is_stale(config, "serve")
