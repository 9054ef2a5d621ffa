"""The site function's versions against moto's server: a deploy undoes `wplambda rollback`'s drift,
and deletes the published versions beyond function.versions_kept (wp_lambda.deploy.versions).

The stack is a fresh `init --yes` project's real template, deployed by the console script.
moto's CloudFormation publishes the stack's AWS::Lambda::Version but skips AWS::Lambda::Alias, so
the `live` alias is made here as CloudFormation makes it on AWS; the earlier deploys' versions are
published by hand (what SAM's retained Version resources leave behind on AWS). ListVersionsByFunction,
ListAliases, GetAlias, UpdateAlias (with Description) and DeleteFunction with a Qualifier are moto's own.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from tests.integration.deploy.conftest import deployed_with_cli
from tests.support.helpers import run_wplambda

STACK = "verblog"


@pytest.fixture(scope="module")
def site(aws_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return deployed_with_cli(tmp_path_factory.mktemp("versions") / STACK, STACK)


def _function() -> str:
    outputs = boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]
    return next(o["OutputValue"] for o in outputs if o["OutputKey"] == "FunctionName")


def _versions(function: str) -> list[int]:
    listed = boto3.client("lambda").list_versions_by_function(FunctionName=function)["Versions"]
    return sorted(int(v["Version"]) for v in listed if v["Version"].isdigit())


def test_deploy_after_rollback_moves_the_alias_back_and_keeps_the_rollback_window(site: Path) -> None:
    lam = boto3.client("lambda")
    function = _function()
    for number in range(5):  # earlier deploys' versions (moto publishes only after a change, as AWS does)
        lam.update_function_configuration(FunctionName=function, Description=f"deploy {number}")
        lam.publish_version(FunctionName=function)
    deployed = max(_versions(function))
    assert deployed == 6
    lam.create_alias(FunctionName=function, Name="live", FunctionVersion=str(deployed))
    # A hand-made alias on an old version: it and the version before it (its rollback target) stay.
    lam.create_alias(FunctionName=function, Name="canary", FunctionVersion="2")

    rolled = run_wplambda("rollback", "--stack", STACK, cwd=site)
    assert rolled.returncode == 0, rolled.stderr
    assert f"version {deployed} -> {deployed - 1}" in rolled.stdout
    assert "`wplambda deploy` moves it back" in " ".join(rolled.stdout.split())
    # A second rollback goes further back and still remembers the deployed version.
    again = run_wplambda("rollback", "--stack", STACK, cwd=site)
    assert again.returncode == 0, again.stderr
    assert lam.get_alias(FunctionName=function, Name="live")["FunctionVersion"] == str(deployed - 2)
    status = json.loads(run_wplambda("status", "--stack", STACK, "--json", cwd=site).stdout)
    assert (status["function_version"], status["deployed_version"]) == (str(deployed - 2), str(deployed))

    # The same build again: nothing to send to CloudFormation, yet the alias goes back.
    result = run_wplambda("deploy", "--stack", STACK, "--yes", "--skip-build", "--json", cwd=site)
    assert result.returncode == 0, result.stdout + result.stderr
    shown = json.loads(result.stdout)
    assert shown["stack_changed"] is False
    alias = lam.get_alias(FunctionName=function, Name="live")
    assert alias["FunctionVersion"] == str(deployed)
    assert alias.get("Description", "") == ""
    assert any(f"back to version {deployed}" in note and f"rolled back to version {deployed - 2}" in note
               for note in shown["notes"])
    # The newest three stay (the live one and two to roll back to), and the canary's two; 3 is gone.
    kept = [1, 2, 4, 5, 6]
    assert _versions(function) == kept
    assert shown["function_versions"] == {"kept": 5, "kept_versions": kept, "deleted": [3], "dry_run": False}
    assert lam.get_alias(FunctionName=function, Name="canary")["FunctionVersion"] == "2"

    # Nothing left to do: the plain output says how many versions are kept, and the alias stays.
    plain = run_wplambda("deploy", "--stack", STACK, "--yes", "--skip-build", cwd=site)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "function versions: kept 5 (1, 2, 4, 5, 6)" in " ".join(plain.stdout.split())
    assert "moved it back" not in plain.stderr + plain.stdout
    assert lam.get_alias(FunctionName=function, Name="live")["FunctionVersion"] == str(deployed)


def test_rollback_without_an_earlier_version_exits_2(site: Path) -> None:
    lam = boto3.client("lambda")
    function = _function()
    oldest = min(_versions(function))
    lam.update_alias(FunctionName=function, Name="live", FunctionVersion=str(oldest))
    result = run_wplambda("rollback", "--stack", STACK, cwd=site)
    assert result.returncode == 2
    assert f"is at version {oldest}; there is no earlier one" in result.stderr
