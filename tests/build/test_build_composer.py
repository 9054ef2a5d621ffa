"""S3 Uploads: required for a deploy build (fails early and clearly without it), optional for serve."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from buildhelpers import composer_repos, make_project
from helpers import run_wplambda

from wp_lambda import build as build_mod
from wp_lambda.build import QuietReporter
from wp_lambda.config import load
from wp_lambda.errors import UserError


@pytest.fixture()
def no_s3_uploads(tmp_path: Path, wp_source: Path) -> Path:
    """A project whose only Composer repository is "none" (packagist off): S3 Uploads is unavailable."""
    return make_project(tmp_path / "site", wp_source, build={"composer_repositories": [{"packagist.org": False}]})


def test_deploy_build_without_s3_uploads_fails_early(no_s3_uploads: Path) -> None:
    reporter = QuietReporter()
    with pytest.raises(UserError) as caught:
        build_mod.build(load(no_s3_uploads), progress=reporter)
    message = str(caught.value)
    assert "humanmade/s3-uploads" in message and "read-only disk" in message
    assert "build.composer_repositories" in message
    assert not any(m.startswith("WordPress core") for m in reporter.messages)  # failed before copying
    assert not (no_s3_uploads / ".wplambda" / "build").exists()


def test_serve_build_does_not_need_s3_uploads(no_s3_uploads: Path) -> None:
    result = build_mod.build(load(no_s3_uploads), target="serve")
    assert result.manifest["inputs"]["s3_uploads"] is None
    assert not (result.function / "vendor").exists()


def test_env_var_repositories_override_the_config(no_s3_uploads: Path, composer_packages: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WPLAMBDA_COMPOSER_REPOSITORIES", json.dumps(composer_repos(composer_packages)))
    result = build_mod.build(load(no_s3_uploads))
    assert (result.function / "vendor" / "humanmade" / "s3-uploads" / "s3-uploads.php").is_file()


def test_bad_env_var_exits_2_naming_it(no_s3_uploads: Path) -> None:
    result = run_wplambda("build", "--project", str(no_s3_uploads),
                          env={"WPLAMBDA_COMPOSER_REPOSITORIES": "[{not json"})
    assert result.returncode == 2
    assert "WPLAMBDA_COMPOSER_REPOSITORIES is not valid JSON" in result.stderr
    assert not (no_s3_uploads / ".wplambda" / "build").exists()
