"""Same inputs, same bytes: what CloudFormation relies on to skip needless deploys."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support.build import composer_repos, make_project
from wp_lambda import bundle as build_mod
from wp_lambda.config import load


def _shas(result: build_mod.BuildResult) -> dict[str, str]:
    return {name: result.manifest["outputs"][name]["sha256"] for name in ("function.zip", "layer.zip")}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, wp_source: Path) -> Path:
    """A tree of our own: this module touches and edits it."""
    return Path(shutil.copytree(wp_source, tmp_path_factory.mktemp("detsrc") / "wordpress"))


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory, source: Path, composer_packages: Path) -> list[Path]:
    """Two projects with identical inputs in different directories (paths must not leak into zips)."""
    repos = composer_repos(composer_packages)
    return [make_project(tmp_path_factory.mktemp(f"det{i}") / "site", source,
                         build={"composer_repositories": repos}) for i in range(2)]


def test_two_builds_are_byte_identical(projects: list[Path]) -> None:
    first, second = (build_mod.build(load(p)) for p in projects)
    assert _shas(first) == _shas(second)
    assert first.function_zip.read_bytes() == second.function_zip.read_bytes()


def test_touched_mtimes_give_identical_zips(projects: list[Path], source: Path) -> None:
    config = load(projects[0])
    before = _shas(build_mod.build(config))
    for path in source.rglob("*"):
        os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    assert build_mod.is_stale(config)  # the cheap fingerprint sees the touch...
    after = build_mod.build(config)
    assert after.rebuilt
    assert _shas(after) == before  # ...and the content proves nothing changed


def test_one_plugin_file_changes_only_the_function_zip(projects: list[Path], source: Path) -> None:
    config = load(projects[0])
    before = _shas(build_mod.build(config))
    readme = source / "wp-content" / "plugins" / "akismet" / "readme.txt"
    readme.write_text(readme.read_text() + "\nchanged by a test\n")
    after = build_mod.build(config)
    assert after.rebuilt
    assert after.manifest["outputs"]["function.zip"]["sha256"] != before["function.zip"]
    assert after.manifest["outputs"]["layer.zip"]["sha256"] == before["layer.zip"]
    assert b"changed by a test" in (after.function / "wp-content/plugins/akismet/readme.txt").read_bytes()
