"""The runtime's side of the primed opcache file cache, on real php-fpm: a packaged cache is read
(through the writable directory of symlinks), and ``WPLAMBDA_OPCACHE_FILE_CACHE=off`` ignores it.

A tiny tree compiled where it lies (the deploy build compiles at /var/task in a mount namespace;
tests/integration/build/test_build_opcache.py runs WordPress that way)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.lambda_events import v2
from wp_lambda.bundle import opcache_cache
from wp_lambda.config import Config
from wp_lambda.local import php as local_php
from wp_lambda.local.runtime_process import DEFAULT_PHP_VERSION, local_layer, runtime_environment
from wp_lambda.render import render_text
from wp_lambda.runtime import opcache
from wp_lambda.runtime.handler import Runtime

LIB = "<?php\nfunction answer(): string { return '%s'; }\n"


@pytest.fixture
def primed(tmp_path: Path) -> dict[str, str]:
    """A tree compiled into its cache, whose lib.php was edited afterwards; the runtime's environment."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "index.php").write_text("<?php\nrequire __DIR__ . '/lib.php';\necho answer();\n")
    (tree / "lib.php").write_text(LIB % "compiled by the build")
    result = opcache_cache.prime(tree, [str(local_php.find(DEFAULT_PHP_VERSION).cli)], at=tree)
    assert result.files == 2 and result.skipped == [] and len(result.system_ids) == 1
    (tree / "lib.php").write_text(LIB % "edited after the build")
    layer = local_layer(Config(), tmp_path / "layer")
    (layer / "php.ini").write_text(render_text("php.ini.j2", Config(), local=False))  # as on Lambda
    return runtime_environment(tree, layer)


def _body(environ: dict[str, str]) -> str:
    runtime = Runtime(environ)
    try:
        reply = runtime.handle(v2("GET", "/", headers={"Host": "wp.test"}), None)
    finally:
        runtime.stop()
    assert reply["statusCode"] == 200
    return reply["body"]


def test_php_fpm_runs_the_packaged_cache(primed: dict[str, str]) -> None:
    assert _body(primed) == "compiled by the build"


def test_off_compiles_the_tree_instead(primed: dict[str, str]) -> None:
    assert _body({**primed, opcache.ENV_VAR: "off"}) == "edited after the build"


def test_without_a_packaged_cache_php_fpm_gets_no_file_cache(tmp_path: Path) -> None:
    assert opcache.packaged(str(tmp_path), {}) is None
    (tmp_path / opcache.PACKAGED).mkdir()
    assert opcache.packaged(str(tmp_path), {}) == str(tmp_path / opcache.PACKAGED)
    assert opcache.packaged(str(tmp_path), {opcache.ENV_VAR: "off"}) is None


def test_links_are_made_once_and_a_stale_one_is_replaced(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (cache / "abc").mkdir(parents=True)
    scratch = tmp_path / "scratch"
    (scratch / "opcache").mkdir(parents=True)
    os.symlink(tmp_path / "elsewhere", scratch / "opcache" / "abc")
    settings = opcache.link(str(cache), str(scratch))
    assert settings["opcache.file_cache"] == str(scratch / "opcache")
    assert os.readlink(scratch / "opcache" / "abc") == str(cache / "abc")
    assert opcache.link(str(cache), str(scratch)) == settings
    assert os.readlink(scratch / "opcache" / "abc") == str(cache / "abc")
