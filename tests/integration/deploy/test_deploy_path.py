"""The one deploy path against moto's server: what is sent is the plan, and only the emulator step differs.

A user's `wplambda deploy` and these tests run the same code (wp_lambda.deploy.execute): upload the
zips under their digests, submit the transformed template, wait, report. The one step that
differs against moto is wp_lambda.deploy.emulator.adapt, applied to the plan's template when the
endpoint is not AWS; these tests read back what moto received and compare it with the plan made
for AWS, adapted, byte for byte in meaning.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from tests.integration.deploy.conftest import deploy_in_process, init_with_cli, vpc_project
from tests.support.helpers import run_wplambda
from wp_lambda import stack as stack_mod
from wp_lambda.config import load as load_config
from wp_lambda.deploy import emulator
from wp_lambda.deploy.plan import MAX_TEMPLATE_BODY, deploy_record_key, make_plan, managed_bucket_name

ARTIFACTS = managed_bucket_name("123456789012", "us-east-1")


@pytest.fixture(scope="module")
def site(aws_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh `wplambda init --yes` project with a build's output."""
    return init_with_cli(tmp_path_factory.mktemp("path-site") / "pathblog", "pathblog")


def test_dry_run_shows_the_plan_creates_a_change_set_and_executes_nothing(site: Path) -> None:
    result = run_wplambda("deploy", "--dry-run", "--skip-build", cwd=site, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    out, err = " ".join(result.stdout.split()), " ".join(result.stderr.split())
    assert "change set for pathblog" in out and "WordPressFunction" in out and "dry run" in out
    # The plan, as the deploy would send it: create, both zips, the template, capabilities, tags.
    assert "plan: create stack pathblog in us-east-1 (change set type CREATE)" in err
    assert f"plan: upload .wplambda/build/function.zip to s3://{ARTIFACTS}/pathblog/" in err
    assert f"plan: upload .wplambda/build/layer.zip to s3://{ARTIFACTS}/pathblog/" in err
    assert "plan: capabilities: CAPABILITY_IAM" in err and "plan: tags: wplambda:stack=pathblog" in err
    cfn = boto3.client("cloudformation")
    assert cfn.describe_stacks(StackName="pathblog")["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    (change_set,) = cfn.list_change_sets(StackName="pathblog")["Summaries"]
    assert change_set["ExecutionStatus"] == "AVAILABLE"


def test_deploy_after_a_dry_run_creates_the_stack(site: Path) -> None:
    """The empty REVIEW_IN_PROGRESS stack the dry run left is replaced by a created one."""
    outcome, said = deploy_in_process(site, "pathblog")
    assert outcome.first_deploy and outcome.stack_changed
    assert boto3.client("cloudformation").describe_stacks(StackName="pathblog")["Stacks"][0][
        "StackStatus"] == "CREATE_COMPLETE"
    assert any("updating stack pathblog" in line for line in said)


@pytest.fixture(scope="module")
def moto_sized_site(aws_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return vpc_project(tmp_path_factory.mktemp("path-vpc-site"), "pathvpc")


def test_moto_receives_the_plan_for_aws_adapted_and_nothing_else(moto_sized_site: Path) -> None:
    calls: list[str] = []
    outcome, _ = deploy_in_process(moto_sized_site, "pathvpc", calls=calls)
    # One create; the stack's resources read once, after it (before, there was no stack to read).
    assert calls.count("cloudformation.CreateStack") == 1 and "cloudformation.UpdateStack" not in calls
    assert calls.count("cloudformation.DescribeStackResources") == 1
    assert "cloudformation.CreateChangeSet" not in calls and "cloudformation.ExecuteChangeSet" not in calls
    plan = outcome.plan
    assert plan is not None and plan.change_set_type == "CREATE"
    # The plan a deploy to AWS makes, and the one step that turns it into moto's.
    for_aws = make_plan(load_config(moto_sized_site), "pathvpc", artifact_bucket=ARTIFACTS, change_set_type="CREATE")
    assert plan.template == emulator.adapt(for_aws.template).template
    assert (plan.parameters, plan.tags, plan.uploads) == (for_aws.parameters, for_aws.tags, for_aws.uploads)
    assert plan.notes == tuple(emulator.adapt(for_aws.template).notes)

    cfn = boto3.client("cloudformation")
    received = cfn.get_template(StackName="pathvpc")["TemplateBody"]
    received = received if isinstance(received, dict) else json.loads(received)
    assert received == json.loads(plan.body)
    described = cfn.describe_stacks(StackName="pathvpc")["Stacks"][0]
    assert {t["Key"]: t["Value"] for t in described["Tags"]} == {"wplambda:stack": "pathvpc",
                                                                 "wplambda:version": "0.1.0"}
    assert {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]} == plan.parameters
    # Both zips under their digests (and nothing else but the deploy record): the plan's uploads.
    keys = {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=ARTIFACTS, Prefix="pathvpc/")["Contents"]}
    assert keys == {u.key for u in plan.uploads} | {deploy_record_key("pathvpc")}
    code = plan.template["Resources"]["WordPressFunction"]["Properties"]["Code"]
    assert code["S3Key"] == plan.uploads[0].key and code["S3Bucket"] == ARTIFACTS


def test_second_deploy_sends_nothing(moto_sized_site: Path) -> None:
    cfn = boto3.client("cloudformation")
    events_before = cfn.describe_stack_events(StackName="pathvpc")["StackEvents"]
    sets_before = cfn.list_change_sets(StackName="pathvpc")["Summaries"]  # moto lists every stack's
    calls: list[str] = []
    outcome, said = deploy_in_process(moto_sized_site, "pathvpc", calls=calls)
    # The stack is read once for the whole deploy (preflight, plan, sync, outputs), and nothing is sent.
    # The one other read is of the WAF's companion stack in us-east-1 (security.waf is off: a
    # STACK-waf left from an earlier deploy would be deleted; wp_lambda.deploy.waf).
    cloudformation = [c for c in calls if c.startswith("cloudformation.")]
    assert cloudformation == ["cloudformation.DescribeStacks", "cloudformation.DescribeStackResources",
                              "cloudformation.DescribeStacks"]
    assert outcome.no_changes and not outcome.stack_changed
    assert outcome.sync is not None and outcome.sync.uploaded == 0
    assert cfn.list_change_sets(StackName="pathvpc")["Summaries"] == sets_before
    assert not any(s["StackName"] == "pathvpc" for s in sets_before)
    assert cfn.describe_stack_events(StackName="pathvpc")["StackEvents"] == events_before
    assert not any("updating stack" in line for line in said)


def test_a_template_over_the_body_limit_is_sent_by_url(aws_env: dict[str, str], tmp_path: Path) -> None:
    """Over 51,200 bytes the template goes to the artifact bucket and CloudFormation reads it from there."""
    project = vpc_project(tmp_path, "pathbig")
    topics = "".join(f"  Topic{i}:\n    Type: AWS::SNS::Topic\n    Properties: {{TopicName: big-{i:04}-{'x' * 150}}}\n"
                     for i in range(300))
    template = project / "template.yaml"
    template.write_text(template.read_text().replace("Outputs:\n", topics + "Outputs:\n"))
    outcome, _ = deploy_in_process(project, "pathbig")
    plan = outcome.plan
    assert plan is not None and len(plan.body) > MAX_TEMPLATE_BODY and plan.template_key is not None
    stored = boto3.client("s3").get_object(Bucket=ARTIFACTS, Key=plan.template_key)["Body"].read()
    assert stored == plan.body
    cfn = boto3.client("cloudformation")
    assert cfn.describe_stacks(StackName="pathbig")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert {"Topic0", "Topic299", "WordPressFunction"} <= set(stack_mod.resources(cfn, "pathbig"))
