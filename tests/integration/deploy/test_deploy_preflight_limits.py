"""Deploy preflight: what only AWS knows about a stack's limits, the Aurora engine version and layer sizes.

- The Aurora engine version (``check_engine_version``): moto 5 does not implement RDS's
  DescribeDBEngineVersions (its server answers "not implemented"), so against moto the check is
  reported as not run, and what it decides is tested with botocore's ``Stubber``: the exact requests,
  an offered version, a retired one on a first deploy (refused, naming the region's newest versions)
  and on an update (a note), and a version whose Serverless v2 minimum is above 0 ACU.
- Layer sizes (``check_layer_sizes``): against moto's server for a layer of this account
  (GetLayerVersion answers its real ``Content.CodeSize``); moto keeps each account's layers to itself,
  so Bref's layers (accounts 873528684822 and 403367587399) are answered by the ``Stubber``.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.integration.deploy.conftest import REGION, config_with, lay_out_build, make_project
from wp_lambda import stack as stack_mod
from wp_lambda.aws import connect
from wp_lambda.bundle.pipeline import MANIFEST
from wp_lambda.bundle.sizes import MB, UNZIPPED_LIMIT
from wp_lambda.config import php_extension_layer_arns, php_layer_arn
from wp_lambda.deploy import preflight
from wp_lambda.deploy.plan import BUILD_DIR

PIN = "8.0.mysql_aurora.3.10.4"


@pytest.fixture(scope="module")
def project(aws_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A default project: Aurora Serverless v2 at min_acu = 0, in a VPC, Bref's PHP layer."""
    root = make_project(tmp_path_factory.mktemp("limits"), name="lim")
    lay_out_build(root)
    return root


