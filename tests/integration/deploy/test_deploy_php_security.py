"""The deploy refuses a PHP past end of life or below a security fix, and says when Bref has newer layers.

Against moto's server: `wplambda deploy` (the real console script) of a fresh project with Bref's data
as shipped is refused with exit 2 before anything is created, naming CVE-2026-109618 and
CVE-2026-109619; with the fixture of patched layers (tests/support/bref_patched, which the session
reads through WPLAMBDA_BREF_DATA) the same project deploys; with php.accept_vulnerable_php it deploys
with a warning per accepted CVE.

The newer-layer lookup is a botocore ``Stubber`` test: moto implements no GetLayerVersionByArn (its
server answers that request with a 500), and its emulated accounts cannot hold Bref's
public layers of account 873528684822 anyway; a test below shows the preflight saying so instead of
guessing.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from tests.integration.deploy.conftest import REGION, lay_out_build, make_project
from tests.support.helpers import run_wplambda
from wp_lambda import bref_layers
from wp_lambda.aws import connect
from wp_lambda.config import Config, load
from wp_lambda.deploy import preflight

CVES = ("CVE-2026-109618", "CVE-2026-109619")
PINNED = "arn:aws:lambda:us-east-1:873528684822:layer:php-83:21"


@pytest.fixture(scope="module")
def site(aws_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("phpsec"), name="phpsec")
    lay_out_build(root)
    return root


def _stacks() -> list[str]:
    return [s["StackName"] for s in boto3.client("cloudformation").describe_stacks()["Stacks"]]


def test_shipped_bref_data_is_refused_naming_the_cves(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(bref_layers.DATA_ENV)
    result = run_wplambda("deploy", "--stack", "phpsec", "--yes", "--skip-build", cwd=site)
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "deploy preflight: 1 problem, nothing was created" in message
    assert "Bref's php-83 layer (PHP 8.3.32) is unfit to serve a site" in message
    assert all(f"{cve} (unauthenticated remote code execution" in message for cve in CVES)
    assert "refresh Bref's data" in message and "php.source = \"dir\"" in message
    assert "phpsec" not in _stacks()


def test_patched_layers_deploy(site: Path) -> None:
    result = run_wplambda("deploy", "--stack", "phpsec", "--yes", "--skip-build", cwd=site)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "php security" in result.stderr and "CVE-" not in result.stdout + result.stderr
    assert "phpsec" in _stacks()


def test_accepted_risks_deploy_with_a_warning_for_each(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(bref_layers.DATA_ENV)
    config = site / "wplambda.toml"
    before = config.read_text()
    config.write_text(before.replace("accept_vulnerable_php = []", f"accept_vulnerable_php = {list(CVES)!r}"))
    try:
        result = run_wplambda("deploy", "--stack", "phpsec", "--yes", "--skip-build", "--dry-run", cwd=site)
    finally:
        config.write_text(before)
    assert result.returncode == 0, result.stdout + result.stderr
    said = " ".join(result.stderr.split())  # rich wraps long lines
    warnings = said.split("preflight: WARNING: ")[1:]
    assert len(warnings) == 2 and all(f"php.accept_vulnerable_php lists {cve}" in line
                                      for cve, line in zip(CVES, warnings, strict=True))


# -- newer layer versions --------------------------------------------------------------------------

def _stubbed_lambda(monkeypatch: pytest.MonkeyPatch) -> Stubber:
    """Stubber: the preflight's Lambda client answers from here (moto has no GetLayerVersionByArn)."""
    client = boto3.client("lambda", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    real = preflight._client
    monkeypatch.setattr(preflight, "_client", lambda aws, name, region=None:
                        client if name == "lambda" else real(aws, name, region))
    return Stubber(client)


def _layer_answer(arn: str) -> dict[str, object]:
    return {"LayerVersionArn": arn, "LayerArn": arn.rsplit(":", 1)[0], "Version": int(arn.rsplit(":", 1)[1]),
            "CompatibleArchitectures": ["x86_64"]}


def test_preflight_says_when_newer_layer_versions_are_published(site: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Stubber: the pinned version is read, then GetLayerVersionByArn on 22 and 23 finds both, and 24 is
    ResourceNotFoundException (never published), so the note names 23; a layer whose next version is
    AccessDeniedException (what Lambda answers for another account's unpublished one) gets none."""
    config: Config = load(site)
    config.php.extensions = []
    aws = connect(config)
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # as on AWS: Bref's account is asked, not an emulator's
    stub = _stubbed_lambda(monkeypatch)
    base = PINNED.rsplit(":", 1)[0]
    stub.add_response("get_layer_version", _layer_answer(PINNED), {"LayerName": base, "VersionNumber": 21})
    for version in (22, 23):
        stub.add_response("get_layer_version_by_arn", _layer_answer(f"{base}:{version}"), {"Arn": f"{base}:{version}"})
    stub.add_client_error("get_layer_version_by_arn", "ResourceNotFoundException", "not found", 404,
                          expected_params={"Arn": f"{base}:24"})
    stub.add_response("get_layer_version", _layer_answer(PINNED), {"LayerName": base, "VersionNumber": 21})
    # Another account's unpublished version has no public permission: Lambda answers AccessDenied.
    stub.add_client_error("get_layer_version_by_arn", "AccessDeniedException", "not authorized", 403,
                          expected_params={"Arn": f"{base}:22"})
    newer, current = preflight.Preflight(), preflight.Preflight()
    with stub:
        preflight.check_layers(config, aws, newer)
        preflight.check_layers(config, aws, current)
        stub.assert_no_pending_responses()
    assert newer.failures == [] and "1 layers" in newer.passed
    assert newer.notes == [f"layer {PINNED}: version 23 of {base} is published, newer than the pinned 21; a newer "
                           "Bref layer may carry PHP's security fixes: refresh Bref's data "
                           "(scripts/refresh_bref_layers.py) and review the diff"]
    assert current.failures == [] and current.notes == []


def test_moto_answers_no_get_layer_version_by_arn_so_nothing_is_claimed(site: Path) -> None:
    """moto: a layer of moto's own account is read (GetLayerVersion), but moto's server answers
    GetLayerVersionByArn with a 500 (not implemented); the preflight says the newer versions were not
    checked, and the layer check itself still passes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("bin/php", "#!/bin/sh\n")
    arn = boto3.client("lambda").publish_layer_version(LayerName="own-php", Content={"ZipFile": buf.getvalue()},
                                                       CompatibleArchitectures=["x86_64"])["LayerVersionArn"]
    config = load(site)
    config.php.layer_arn, config.php.extensions = arn, []
    result = preflight.Preflight()
    preflight.check_layers(config, connect(config), result)
    assert result.failures == [] and "1 layers" in result.passed
    assert result.notes == [f"layer {arn}: newer versions: could not run (AWS answered 500)"]
