"""The emulator step: the transformed template adapted for moto (wp_lambda.deploy.emulator).

Pure data in, data out, on the transformed template of a fresh `init --yes` project; the deploy
of that project to moto's server (test_deploy_moto.py) shows the adapted template is accepted.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.integration.deploy.conftest import make_project
from wp_lambda.deploy import emulator
from wp_lambda.validate import load_template, swap_artifacts, transform


@pytest.fixture(scope="module")
def transformed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = make_project(tmp_path_factory.mktemp("emulated") / "blog")
    template = swap_artifacts(load_template(root / "template.yaml"), lambda name, path: f"s3://artifacts/{path}")
    return transform(template, "us-east-1")


@pytest.mark.parametrize(("endpoint", "emulated"), [
    (None, False), ("", False), ("https://cloudformation.eu-west-1.amazonaws.com", False),
    ("https://s3.amazonaws.com/", False), ("http://localhost:5000", True), ("http://127.0.0.1:4566/", True),
])
def test_only_endpoints_outside_aws_are_emulated(endpoint: str | None, emulated: bool) -> None:
    assert emulator.is_emulated(endpoint) is emulated


def test_no_resource_is_dropped_and_the_input_is_untouched(transformed: dict[str, Any]) -> None:
    before = copy.deepcopy(transformed)
    adapted = emulator.adapt(transformed)
    assert transformed == before
    assert set(adapted.template["Resources"]) == set(transformed["Resources"])
    assert {k: v["Type"] for k, v in adapted.template["Resources"].items()} == \
        {k: v["Type"] for k, v in transformed["Resources"].items()}


def test_alias_references_become_the_functions_arn(transformed: dict[str, Any]) -> None:
    aliases = [k for k, v in transformed["Resources"].items() if v["Type"] == "AWS::Lambda::Alias"]
    assert len(aliases) == 1
    alias = aliases[0]
    assert f'"Ref": "{alias}"' in json.dumps(transformed)  # SAM's permissions use it
    adapted = emulator.adapt(transformed).template
    text = json.dumps({k: v for k, v in adapted["Resources"].items() if k != alias} | {"O": adapted["Outputs"]})
    assert f'"Ref": "{alias}"' not in text and "${" + alias + "}" not in text
    arn = {"Fn::GetAtt": ["WordPressFunction", "Arn"]}
    for name, res in adapted["Resources"].items():
        if res["Type"] == "AWS::Lambda::Permission":
            # The schedule's permission is the console function's (cron runs there), which has no alias.
            cron = res["Properties"]["Principal"] == "events.amazonaws.com"
            assert res["Properties"]["FunctionName"] == ({"Ref": "ConsoleFunction"} if cron else arn), name
        if res["Type"] == "AWS::Events::Rule":
            assert [t["Arn"] for t in res["Properties"]["Targets"]] == [{"Fn::GetAtt": ["ConsoleFunction", "Arn"]}]
    assert adapted["Outputs"]["FunctionAlias"]["Value"] == arn


def test_aurora_instance_states_its_clusters_engine_version(transformed: dict[str, Any]) -> None:
    assert "EngineVersion" not in transformed["Resources"]["DatabaseInstance"]["Properties"]
    adapted = emulator.adapt(transformed)
    version = transformed["Resources"]["DatabaseCluster"]["Properties"]["EngineVersion"]
    assert adapted.template["Resources"]["DatabaseInstance"]["Properties"]["EngineVersion"] == version
    assert version == {"Ref": "AuroraEngineVersion"}  # kept as it runs on an update (test_deploy_engine_version)
    assert "DatabaseInstance states its cluster's engine version (the parameter AuroraEngineVersion)" in adapted.notes


def test_only_outputs_reading_skipped_resources_are_left_out(transformed: dict[str, Any]) -> None:
    adapted = emulator.adapt(transformed)
    gone = set(transformed["Outputs"]) - set(adapted.template["Outputs"])
    # SiteUrl and AdminUrl: ${Distribution.DomainName}; the other two: a bare Fn::GetAtt.
    assert gone == {"SiteUrl", "AdminUrl", "DistributionDomain", "DatabaseEndpoint"}
    assert any(all(name in note for name in gone) for note in adapted.notes)
    kept = set(adapted.template["Outputs"])
    # A bare Ref of a skipped resource (DistributionId, OriginSecretArn) is harmless to moto: kept.
    assert {"AssetsBucketName", "UploadsBucketName", "FunctionName", "FunctionAlias", "ConsoleFunctionName",
            "DistributionId", "OriginSecretArn"} == kept


def test_retain_except_on_create_becomes_retain_and_says_so(transformed: dict[str, Any]) -> None:
    # AWS deletes the uploads bucket only when its first create rolls back; moto keeps a resource on
    # a stack delete only for exactly "Retain", so the media would go with the stack.
    assert transformed["Resources"]["UploadsBucket"]["DeletionPolicy"] == "RetainExceptOnCreate"
    adapted = emulator.adapt(transformed)
    bucket = adapted.template["Resources"]["UploadsBucket"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert any("RetainExceptOnCreate" in note and "UploadsBucket" in note for note in adapted.notes)
    assert "RetainExceptOnCreate" not in json.dumps(adapted.template)


def test_the_consoles_distribution_address_is_a_stand_in(transformed: dict[str, Any]) -> None:
    """moto creates no distribution and fails a resource reading its DomainName: the console
    function's WP_HOME (issue 23, item 4) reads a name under the reserved .invalid domain instead."""
    variables = transformed["Resources"]["ConsoleFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["WP_HOME"] == {"Fn::Sub": "https://${Distribution.DomainName}"}
    adapted = emulator.adapt(transformed)
    resources = adapted.template["Resources"]
    assert resources["ConsoleFunction"]["Properties"]["Environment"]["Variables"]["WP_HOME"] == \
        {"Fn::Sub": "https://${AWS::StackName}.distribution.invalid"}
    assert "Distribution.DomainName" not in json.dumps(resources)
    assert any("ConsoleFunction" in note and "stand-in" in note for note in adapted.notes)
