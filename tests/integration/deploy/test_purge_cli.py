"""`wplambda purge` against moto's server: the stack's distribution found from its DistributionId
output, one invalidation of the checked paths (moto 5.2.6 implements CreateInvalidation and
ListInvalidations), `--all` as "/*", `--json`; a bad path refused with exit 2 before any AWS call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.integration.deploy.conftest import REGION, make_project
from tests.support.helpers import run_wplambda

STACK = "purged"


@pytest.fixture(scope="module")
def distribution(aws_env: dict[str, str]) -> str:
    """A distribution, and a stack that names it in its DistributionId output as the kit's does."""
    cloudfront = boto3.client("cloudfront", region_name=REGION)
    origin = {"Id": "function", "DomainName": "example.execute-api.us-east-1.amazonaws.com",
              "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}
    config = {"CallerReference": "purge-cli", "Comment": "", "Enabled": True,
              "Origins": {"Quantity": 1, "Items": [origin]},
              "DefaultCacheBehavior": {"TargetOriginId": "function", "ViewerProtocolPolicy": "redirect-to-https",
                                       "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"}}
    found = str(cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"])
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {"DistributionId": {"Value": found}}}
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName=STACK, TemplateBody=json.dumps(template))
    return found


def _invalidations(distribution: str) -> list[dict[str, Any]]:
    cloudfront = boto3.client("cloudfront", region_name=REGION)
    items = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"].get("Items", [])
    return [cloudfront.get_invalidation(DistributionId=distribution, Id=item["Id"])["Invalidation"] for item in items]


def test_purge_sends_one_invalidation_of_the_paths(tmp_path: Path, distribution: str) -> None:
    project = make_project(tmp_path, STACK, region=REGION)
    result = run_wplambda("purge", "--stack", STACK, "/hello-world/", "/category/news/*", "/hello-world/",
                          cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    (made,) = _invalidations(distribution)
    assert made["InvalidationBatch"]["Paths"]["Items"] == ["/hello-world/", "/category/news/*"]
    assert f"invalidation {made['Id']} of 2 paths on {distribution}" in result.stdout


def test_purge_all_in_json(tmp_path: Path, distribution: str) -> None:
    project = make_project(tmp_path, STACK, region=REGION)
    result = run_wplambda("purge", "--stack", STACK, "--all", "--json", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    answer = json.loads(result.stdout)
    assert answer["paths"] == ["/*"] and answer["count"] == 1 and answer["distribution"] == distribution
    assert answer["invalidation"] in {made["Id"] for made in _invalidations(distribution)}


@pytest.mark.parametrize(("args", "named"), [
    (["hello-world/"], "'hello-world/'"), (["/a*b/"], "'/a*b/'"), (["/ok/", "/with space/"], "'/with space/'"),
    (["--all", "/x/"], "--all"), ([], "no paths")])
def test_a_bad_path_is_refused_with_exit_2_and_nothing_sent(tmp_path: Path, distribution: str, args: list[str],
                                                            named: str) -> None:
    before = len(_invalidations(distribution))
    project = make_project(tmp_path, STACK, region=REGION)
    result = run_wplambda("purge", "--stack", STACK, *args, cwd=project)
    assert result.returncode == 2, result.stdout + result.stderr
    assert named in result.stderr and "fix:" in result.stderr
    assert len(_invalidations(distribution)) == before


def test_a_stack_that_does_not_exist_is_named(tmp_path: Path, aws_env: dict[str, str]) -> None:
    project = make_project(tmp_path, STACK, region=REGION)
    result = run_wplambda("purge", "--stack", "nope", "/x/", cwd=project)
    assert result.returncode == 2 and "stack 'nope' does not exist" in result.stderr
