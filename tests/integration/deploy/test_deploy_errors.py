"""Error paths of the AWS-facing commands, through the real console script against moto's server.

moto's CloudFormation never leaves a stack in ROLLBACK_COMPLETE nor records per-resource failure
events (it raises instead), so for those the stack's state is set inside the running moto server
exactly as CloudFormation leaves it after a failed first deploy; the kit then reads it over HTTP.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import boto3
import pytest
from moto.cloudformation.models import Event, cloudformation_backends

from tests.integration.deploy.conftest import lay_out_build, make_project
from tests.support.helpers import run_wplambda
from wp_lambda.aws import connect
from wp_lambda.config import load
from wp_lambda.deploy import execute, run
from wp_lambda.validate import load_template

FAILED_REASON = ("Resource handler returned message: \"The provided execution role does not have "
                 "permissions to call CreateNetworkInterface on EC2\"")


@pytest.fixture(scope="module")
def project(aws_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("errors"), name="broken")
    lay_out_build(root)
    return root


def _no_credentials_env(tmp: Path) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(tmp / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "none")}


@pytest.mark.parametrize("command", [["deploy", "--yes", "--skip-build"], ["sync-assets"], ["status"]])
def test_no_credentials_is_one_clear_message_exit_2(project: Path, tmp_path: Path, command: list[str]) -> None:
    result = run_wplambda(*command, cwd=project, env=_no_credentials_env(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no AWS credentials found" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("error:") == 1


def test_region_is_not_an_option(project: Path) -> None:
    """The region is aws.region, which the rendered template is made for: no --region to contradict it."""
    result = run_wplambda("status", "--region", "eu-west-1", cwd=project)
    assert result.returncode == 2
    assert "No such option: --region" in result.stderr


def test_unknown_profile_is_one_clear_message(project: Path) -> None:
    result = run_wplambda("outputs", "--profile", "nope", cwd=project)
    assert result.returncode == 2
    assert "AWS profile 'nope'" in result.stderr


def test_endpoint_url_is_honoured_by_plain_boto3_clients(aws_env: dict[str, str]) -> None:
    """The kit relies on boto3 reading AWS_ENDPOINT_URL itself (boto3 >= 1.34): prove it here."""
    client = boto3.client("s3")
    assert client.meta.endpoint_url == aws_env["AWS_ENDPOINT_URL"]


def _rolled_back_stack(name: str) -> None:
    """Leave ``name`` as CloudFormation leaves a failed first deploy: ROLLBACK_COMPLETE with events."""
    cfn = boto3.client("cloudformation")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}))
    backend = cloudformation_backends["123456789012"]["us-east-1"]
    stack = next(s for s in backend.stacks.values() if s.name == name)
    stack.events.append(Event(stack.stack_id, name, "WordPressFunction", "", "AWS::Lambda::Function",
                              "CREATE_FAILED", FAILED_REASON, None))
    stack._add_stack_event("ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [WordPressFunction].")
    stack._add_stack_event("ROLLBACK_COMPLETE")
    stack.status = "ROLLBACK_COMPLETE"


def test_deploy_to_rolled_back_stack_names_the_failure_and_the_fix(project: Path) -> None:
    _rolled_back_stack("broken")
    result = run_wplambda("deploy", "--stack", "broken", "--yes", "--skip-build", cwd=project)
    assert result.returncode == 2, result.stdout + result.stderr
    err = " ".join(result.stderr.split())
    assert f"WordPressFunction (AWS::Lambda::Function) CREATE_FAILED: {FAILED_REASON}" in err
    assert "stack broken: ROLLBACK_COMPLETE" in err
    assert "must be deleted before deploying again" in err
    assert "wplambda destroy --stack broken" in err
    # Refused before anything was written: the stack is untouched.
    status = boto3.client("cloudformation").describe_stacks(StackName="broken")["Stacks"][0]["StackStatus"]
    assert status == "ROLLBACK_COMPLETE"


def test_destroy_without_confirmation_leaves_the_stack(project: Path) -> None:
    result = run_wplambda("destroy", "--stack", "broken", cwd=project)
    assert result.returncode == 2
    assert "nothing" in result.stderr or "without confirmation" in result.stderr
    status = boto3.client("cloudformation").describe_stacks(StackName="broken")["Stacks"][0]["StackStatus"]
    assert status == "ROLLBACK_COMPLETE"


def test_destroy_defaults_to_site_name_and_still_asks(project: Path) -> None:
    """--stack means the same in destroy as everywhere (default: site.name); the deletion still
    needs the typed name or --yes."""
    result = run_wplambda("destroy", cwd=project)
    assert result.returncode == 2
    assert "refusing to delete stack 'broken' without confirmation" in result.stderr
    status = boto3.client("cloudformation").describe_stacks(StackName="broken")["Stacks"][0]["StackStatus"]
    assert status == "ROLLBACK_COMPLETE"


def test_failed_create_reports_cloudformations_reason(project: Path, tmp_path: Path) -> None:
    """A resource moto cannot create (code in a bucket that does not exist) fails the deploy, exit 1."""
    template = project / "template.yaml"
    original = template.read_text()
    data = load_template(template)
    data["Resources"]["Orphan"] = {"Type": "AWS::Lambda::Function", "Properties": {
        "Runtime": "python3.13", "Handler": "x.y", "Role": "arn:aws:iam::123456789012:role/none",
        "Code": {"S3Bucket": "no-such-bucket", "S3Key": "code.zip"}}}
    try:
        template.write_text(json.dumps(data))
        config = load(project)
        with pytest.raises(execute.DeployFailed) as failed:
            run.deploy(config, connect(config), "orphaned", sync_runner=lambda b, d: pytest.fail("no sync"),
                       skip_build=True, render=False, say=lambda line: None)
        assert "NoSuchBucket" in str(failed.value)
        assert failed.value.exit_code == 1
    finally:
        template.write_text(original)



def test_update_failure_is_reported_only_when_this_deploy_caused_it(project: Path) -> None:
    """An old UPDATE_ROLLBACK_COMPLETE is not this deploy's failure; new failed events are."""
    cfn = boto3.client("cloudformation")
    cfn.create_stack(StackName="flaky", TemplateBody=json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}))
    backend = cloudformation_backends["123456789012"]["us-east-1"]
    stack = next(s for s in backend.stacks.values() if s.name == "flaky")
    stack.status = "UPDATE_ROLLBACK_COMPLETE"
    since = dt.datetime.now(dt.UTC)
    description = cfn.describe_stacks(StackName="flaky")["Stacks"][0]
    execute._raise_if_failed(cfn, "flaky", description, since)  # untouched since: no failure
    stack.events.append(Event(stack.stack_id, "flaky", "WordPressFunction", "fn", "AWS::Lambda::Function",
                              "UPDATE_FAILED", FAILED_REASON, None))
    with pytest.raises(execute.DeployFailed) as failed:
        execute._raise_if_failed(cfn, "flaky", description, since)
    assert failed.value.lines[0] == f"WordPressFunction (AWS::Lambda::Function) UPDATE_FAILED: {FAILED_REASON}"
    assert failed.value.lines[1] == "stack flaky: UPDATE_ROLLBACK_COMPLETE"
    assert not failed.value.blocked
