"""The runtime layer: Debian's PHP copied in (serve's source) and runnable from the layer alone;
the extension check; the pinned Bref table."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.build import make_project
from tests.support.helpers import run_wplambda
from wp_lambda import bref_layers
from wp_lambda import bundle as build_mod
from wp_lambda.bundle import php
from wp_lambda.common.errors import UserError
from wp_lambda.config import load
from wp_lambda.runtime import layout


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory, wp_source: Path) -> Path:
    project = make_project(tmp_path_factory.mktemp("layer") / "site", wp_source)
    return build_mod.build(load(project), target="serve", php_source=build_mod.debian_php_source()).layer


def test_dir_layer_runs_php_with_the_wordpress_extensions(layer: Path) -> None:
    for binary in ("bin/php", "bin/php-fpm"):
        assert (layer / binary).stat().st_mode & 0o777 == 0o755
    assert not list((layer / "lib").glob("libc.so*"))  # glibc comes from the Lambda image
    # Started exactly as the runtime starts it with the template's WPLAMBDA_PHP_LAYOUT = "dir".
    php_layout = layout.from_env({"WPLAMBDA_PHP_LAYOUT": "dir", "WPLAMBDA_PHP_PREFIX": str(layer)})
    result = subprocess.run([php_layout.php, *php_layout.ini_args, "-m"], capture_output=True, text=True,
                            env=php_layout.environ(os.environ), check=False)
    assert result.returncode == 0, result.stderr
    modules = {line.strip().lower() for line in result.stdout.splitlines()}
    assert {"mysqli", "mbstring", "xml", "curl", "zip", "intl", "gd", "zend opcache"} <= modules
    assert "Warning" not in result.stderr


def test_missing_extensions_are_named_with_the_fix() -> None:
    without = tuple(e for e in build_mod.debian_php_source().extensions if e not in ("mysqli", "gd", "imagick", "intl"))
    fatal, warnings = php.check_extensions(php.PhpSource("dir", "8.2", extensions=without))
    assert fatal == ["PHP extension mysqli is missing (on Debian/Ubuntu: apt-get install php8.2-mysql; "
                     "otherwise build PHP with it)"]
    assert any("gd or imagick" in w and "php8.2-gd or php8.2-imagick" in w for w in warnings)
    assert any("intl" in w and "php8.2-intl" in w for w in warnings)


def test_build_refuses_php_without_mysqli(tmp_path: Path, wp_source: Path) -> None:
    project = make_project(tmp_path / "site", wp_source)
    source = php.PhpSource("dir", "8.2", fpm=Path("/usr/sbin/php-fpm8.2"), cli=Path("/usr/bin/php8.2"),
                           extensions=("mbstring",))
    with pytest.raises(UserError, match="mysqli is missing"):
        build_mod.build(load(project), target="serve", php_source=source)
    assert not (project / ".wplambda" / "build-serve").exists()


def test_bref_table_lookup_and_command() -> None:
    arn = bref_layers.require_layer_arn("eu-west-1", "8.2", "x86_64")
    version = bref_layers.base_layers()["php-82"]["eu-west-1"]
    assert arn == f"arn:aws:lambda:eu-west-1:{bref_layers.base_account()}:layer:php-82:{version}"
    with pytest.raises(UserError, match=r"php\.layer_arn"):
        bref_layers.require_layer_arn("il-central-1", "8.4", "arm64")
    printed = run_wplambda("layers")
    assert printed.returncode == 0 and arn in printed.stdout
    assert run_wplambda("build", "--print-layers").stdout == printed.stdout
