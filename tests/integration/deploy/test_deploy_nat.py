"""Changing network.nat_instance_type between x86_64 and arm64 against moto's server: the deploy
preflight refuses it (exit 2, nothing changed) with the two-deploy way around, since the replacement
instance would need the network interface the deployed one holds (wp_lambda.deploy.preflight).
A type of the same architecture passes. The stack is a fresh `init --yes` project (vpc-nat-instance,
t4g.nano), whose NAT instance moto's CloudFormation creates."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
import tomlkit

from tests.integration.deploy.conftest import deployed_with_cli
from tests.support.helpers import run_wplambda

STACK = "natblog"


@pytest.fixture(scope="module")
def site(aws_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return deployed_with_cli(tmp_path_factory.mktemp("nat") / STACK, STACK)


def _set_nat_type(root: Path, instance_type: str) -> None:
    path = root / "wplambda.toml"
    doc = tomlkit.parse(path.read_text())
    doc["network"]["nat_instance_type"] = instance_type
    path.write_text(tomlkit.dumps(doc))


def _nat_instance() -> str:
    found = boto3.client("cloudformation").describe_stack_resources(StackName=STACK)["StackResources"]
    return next(r["PhysicalResourceId"] for r in found if r.get("LogicalResourceId") == "NatInstance")


def test_switching_the_nat_instance_to_x86_is_refused_with_the_steps(site: Path) -> None:
    instance = _nat_instance()
    assert boto3.client("ec2").describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0][
        "InstanceType"] == "t4g.nano"
    _set_nat_type(site, "t3.nano")
    for extra in ([], ["--dry-run"]):
        result = run_wplambda("deploy", "--stack", STACK, "--yes", "--skip-build", *extra, cwd=site)
        assert result.returncode == 2, result.stdout + result.stderr
        said = " ".join(result.stderr.split())
        assert "network.nat_instance_type = 't3.nano' (x86_64) would replace the deployed NAT instance " \
               "'t4g.nano' (arm64)" in said
        assert 'set network.mode = "vpc-nat-gateway" and deploy' in said
        assert "nothing was created" in said
    assert _nat_instance() == instance
    status = boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]
    assert status == "CREATE_COMPLETE"


def test_a_type_of_the_same_architecture_passes_the_check(site: Path) -> None:
    _set_nat_type(site, "t4g.micro")
    result = run_wplambda("deploy", "--stack", STACK, "--yes", "--skip-build", "--dry-run", cwd=site)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "NAT instance (t4g.nano -> t4g.micro)" in " ".join(result.stderr.split())
