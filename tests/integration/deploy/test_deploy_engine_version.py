"""An existing Aurora cluster keeps the engine version it runs: a new EngineVersion upgrades a
cluster in place, with an outage and no way back, so a refresh of the kit's pin must reach new sites
only. The version travels as the stack's ``AuroraEngineVersion`` parameter (moto's server holds it);
a stack an older kit deployed wrote the version into the cluster's properties instead, and moto's
stacks hold no ``AWS::RDS::DBCluster`` (its CloudFormation cannot create one, so the emulator step
leaves it out): that template is answered by botocore's ``Stubber``.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from tests.integration.deploy.conftest import REGION, deploy_in_process, deployed_with_cli
from wp_lambda import stack as stack_mod
from wp_lambda.aws import connect
from wp_lambda.common.errors import UserError
from wp_lambda.config import aurora, load
from wp_lambda.deploy import preflight, run
from wp_lambda.render import AURORA_ENGINE_VERSION_PARAMETER

STACK = "engblog"
NEWER = "8.0.mysql_aurora.3.10.9"
OLDER = "8.0.mysql_aurora.3.08.0"


@pytest.fixture(scope="module")
def site(aws_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return deployed_with_cli(tmp_path_factory.mktemp("engine") / STACK, STACK)


def _parameter() -> str:
    params = boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["Parameters"]
    return next(p["ParameterValue"] for p in params if p["ParameterKey"] == AURORA_ENGINE_VERSION_PARAMETER)


def _engine_check(root: Path, **database: str) -> tuple[preflight.Preflight, bool]:
    """The preflight's engine-version check on the deployed stack; whether it went on to ask RDS
    (moto lacks DescribeDBEngineVersions: that part is a check that could not run)."""
    config = load(root)
    for key, value in database.items():
        setattr(config.database, key, value)
    aws = connect(config)
    state = stack_mod.StackState.read(aws.client("cloudformation"), STACK)
    result = preflight.Preflight()
    try:
        preflight.check_engine_version(config, aws, result, creating=False,
                                       deployed=stack_mod.deployed_engine_version(aws.client("cloudformation"), state))
    except preflight._NotRun:
        return result, True
    return result, False


def test_a_refreshed_pin_leaves_the_deployed_cluster_at_its_version(site: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    deployed = _parameter()
    assert deployed == aurora.default_version()  # the first deploy sent the pin
    monkeypatch.setattr(aurora, "default_version", lambda: NEWER)
    config = load(site)
    aws = connect(config)
    plan = run.plan_for(config, aws, stack_mod.StackState.read(aws.client("cloudformation"), STACK))
    assert plan.parameters[AURORA_ENGINE_VERSION_PARAMETER] == deployed
    deploy_in_process(site, STACK)
    assert _parameter() == deployed
    result, asked = _engine_check(site)
    assert asked and result.failures == [] and not any("upgrades" in n for n in result.notes)


def test_a_named_newer_version_upgrades_the_cluster_and_says_so_first(site: Path) -> None:
    deployed = _parameter()
    config = load(site)
    config.database.engine_version = NEWER
    aws = connect(config)
    plan = run.plan_for(config, aws, stack_mod.StackState.read(aws.client("cloudformation"), STACK))
    assert plan.parameters[AURORA_ENGINE_VERSION_PARAMETER] == NEWER
    result, _ = _engine_check(site, engine_version=NEWER)
    assert result.failures == []
    assert [n for n in result.notes if "upgrades" in n] == [
        f"Aurora engine version: this deploy upgrades DatabaseCluster in place from {deployed} to {NEWER} "
        "(database.engine_version): the database restarts, and there is no way back; set "
        "database.engine_version = \"\" to keep the version it runs"]


def test_a_named_older_version_is_refused(site: Path) -> None:
    deployed = _parameter()
    result, asked = _engine_check(site, engine_version=OLDER)
    assert not asked and result.failures == [
        f"Aurora engine version {OLDER}: the cluster runs {deployed}, and Aurora cannot go back to an older "
        f"version; fix: set database.engine_version = \"{deployed}\" (or \"\" to keep the one it runs)"]


def _old_stack(cfn: object) -> stack_mod.StackState:
    """A stack an older kit deployed: no AuroraEngineVersion parameter, a DatabaseCluster resource."""
    return stack_mod.StackState("oldblog", {"StackStatus": "UPDATE_COMPLETE", "Parameters": [
        {"ParameterKey": "SiteName", "ParameterValue": "oldblog"}]},
        {stack_mod.DATABASE_CLUSTER: {"PhysicalResourceId": "oldblog-cluster"}})


def test_a_stack_from_an_older_kit_keeps_the_version_its_template_wrote() -> None:
    cfn = boto3.client("cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(cfn) as stub:
        stub.add_response("get_template", {"TemplateBody": json.dumps({"Resources": {stack_mod.DATABASE_CLUSTER: {
            "Type": "AWS::RDS::DBCluster", "Properties": {"Engine": "aurora-mysql", "EngineVersion": OLDER}}}})},
            expected_params={"StackName": "oldblog"})
        assert stack_mod.deployed_engine_version(cfn, _old_stack(cfn)) == OLDER
        # Not knowing is refused rather than guessed: a guess of the pin would upgrade the cluster.
        stub.add_client_error("get_template", "AccessDenied", "not allowed", http_status_code=403)
        with pytest.raises(UserError, match="cannot read its template to find DatabaseCluster's engine version"):
            stack_mod.deployed_engine_version(cfn, _old_stack(cfn))
