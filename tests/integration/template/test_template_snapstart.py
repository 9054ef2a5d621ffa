"""SnapStart and the init-phase warm-up in the rendered template, and the configs SnapStart refuses.

The SnapStart case is rendered, linted with cfn-lint and transformed with the SAM translator like
the matrix's cases (tests/integration/template/test_template_matrix.py); assertions read the transformed
CloudFormation. The refused configs go through the real console script (exit 2, the key's line,
the reason, nothing written), as in tests/unit/template/test_template_bad_configs.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from tests.support.helpers import run_wplambda
from wp_lambda import render, validate
from wp_lambda.config import Config, parse, toml_text
from wp_lambda.project import init_project


def _render(root: Path, **function: Any) -> tuple[Config, dict[str, Any], list[str]]:
    """Render a project whose [function] has ``function``; return its config, the transformed
    template's resources and cfn-lint's findings."""
    config = Config(root=root)
    for key, value in function.items():
        setattr(config.function, key, value)
    config = parse(toml_text(config), root=root)
    (root / "wplambda.toml").write_text(toml_text(config))
    render.render_project(config)
    path = root / "template.yaml"
    transformed = validate.transform(validate.load_template(path), config.aws.region)
    return config, transformed["Resources"], validate.lint(path, config.aws.region)


@pytest.fixture(scope="module")
def snap_start(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, dict[str, Any], list[str]]:
    return _render(tmp_path_factory.mktemp("snapstart"), snap_start=True, warm_paths=["/", "/sample-page/"])


def test_snap_start_case_lints_clean(snap_start: tuple[Config, dict[str, Any], list[str]]) -> None:
    _, _, lint_errors = snap_start
    assert lint_errors == []


def test_snap_start_applies_to_the_published_version_behind_live(
        snap_start: tuple[Config, dict[str, Any], list[str]]) -> None:
    config, resources, _ = snap_start
    fn = resources["WordPressFunction"]["Properties"]
    assert fn["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert fn["EphemeralStorage"] == {"Size": 512}
    versions = [name for name, res in resources.items() if res["Type"] == "AWS::Lambda::Version"]
    assert len(versions) == 1
    alias = resources["WordPressFunctionAliaslive"]["Properties"]
    assert alias["FunctionVersion"] == {"Fn::GetAtt": [versions[0], "Version"]}
    assert "ProvisionedConcurrencyConfig" not in alias
    assert validate.kit_checks(config, resources) == []
    assert fn["Environment"]["Variables"]["WPLAMBDA_WARM_PATHS"] == "/,/sample-page/"


def test_snap_started_function_waits_for_the_database_writer(
        snap_start: tuple[Config, dict[str, Any], list[str]]) -> None:
    """The snapshot's warm-up needs the Aurora writer: the site's function (and so its published
    version, which references it) is created after DatabaseInstance, not only after the secret's
    attachment. The console function has no SnapStart and keeps its own dependencies."""
    _, resources, _ = snap_start
    assert resources["WordPressFunction"]["DependsOn"] == ["DatabaseSecretAttachment", "DatabaseInstance"]
    assert resources["DatabaseInstance"]["Type"] == "AWS::RDS::DBInstance"
    assert resources["ConsoleFunction"]["DependsOn"] == "DatabaseSecretAttachment"
    version = next(res for res in resources.values() if res["Type"] == "AWS::Lambda::Version")
    assert version["Properties"]["FunctionName"] == {"Ref": "WordPressFunction"}


def test_snap_start_with_an_external_database_depends_on_no_database_resource(tmp_path: Path) -> None:
    """External database: the stack makes no DatabaseInstance, so nothing may name it (a DependsOn on
    a resource the template lacks fails cfn-lint and the SAM translator alike)."""
    config = Config(root=tmp_path)
    config.function.snap_start = True
    config.network.mode = "public"
    config.database.mode = "external"
    config.database.host = "db.example.com"
    config.database.user = "wordpress"
    config.database.secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:wp-db-AbCdEf"
    config = parse(toml_text(config), root=tmp_path)
    render.render_project(config)
    path = tmp_path / "template.yaml"
    resources = validate.transform(validate.load_template(path), config.aws.region)["Resources"]
    assert validate.lint(path, config.aws.region) == []
    assert "DatabaseInstance" not in resources
    assert "DependsOn" not in resources["WordPressFunction"]


def test_default_has_no_snap_start_and_warms_the_home_page(tmp_path: Path) -> None:
    _, resources, lint_errors = _render(tmp_path)
    fn = resources["WordPressFunction"]["Properties"]
    assert lint_errors == []
    assert "SnapStart" not in fn
    assert resources["WordPressFunction"]["DependsOn"] == "DatabaseSecretAttachment"
    assert fn["Environment"]["Variables"]["WPLAMBDA_WARM_PATHS"] == "/"


def test_warm_up_can_be_turned_off(tmp_path: Path) -> None:
    _, resources, _ = _render(tmp_path, warm_paths=[])
    assert resources["WordPressFunction"]["Properties"]["Environment"]["Variables"]["WPLAMBDA_WARM_PATHS"] == ""


@pytest.fixture(scope="module")
def valid_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("valid") / "site"
    init_project(root, {})
    return root


BAD = {
    "snap-start-with-provisioned-concurrency": (
        {"snap_start": True, "provisioned_concurrency": 2}, "function.provisioned_concurrency",
        "SnapStart cannot be combined with provisioned concurrency; turn function.snap_start off, or set "
        "function.provisioned_concurrency = 0"),
    "snap-start-with-big-tmp": (
        {"snap_start": True, "ephemeral_storage": 1024}, "function.ephemeral_storage",
        "1024 MB: SnapStart allows at most 512 MB of /tmp; turn function.snap_start off, or lower it to 512"),
    "warm-path-without-slash": (
        {"warm_paths": ["/", "blog"]}, "function.warm_paths", "'blog' is not a site path"),
    "warm-path-with-comma": (
        {"warm_paths": ["/a,b"]}, "function.warm_paths", "'/a,b' is not a site path"),
    "too-many-warm-paths": (
        {"warm_paths": [f"/{n}/" for n in range(11)]}, "function.warm_paths", "11 paths; at most 10"),
    "snap-start-not-a-bool": (
        {"snap_start": "yes"}, "function.snap_start", "expected true or false, got 'yes'"),
    "snap-start-with-efs": (
        {"snap_start": True, "storage.mode": "efs"}, "storage.mode",
        "SnapStart cannot be combined with EFS; turn function.snap_start off, or use another storage.mode"),
    "snap-start-in-a-region-without-it": (
        {"snap_start": True, "aws.region": "ap-east-2"}, "aws.region",
        "Lambda offers no SnapStart in ap-east-2; turn function.snap_start off, or deploy to another region"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_snap_start_and_warm_up_configs_exit_2(case: str, valid_project: Path, tmp_path: Path) -> None:
    values, key, expected = BAD[case]
    root = tmp_path / "site"
    shutil.copytree(valid_project, root)
    path = root / "wplambda.toml"
    doc = tomlkit.parse(path.read_text())
    for dotted, value in values.items():
        table, _, field = dotted.rpartition(".")
        doc[table or "function"][field] = value  # type: ignore[index]
    text = tomlkit.dumps(doc)
    path.write_text(text)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}

    result = run_wplambda("validate", "--project", str(root))

    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    section, name = key.split(".")
    lines = text.splitlines()
    start = lines.index(f"[{section}]")
    line = next(n for n, raw in enumerate(lines[start:], start + 1) if raw.startswith(name + " ="))
    assert f"{path}:{line}: {key}: {expected}" in message
    assert "Traceback" not in result.stderr
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
