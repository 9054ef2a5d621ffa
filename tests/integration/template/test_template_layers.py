"""The function's layers and PHP layout in the rendered template: Bref's PHP layer, the gd (or
imagick) extra layer on x86_64, none on arm64, the runtime layer last, and the variables that tell
the runtime where PHP is. Read from the CloudFormation the SAM transform produced, and cfn-lint clean.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.helpers import run_wplambda
from wp_lambda import bref_layers, render, validate
from wp_lambda.bundle import php
from wp_lambda.config import Config, parse, toml_text
from wp_lambda.project import init_project

EXTERNAL_DB = {"host": "db.example.com", "user": "wordpress",
               "secret_arn": "arn:aws:secretsmanager:eu-central-1:123456789012:secret:wp-db-AbCdEf"}
DATA = Path(bref_layers.__file__).parent / "data" / "bref"


def _published(name: str) -> dict[str, dict[str, int]]:
    return json.loads((DATA / name).read_text())


def _function(root: Path, edits: dict[str, dict[str, Any]]) -> tuple[Config, dict[str, Any]]:
    """Render a project with ``edits`` applied to the defaults; the transformed function's properties."""
    config = Config(root=root)
    for section, values in edits.items():
        for key, value in values.items():
            setattr(getattr(config, section), key, value)
    config = parse(toml_text(config), root=root)
    render.render_project(config)
    path = root / "template.yaml"
    assert validate.lint(path, config.aws.region) == []
    resources = validate.transform(validate.load_template(path), config.aws.region)["Resources"]
    return config, resources["WordPressFunction"]["Properties"]


def _is_runtime_layer(layer: Any) -> bool:
    """The kit's layer, as the SAM transform names it (``RuntimeLayer`` plus a content hash)."""
    return isinstance(layer, dict) and str(layer.get("Ref", "")).startswith("RuntimeLayer")


def test_default_x86_64_gets_brefs_php_and_gd_layers(tmp_path: Path) -> None:
    config, function = _function(tmp_path, {})
    php_layer, gd_layer, runtime = function["Layers"]
    assert php_layer == (f"arn:aws:lambda:us-east-1:{bref_layers.base_account()}:layer:php-83:"
                         f"{_published('layers.json')['php-83']['us-east-1']}")
    assert gd_layer == (f"arn:aws:lambda:us-east-1:{bref_layers.extensions_account()}:layer:gd-php-83:"
                        f"{_published('extra-php-extensions-layers.json')['gd-php-83']['us-east-1']}")
    assert _is_runtime_layer(runtime)
    variables = function["Environment"]["Variables"]
    assert (variables["WPLAMBDA_PHP_LAYOUT"], variables["WPLAMBDA_PHP_PREFIX"]) == ("bref", "/opt")
    # The build's extension check counts gd as present: no "gd or imagick is missing" warning.
    _fatal, warnings = php.check_extensions(php.from_config(config))
    assert not [w for w in warnings if "gd or imagick" in w]


def test_imagick_instead_of_gd(tmp_path: Path) -> None:
    _config, function = _function(tmp_path, {"aws": {"region": "eu-west-1"},
                                              "php": {"version": "8.4", "extensions": ["imagick"]}})
    version = _published("extra-php-extensions-layers.json")["imagick-php-84"]["eu-west-1"]
    assert function["Layers"][1] == \
        f"arn:aws:lambda:eu-west-1:{bref_layers.extensions_account()}:layer:imagick-php-84:{version}"
    assert len(function["Layers"]) == 3


def test_php_85_on_arm64_gets_brefs_arm_layer_and_no_extension_layer(tmp_path: Path) -> None:
    _config, function = _function(tmp_path, {
        "aws": {"region": "eu-central-1", "architecture": "arm64"}, "php": {"version": "8.5", "extensions": []},
        "network": {"mode": "public"}, "database": {"mode": "external", **EXTERNAL_DB}})
    version = _published("layers.json")["arm-php-85"]["eu-central-1"]
    arn, runtime = function["Layers"]
    assert arn == f"arn:aws:lambda:eu-central-1:{bref_layers.base_account()}:layer:arm-php-85:{version}"
    assert _is_runtime_layer(runtime)
    assert function["Architectures"] == ["arm64"]


def test_five_layers_is_the_limit_and_fits(tmp_path: Path) -> None:
    """PHP + 3 extension layers + the runtime layer = 5, Lambda's maximum: allowed (one more is
    refused, see test_template_bad_configs.py's six-layers case)."""
    _config, function = _function(tmp_path, {"php": {"extensions": ["gd", "imagick", "pcov"]}})
    assert len(function["Layers"]) == 5


def test_dir_source_has_no_bref_layers_and_the_dir_layout(tmp_path: Path) -> None:
    (tmp_path / "php-bin").mkdir()
    _config, function = _function(tmp_path, {"php": {"source": "dir", "dir": "php-bin"}})
    (runtime,) = function["Layers"]  # php.extensions applies to Bref's PHP only
    assert _is_runtime_layer(runtime)
    assert function["Environment"]["Variables"]["WPLAMBDA_PHP_LAYOUT"] == "dir"


def test_init_arm64_writes_a_config_without_extension_layers(tmp_path: Path) -> None:
    """`wplambda init --arch arm64` must not write a config its own validation refuses."""
    result = run_wplambda("init", str(tmp_path / "site"), "--yes", "--arch", "arm64")
    assert result.returncode == 0, result.stderr
    assert "extensions = []" in (tmp_path / "site" / "wplambda.toml").read_text()
    assert "makes no thumbnails" in " ".join(result.stdout.split())
    checked = run_wplambda("validate", "--project", str(tmp_path / "site"))
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_init_project_round_trips(tmp_path: Path, arch: str) -> None:
    init_project(tmp_path, {"arch": arch})
    text = (tmp_path / "wplambda.toml").read_text()
    assert ('extensions = ["gd"]' in text) == (arch == "x86_64")


@pytest.mark.parametrize(("arch", "extensions", "missing_images"), [("x86_64", ["gd"], False),
                                                                   ("x86_64", ["imagick"], False),
                                                                   ("arm64", [], True)])
def test_bref_source_extension_check(tmp_path: Path, arch: str, extensions: list[str], missing_images: bool) -> None:
    """The build's check of a Bref PHP source: what Bref v3's layer loads plus the attached extension
    layers. WordPress's required mysqli is there; intl is disabled in Bref (named with its fix); an
    arm64 site without an image layer is warned that it makes no thumbnails."""
    config = Config(root=tmp_path)
    config.aws.architecture, config.php.extensions = arch, extensions
    fatal, warnings = php.check_extensions(php.from_config(parse(toml_text(config), root=tmp_path)))
    assert fatal == []
    assert any("intl" in w and 'extension = "intl"' in w for w in warnings)
    images = [w for w in warnings if "gd or imagick" in w]
    assert bool(images) == missing_images
    if missing_images:
        assert "php.extensions" in images[0]