def _stubbed(monkeypatch: pytest.MonkeyPatch, service: str) -> Stubber:
    """The preflight's ``service`` client answers from the Stubber; the other services still go to moto."""
    client = boto3.client(service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    real = preflight._client
    monkeypatch.setattr(preflight, "_client", lambda aws, name, region=None:
                        client if name == service else real(aws, name, region))
    return Stubber(client)


def _version(version: str, status: str = "available", min_capacity: float = 0.0) -> dict[str, Any]:
    """One DBEngineVersions entry as RDS answers it (the fields the check reads, and a few it does not)."""
    return {"Engine": "aurora-mysql", "EngineVersion": version, "DBParameterGroupFamily": "aurora-mysql8.0",
            "Status": status, "SupportedEngineModes": ["provisioned"],
            "ServerlessV2FeaturesSupport": {"MinCapacity": min_capacity, "MaxCapacity": 256.0}}


# -- Aurora engine version -----------------------------------------------------------------------

def test_engine_version_against_moto_is_not_run(project: Path) -> None:
    """moto: DescribeDBEngineVersions is not implemented there, which is a check that could not run,
    never a refusal (the deploy meets the same question at CreateDBCluster)."""
    config = config_with(project, php={"source": "dir"})
    with pytest.raises(preflight._NotRun, match=f"^Aurora engine version {PIN}: could not run"):
        preflight.check_engine_version(config, connect(config), preflight.Preflight())


def test_offered_engine_version_passes(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stubber: the exact request (engine and the pinned version), and an available answer."""
    config = config_with(project)
    stub = _stubbed(monkeypatch, "rds")
    stub.add_response("describe_db_engine_versions", {"DBEngineVersions": [_version(PIN)]},
                      expected_params={"Engine": "aurora-mysql", "EngineVersion": PIN})
    result = preflight.Preflight()
    with stub:
        preflight.check_engine_version(config, connect(config), result)
        stub.assert_no_pending_responses()
    assert result.failures == [] and result.passed == [f"Aurora engine version {PIN}"]


def _retired(stub: Stubber, version: str) -> None:
    """RDS lists nothing for a retired version; the whole list (two pages) then names the current ones."""
    stub.add_response("describe_db_engine_versions", {"DBEngineVersions": []},
                      expected_params={"Engine": "aurora-mysql", "EngineVersion": version})
    stub.add_response("describe_db_engine_versions",
                      {"DBEngineVersions": [_version("8.0.mysql_aurora.3.04.4"), _version("8.0.mysql_aurora.3.09.0"),
                                            _version("8.0.mysql_aurora.3.10.1")], "Marker": "page-2"},
                      expected_params={"Engine": "aurora-mysql"})
    stub.add_response("describe_db_engine_versions",
                      {"DBEngineVersions": [_version("8.0.mysql_aurora.3.10.2"),
                                            _version("8.0.mysql_aurora.3.11.0", status="deprecated"),
                                            _version("8.0.mysql_aurora.3.08.2")]},
                      expected_params={"Engine": "aurora-mysql", "Marker": "page-2"})


def test_retired_engine_version_is_refused_on_create_and_noted_on_update(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stubber: a version the region no longer offers. Creating the cluster would fail, so a first deploy is
    refused, naming the newest three versions that can pause (3.04.4 cannot; a deprecated one is not
    offered); an update keeps the existing cluster's version, so there it is a note."""
    old = "8.0.mysql_aurora.3.08.0"
    config = config_with(project, database={"engine_version": old})
    stub = _stubbed(monkeypatch, "rds")
    _retired(stub, old)
    _retired(stub, old)
    creating, updating = preflight.Preflight(), preflight.Preflight()
    with stub:
        preflight.check_engine_version(config, connect(config), creating, creating=True)
        preflight.check_engine_version(config, connect(config), updating, creating=False)
        stub.assert_no_pending_responses()
    line = (f"Aurora engine version {old}: us-east-1 no longer offers it for new clusters (it offers "
            "8.0.mysql_aurora.3.10.2, 8.0.mysql_aurora.3.10.1, 8.0.mysql_aurora.3.09.0); fix: refresh the kit's "
            "pin (scripts/refresh_aurora_version.py), or set database.engine_version to one of those")
    assert creating.failures == [line] and creating.passed == []
    assert updating.failures == [] and updating.notes == [line]


def test_engine_version_that_cannot_pause_is_refused(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stubber: RDS says the version's Serverless v2 minimum is 0.5 ACU, so min_acu = 0 cannot be made."""
    config = config_with(project)
    stub = _stubbed(monkeypatch, "rds")
    stub.add_response("describe_db_engine_versions", {"DBEngineVersions": [_version(PIN, min_capacity=0.5)]},
                      expected_params={"Engine": "aurora-mysql", "EngineVersion": PIN})
    result = preflight.Preflight()
    with stub:
        preflight.check_engine_version(config, connect(config), result)
    assert result.failures == [f"Aurora engine version {PIN}: its Serverless v2 minimum is 0.5 ACU, so it cannot "
                               "pause at database.min_acu = 0; fix: set database.engine_version to a newer "
                               "version, or database.min_acu = 0.5"]


def test_external_database_asks_nothing(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stubber with no responses: an external database is not the stack's to create, so RDS is not asked."""
    config = config_with(project, database={"mode": "external"})
    stub = _stubbed(monkeypatch, "rds")
    result = preflight.Preflight()
    with stub:
        preflight.check_engine_version(config, connect(config), result)
    assert result == preflight.Preflight()


# -- layer sizes ---------------------------------------------------------------------------------

def _weigh(project: Path, unzipped: int) -> None:
    """The build's record of the function and kit layer, unzipped (what `wplambda build` writes)."""
    (project / BUILD_DIR / MANIFEST).write_text(json.dumps({"sizes": {"unzipped_total": unzipped}}))


def _moto_layer(name: str, size: int) -> tuple[str, int]:
    """A layer published to moto holding ``size`` incompressible bytes; its ARN and CodeSize."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bin/php", os.urandom(size))
    published = boto3.client("lambda").publish_layer_version(LayerName=name, Content={"ZipFile": buf.getvalue()},
                                                             CompatibleArchitectures=["x86_64"])
    return str(published["LayerVersionArn"]), int(published["Content"]["CodeSize"])


def test_layer_sizes_count_against_the_limit_moto(project: Path) -> None:
    """moto: a function and kit layer of 240 MB fit alone; with a 12 MB PHP layer they do not, and the
    refusal names the layer's published size. A 1 MB layer fits, reported as a floor."""
    big, big_size = _moto_layer("lim-php-big", 12 * MB)
    small, small_size = _moto_layer("lim-php-small", 1 * MB)
    assert big_size > 12 * MB  # incompressible: the zip is the bytes plus its headers
    _weigh(project, 240 * MB)
    aws = connect(config_with(project))
    refused = preflight.Preflight()
    preflight.check_layer_sizes(config_with(project, php={"layer_arn": big, "extensions": []}), aws, refused)
    (failure,) = refused.failures
    assert failure == (f"function + kit layer is 240.0 MB unzipped, and with the attached layers at least "
                       f"{(240 * MB + big_size) / MB:.1f} MB, over Lambda's 250 MB limit for a function and all its "
                       f"layers unzipped (layers counted at their zipped size, which is less than they take "
                       f"unzipped: {big}: {big_size / MB:.1f} MB zipped); fix: drop languages or plugins you do not "
                       "need, or php.extensions you do not use, then build again")
    fits = preflight.Preflight()
    preflight.check_layer_sizes(config_with(project, php={"layer_arn": small, "extensions": []}), aws, fits)
    assert fits.failures == []
    assert fits.passed == [f"size with 1 layers (at least {(240 * MB + small_size) / MB:.1f} of 250 MB)"]


def test_brefs_layers_are_weighed_stubbed(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stubber (moto holds no other account's layers): Bref's PHP layer and its gd layer, each asked by
    GetLayerVersion with the pinned ARN, each named with its CodeSize when together they do not fit."""
    config = config_with(project, php={"layer_arn": "", "extensions": ["gd"]})
    php, (gd,) = php_layer_arn(config), php_extension_layer_arns(config)
    assert php is not None and php.split(":")[4] == "873528684822" and gd.split(":")[4] == "403367587399"
    _weigh(project, 200 * MB)
    stub = _stubbed(monkeypatch, "lambda")
    # As on AWS (not an emulator): every layer is asked about, whatever its account.
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    for arn, size in ((php, 30 * MB), (gd, 21 * MB)):
        layer, _, version = arn.rpartition(":")
        stub.add_response("get_layer_version", {"Content": {"CodeSize": size}, "Version": int(version),
                                                "LayerVersionArn": arn},
                          expected_params={"LayerName": layer, "VersionNumber": int(version)})
    result = preflight.Preflight()
    with stub:
        preflight.check_layer_sizes(config, connect(config), result)
        stub.assert_no_pending_responses()
    (failure,) = result.failures
    assert failure.startswith("function + kit layer is 200.0 MB unzipped, and with the attached layers at least "
                              "251.0 MB, over Lambda's 250 MB limit")
    assert f"{php}: 30.0 MB zipped; {gd}: 21.0 MB zipped" in failure
    assert UNZIPPED_LIMIT == 250 * MB


def test_no_build_record_or_no_bref_layers_weighs_nothing(project: Path) -> None:
    """moto: without a build's record, or with PHP from a directory (no layer but the kit's), the
    check has nothing to add and says nothing."""
    (project / BUILD_DIR / MANIFEST).unlink(missing_ok=True)
    config = config_with(project)
    for case in (config, config_with(project, php={"source": "dir"})):
        result = preflight.Preflight()
        preflight.check_layer_sizes(case, connect(config), result)
        assert result == preflight.Preflight()


def test_full_preflight_runs_both_checks(project: Path) -> None:
    """moto, through ``preflight.run`` on a stack that does not exist yet: the engine version check is
    not run (moto lacks the call) and Bref's layers are not counted (other accounts), each said as a note."""
    _weigh(project, 10 * MB)
    config = config_with(project, php={"layer_arn": "", "extensions": []})
    state = stack_mod.StackState("lim", None, {})
    result = preflight.run(config, connect(config), state, offer_delete=False)
    assert any(note.startswith(f"Aurora engine version {PIN}: could not run") for note in result.notes)
    assert any(note.startswith(f"size of layer {php_layer_arn(config)}: not counted") for note in result.notes)
