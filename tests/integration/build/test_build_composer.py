"""S3 Uploads: required for a deploy build (fails early and clearly without it), optional for serve;
the real one (../shared/composer/artifacts) installs into a deploy build's vendor/."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.build import make_project
from tests.support.helpers import real_s3_uploads_repositories, run_wplambda
from wp_lambda import bundle as build_mod
from wp_lambda.bundle import QuietReporter
from wp_lambda.common.errors import UserError
from wp_lambda.config import load


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


def test_env_var_repositories_override_the_config_with_the_real_s3_uploads(
        no_s3_uploads: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deploy build's vendor/ holds the real S3 Uploads and AWS SDK, loadable, with no build-machine path."""
    repositories = real_s3_uploads_repositories()
    monkeypatch.setenv("WPLAMBDA_COMPOSER_REPOSITORIES", repositories)
    result = build_mod.build(load(no_s3_uploads))
    vendor = result.function / "vendor"
    assert (vendor / "humanmade" / "s3-uploads" / "s3-uploads.php").is_file()
    installed = {p["name"]: p["version"] for p in result.manifest["inputs"]["s3_uploads"]["packages"]}
    assert installed["humanmade/s3-uploads"] == "3.0.12" and "aws/aws-sdk-php" in installed
    loaded = subprocess.run(
        ["php", "-r", "require $argv[1]; echo json_encode([class_exists('S3_Uploads\\Plugin'), "
         "class_exists('Aws\\S3\\S3Client')]);", str(vendor / "autoload.php")],
        capture_output=True, text=True, check=False)
    assert loaded.stdout == "[true,true]", loaded.stderr
    local = [r["url"].encode() for r in json.loads(repositories) if "url" in r]
    for file in vendor.rglob("*"):
        if file.is_file():
            assert not any(url in file.read_bytes() for url in local), file


def test_bad_env_var_exits_2_naming_it(no_s3_uploads: Path) -> None:
    result = run_wplambda("build", "--project", str(no_s3_uploads),
                          env={"WPLAMBDA_COMPOSER_REPOSITORIES": "[{not json"})
    assert result.returncode == 2
    assert "WPLAMBDA_COMPOSER_REPOSITORIES is not valid JSON" in result.stderr
    assert not (no_s3_uploads / ".wplambda" / "build").exists()
