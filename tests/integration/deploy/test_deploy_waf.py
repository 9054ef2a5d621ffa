"""security.waf against moto's server: the companion stack in us-east-1, its ARN on the site's
distribution, and turning it off again; the preflight and the config refusing before anything exists.

The site's stack is in eu-west-1, so the companion stack's region is the WAF's own, not the
site's. moto's CloudFormation has no AWS::WAFv2::WebACL: in this (emulator) path only,
wp_lambda.deploy.emulator.adapt gives the companion stack's WebAclArn output a stand-in ARN, and
these tests check that the same value reaches the site's stack. Deploys to moto take tens of
seconds each, so the on-and-off flow is one test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.integration.deploy.conftest import VPC_TEMPLATE, deploy_in_process, init_with_cli, vpc_project
from tests.support.helpers import run_wplambda
from wp_lambda import render
from wp_lambda.common.errors import UserError
from wp_lambda.config import load as load_config
from wp_lambda.config.schema import WAF_REGION, WAF_TEMPLATE
from wp_lambda.deploy import emulator, waf
from wp_lambda.validate import load_template

SITE_REGION = "eu-west-1"


def _configure(root: Path, waf_on: bool, limit: int = 30) -> None:
    """Set the site's region and security.waf in wplambda.toml and render, as a user's edit and
    `wplambda render` would."""
    toml = root / "wplambda.toml"
    text = toml.read_text().replace('region = "us-east-1"', f'region = "{SITE_REGION}"')
    text = text.replace("\nwaf = false\n", "\nwaf = true\n") if waf_on else text.replace("\nwaf = true\n",
                                                                                          "\nwaf = false\n")
    lines = [f"waf_login_limit = {limit}" if line.startswith("waf_login_limit =") else line
             for line in text.splitlines()]
    toml.write_text("\n".join(lines) + "\n")
    render.render_project(load_config(root))


def _template(cfn: Any, stack: str) -> dict[str, Any]:
    body = cfn.get_template(StackName=stack)["TemplateBody"]
    return body if isinstance(body, dict) else dict(json.loads(body))


def _exists(cfn: Any, stack: str) -> bool:
    return any(s["StackStatus"] != "DELETE_COMPLETE" for s in cfn.list_stacks()["StackSummaries"]
               if s["StackName"] == stack)


@pytest.fixture(scope="module")
def site(aws_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return init_with_cli(tmp_path_factory.mktemp("waf-site") / "wafblog", "wafblog")


def test_waf_on_creates_the_companion_first_then_off_detaches_and_deletes_it(site: Path) -> None:
    east = boto3.client("cloudformation", region_name=WAF_REGION)
    home = boto3.client("cloudformation", region_name=SITE_REGION)
    _configure(site, waf_on=True)
    # A dry run first: the companion stack's plan and change set, nothing executed; the site's change
    # set is made before the web ACL exists, with a placeholder of the ARN's shape.
    outcome, said = deploy_in_process(site, "wafblog", dry_run=True)
    assert "plan: create stack wafblog-waf in us-east-1 (change set type CREATE)" in said
    assert "change set for wafblog-waf: Add WebAcl (AWS::WAFv2::WebACL)" in said
    assert east.describe_stacks(StackName="wafblog-waf")["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    assert outcome.plan is not None and outcome.plan.parameters["WebAclArn"] == waf.PENDING_ARN

    # The deploy replaces the dry run's empty stacks.
    outcome, said = deploy_in_process(site, "wafblog")

    # The companion stack is in us-east-1 (not in the site's region), the kit's by its tag, and holds
    # exactly the rendered waf.yaml, adapted for the emulator and nothing else.
    companion = east.describe_stacks(StackName="wafblog-waf")["Stacks"][0]
    assert companion["StackStatus"] == "CREATE_COMPLETE"
    assert {t["Key"]: t["Value"] for t in companion["Tags"]}[waf.OWNER_TAG] == "wafblog"
    assert not _exists(home, "wafblog-waf")
    sent = _template(east, "wafblog-waf")
    assert sent == emulator.adapt(load_template(site / WAF_TEMPLATE)).template
    assert sent["Resources"]["WebAcl"]["Properties"]["Scope"] == "CLOUDFRONT"
    assert sent["Resources"]["WebAcl"]["Properties"]["Rules"][0]["Statement"]["RateBasedStatement"]["Limit"] == 30
    arn = {o["OutputKey"]: o["OutputValue"] for o in companion["Outputs"]}[waf.OUTPUT]
    assert arn == "arn:aws:wafv2:us-east-1:123456789012:global/webacl/wafblog-waf/emulated"

    # The site's stack got that ARN as its parameter, and its distribution names it.
    described = home.describe_stacks(StackName="wafblog")["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}["WebAclArn"] == arn
    assert outcome.plan is not None and outcome.plan.parameters["WebAclArn"] == arn
    distribution = _template(home, "wafblog")["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    assert distribution["WebACLId"] == {"Fn::If": ["HasWebAcl", {"Ref": "WebAclArn"}, {"Ref": "AWS::NoValue"}]}
    order = [i for i, line in enumerate(said) if line.startswith("updating stack")]
    assert [said[i] for i in order] == ["updating stack wafblog-waf in us-east-1 (the AWS WAF web ACL)",
                                        "updating stack wafblog"]

    # Off: the site's stack is updated first (the distribution lets go of the web ACL), then the
    # companion stack is deleted, and the rendered waf.yaml is gone.
    _configure(site, waf_on=False)
    assert not (site / WAF_TEMPLATE).exists()
    outcome, said = deploy_in_process(site, "wafblog")
    described = home.describe_stacks(StackName="wafblog")["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}["WebAclArn"] == ""
    assert not _exists(east, "wafblog-waf")
    updated = next(i for i, line in enumerate(said) if line.startswith("stack wafblog updated"))
    deleted = next(i for i, line in enumerate(said) if line.startswith("deleting stack wafblog-waf in us-east-1"))
    assert updated < deleted


def test_destroy_removes_the_companion_stack_too(aws_env: dict[str, str], tmp_path: Path) -> None:
    """A companion stack of the site is deleted after the site's stack; another site's is left alone."""
    east = boto3.client("cloudformation", region_name=WAF_REGION)
    # moto deletes only what it fully models, so the site's template is VPC_TEMPLATE here.
    root = vpc_project(tmp_path / "gone", "gone")
    _configure(root, waf_on=True)
    (root / "template.yaml").write_text(VPC_TEMPLATE)
    deploy_in_process(root, "gone")
    assert _exists(east, "gone-waf")
    result = run_wplambda("destroy", "--yes", cwd=root, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert "stack gone deleted" in out and "stack gone-waf in us-east-1 deleted (its AWS WAF web ACL)" in out
    assert not _exists(east, "gone-waf")
    assert not _exists(boto3.client("cloudformation", region_name=SITE_REGION), "gone")


def test_preflight_refuses_a_waf_stack_of_that_name_that_is_not_the_sites(aws_env: dict[str, str],
                                                                          tmp_path: Path) -> None:
    east = boto3.client("cloudformation", region_name=WAF_REGION)
    east.create_stack(StackName="other-waf", TemplateBody=json.dumps(
        {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}))
    root = init_with_cli(tmp_path / "other", "other")
    _configure(root, waf_on=True)
    with pytest.raises(UserError) as caught:
        deploy_in_process(root, "other")
    message = " ".join(caught.value.message.split())
    assert "nothing was created" in message
    assert f"stack other-waf in us-east-1: exists but is not the WAF stack of other (it lacks the tag " \
           f"{waf.OWNER_TAG} = other)" in message
    assert not _exists(boto3.client("cloudformation", region_name=SITE_REGION), "other")
    assert [r["ResourceType"] for r in east.describe_stack_resources(StackName="other-waf")["StackResources"]] == \
        ["AWS::SNS::Topic"]


def test_a_login_limit_under_aws_minimum_is_exit_2_before_anything(aws_env: dict[str, str], tmp_path: Path) -> None:
    root = init_with_cli(tmp_path / "low", "low")
    toml = root / "wplambda.toml"
    toml.write_text(toml.read_text().replace("\nwaf = false\n", "\nwaf = true\n").replace(
        "waf_login_limit = 50", "waf_login_limit = 5"))
    result = run_wplambda("deploy", "--skip-build", cwd=root, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "security.waf_login_limit: 5 is below the minimum 10" in " ".join(result.stderr.split())
    assert not _exists(boto3.client("cloudformation", region_name=WAF_REGION), "low-waf")
    assert not _exists(boto3.client("cloudformation", region_name=WAF_REGION), "low")
