"""deploy against moto's server, through the one deploy path (SAM transform in-process, boto3).

moto's CloudFormation implements buckets, IAM roles, Lambda functions (with environment and VPC
config), VPCs, subnets and NAT gateways, so VPC_TEMPLATE (deploy/conftest.py) is made of those
parts. It does not implement CloudFront, API Gateway v2, Lambda aliases or the SAM transform;
nothing here claims them. The fresh `init --yes` project at the end deploys the real template,
which the emulator step adapts for moto (wp_lambda.deploy.emulator; moto skips what it lacks).
"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import time
from pathlib import Path
from typing import IO

import boto3
import pytest

from tests.integration.deploy.conftest import (
    deploy_in_process,
    init_with_cli,
    vpc_project,
    write_zip,
)
from tests.support.helpers import run_wplambda, wplambda_cmd
from wp_lambda.deploy.plan import deploy_record_key, managed_bucket_name

MOTO_ACCOUNT = "123456789012"
ARTIFACTS = managed_bucket_name(MOTO_ACCOUNT, "us-east-1")


@pytest.fixture(scope="module")
def vpc_site(aws_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return vpc_project(tmp_path_factory.mktemp("vpc-site"), "vpcblog")


def test_first_deploy_creates_the_stack_and_syncs_assets(vpc_site: Path) -> None:
    outcome, said = deploy_in_process(vpc_site, "vpcblog")
    assert (outcome.first_deploy, outcome.stack_changed) == (True, True)
    assert outcome.plan is not None and outcome.plan.change_set_type == "CREATE"
    cfn = boto3.client("cloudformation")
    described = cfn.describe_stacks(StackName="vpcblog")["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE"
    assert {t["Key"]: t["Value"] for t in described["Tags"]} == {"wplambda:stack": "vpcblog",
                                                                 "wplambda:version": "0.1.0"}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    assert outcome.outputs == outputs
    rows = dict(outcome.rows)
    assert rows["function"] == outputs["FunctionName"]
    assert rows["function alias"] == f"{outputs['FunctionName']}:live"
    assert rows["assets bucket"] == outputs["AssetsBucketName"]
    assert rows["site URL"] == "https://blog.example.com/"
    assert outcome.sync is not None and outcome.sync.uploaded > 1500
    assert any("updating stack vpcblog" in line for line in said)

    fn = boto3.client("lambda").get_function(FunctionName=outputs["FunctionName"])["Configuration"]
    assert fn["Environment"]["Variables"]["S3_UPLOADS_BUCKET"] == outputs["UploadsBucketName"]
    assert fn["Environment"]["Variables"]["SITE_NAME"] == "vpcblog"
    resources = {r["LogicalResourceId"]: r.get("PhysicalResourceId")
                 for r in cfn.describe_stack_resources(StackName="vpcblog")["StackResources"]
                 if r.get("LogicalResourceId")}
    assert fn["VpcConfig"]["SubnetIds"] == [resources["PrivateSubnet"]]
    assert fn["VpcConfig"]["SecurityGroupIds"] == [resources["FunctionSecurityGroup"]]
    nat = boto3.client("ec2").describe_nat_gateways(NatGatewayIds=[resources["NatGateway"]])["NatGateways"][0]
    assert nat["SubnetId"] == resources["PublicSubnet"]


def test_artifact_bucket_is_private_encrypted_and_versioned(vpc_site: Path) -> None:
    s3 = boto3.client("s3")
    block = s3.get_public_access_block(Bucket=ARTIFACTS)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    rule = s3.get_bucket_encryption(Bucket=ARTIFACTS)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_versioning(Bucket=ARTIFACTS)["Status"] == "Enabled"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=ARTIFACTS, Prefix="vpcblog/")["Contents"]]
    assert deploy_record_key("vpcblog") in keys
    assert sum(k.endswith(".zip") for k in keys) == 2


def test_second_deploy_with_nothing_changed_creates_no_change_set(vpc_site: Path) -> None:
    cfn = boto3.client("cloudformation")
    events_before = cfn.describe_stack_events(StackName="vpcblog")["StackEvents"]
    outcome, said = deploy_in_process(vpc_site, "vpcblog")
    assert outcome.no_changes and not outcome.stack_changed
    assert outcome.sync is not None and outcome.sync.uploaded == 0
    assert cfn.list_change_sets(StackName="vpcblog")["Summaries"] == []
    assert cfn.describe_stack_events(StackName="vpcblog")["StackEvents"] == events_before
    assert not any("updating stack" in line for line in said)


def test_dry_run_shows_the_change_set_and_executes_nothing(vpc_site: Path) -> None:
    write_zip(vpc_site / ".wplambda/build/function.zip", {"index.php": "<?php // version 2\n"})
    cfn = boto3.client("cloudformation")
    before = cfn.describe_stacks(StackName="vpcblog")["Stacks"][0]
    outcome, _ = deploy_in_process(vpc_site, "vpcblog", dry_run=True)
    assert outcome.dry_run and outcome.stack_changed
    assert outcome.changes and {c.logical_id for c in outcome.changes} >= {"WordPressFunction"}
    sets = cfn.list_change_sets(StackName="vpcblog")["Summaries"]
    assert len(sets) == 1 and sets[0]["ExecutionStatus"] == "AVAILABLE"
    assert cfn.describe_stacks(StackName="vpcblog")["Stacks"][0]["StackStatus"] == before["StackStatus"]


def test_changed_code_updates_the_stack(vpc_site: Path) -> None:
    outcome, _ = deploy_in_process(vpc_site, "vpcblog")
    assert outcome.stack_changed and not outcome.first_deploy
    status = boto3.client("cloudformation").describe_stacks(StackName="vpcblog")["Stacks"][0]["StackStatus"]
    assert status == "UPDATE_COMPLETE"
    again, _ = deploy_in_process(vpc_site, "vpcblog")
    assert again.no_changes


def test_status_and_outputs_json_via_console_script(vpc_site: Path) -> None:
    result = run_wplambda("outputs", "--stack", "vpcblog", "--json", cwd=vpc_site)
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout)
    assert outputs["SiteUrl"] == "https://blog.example.com/"
    result = run_wplambda("status", "--stack", "vpcblog", "--json", cwd=vpc_site)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["status"] == "UPDATE_COMPLETE"
    record = json.loads(boto3.client("s3").get_object(Bucket=ARTIFACTS, Key=deploy_record_key("vpcblog"))
                        ["Body"].read())
    assert info["build_hash"] == record["build_hash"] and len(record["build_hash"]) == 16
    assert info["resources"]["function"] == outputs["FunctionName"]


def test_rollback_moves_the_alias_to_the_previous_version(vpc_site: Path) -> None:
    """moto's CloudFormation skips AWS::Lambda::Alias, so the alias is made as CloudFormation would."""
    lam = boto3.client("lambda")
    function = json.loads(run_wplambda("outputs", "--json", "--stack", "vpcblog", cwd=vpc_site).stdout)["FunctionName"]
    first = lam.publish_version(FunctionName=function)["Version"]
    lam.update_function_code(FunctionName=function, ZipFile=(vpc_site / ".wplambda/build/function.zip").read_bytes())
    second = lam.publish_version(FunctionName=function)["Version"]
    lam.create_alias(FunctionName=function, Name="live", FunctionVersion=second)
    result = run_wplambda("rollback", "--stack", "vpcblog", cwd=vpc_site)
    assert result.returncode == 0, result.stderr
    assert lam.get_alias(FunctionName=function, Name="live")["FunctionVersion"] == first
    assert f"version {second} -> {first}" in result.stdout


def test_logs_prints_the_function_log_lines(vpc_site: Path) -> None:
    """This fixture's hand-made template has no LogGroup: `logs` falls back to Lambda's default group,
    as for a stack made before the kit's template named one (test_deploy_rotation reads the stack's)."""
    logs = boto3.client("logs")
    function = json.loads(run_wplambda("outputs", "--json", "--stack", "vpcblog", cwd=vpc_site).stdout)["FunctionName"]
    group = f"/aws/lambda/{function}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s1")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName="s1", logEvents=[
        {"timestamp": now - 1000, "message": "START RequestId: 1"},
        {"timestamp": now - 500, "message": "PHP Warning: something odd"}])
    result = run_wplambda("logs", "--stack", "vpcblog", "--since", "5m", cwd=vpc_site)
    assert result.returncode == 0, result.stderr
    assert "START RequestId: 1" in result.stdout and "PHP Warning: something odd" in result.stdout
    filtered = run_wplambda("logs", "--stack", "vpcblog", "--since", "5m", "--filter", "Warning", cwd=vpc_site)
    assert filtered.returncode == 0, filtered.stderr
    assert "PHP Warning: something odd" in filtered.stdout and "START" not in filtered.stdout
    bad = run_wplambda("logs", "--stack", "vpcblog", "--since", "ten minutes", cwd=vpc_site)
    assert bad.returncode == 2 and "--since 'ten minutes' is not a duration" in bad.stderr


def test_logs_follow_prints_new_lines_until_interrupted(vpc_site: Path) -> None:
    logs = boto3.client("logs")
    function = json.loads(run_wplambda("outputs", "--json", "--stack", "vpcblog", cwd=vpc_site).stdout)["FunctionName"]
    group = f"/aws/lambda/{function}"
    if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="follow")
    logs.put_log_events(logGroupName=group, logStreamName="follow", logEvents=[
        {"timestamp": int(time.time() * 1000), "message": "before following"}])
    # Python keeps SIGINT ignored when it starts with it ignored, as it does under a test run started
    # in the background (`cmd &` in a script), and Ctrl-C would then never reach --follow.
    process = subprocess.Popen([*wplambda_cmd(), "logs", "--stack", "vpcblog", "--since", "5m", "--follow"],
                               cwd=vpc_site, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert process.stdout is not None
    try:
        seen = _read_until(process.stdout, "before following")
        logs.put_log_events(logGroupName=group, logStreamName="follow", logEvents=[
            {"timestamp": int(time.time() * 1000), "message": "while following"}])
        seen += _read_until(process.stdout, "while following")
    finally:
        process.send_signal(signal.SIGINT)
        rest, err = process.communicate(timeout=30)
    assert process.returncode == 130, err  # Ctrl-C is how --follow ends
    lines = seen + rest.splitlines()
    assert sum("before following" in line for line in lines) == 1  # polled again and again, printed once


def _read_until(stream: IO[str], text: str) -> list[str]:
    """Lines of ``stream`` up to the first that holds ``text`` (--follow polls every few seconds)."""
    lines = []
    for line in stream:
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"the stream ended before {text!r}: {lines}")


def test_destroy_asks_for_the_stack_name_in_a_terminal(vpc_site: Path) -> None:
    primary, secondary = pty.openpty()  # stdin is a terminal, so destroy asks instead of refusing
    try:
        process = subprocess.Popen([*wplambda_cmd(), "destroy", "--stack", "vpcblog"], cwd=vpc_site,
                                   stdin=secondary, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.write(primary, b"vpcblag\n")
        out, err = process.communicate(timeout=60)
    finally:
        os.close(primary)
        os.close(secondary)
    assert process.returncode == 2, err
    assert "Type its name to confirm" in out + err
    assert "'vpcblag' is not 'vpcblog': nothing was deleted" in err
    cfn = boto3.client("cloudformation")
    assert cfn.describe_stacks(StackName="vpcblog")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"


def test_destroy_without_confirmation_does_nothing_then_with_yes_reports_retained(vpc_site: Path) -> None:
    cfn = boto3.client("cloudformation")
    result = run_wplambda("destroy", "--stack", "vpcblog", cwd=vpc_site)
    assert result.returncode == 2
    assert "without confirmation" in result.stderr
    assert cfn.describe_stacks(StackName="vpcblog")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    uploads = json.loads(run_wplambda("outputs", "--json", "--stack", "vpcblog", cwd=vpc_site).stdout)[
        "UploadsBucketName"]
    assets = json.loads(run_wplambda("outputs", "--json", "--stack", "vpcblog", cwd=vpc_site).stdout)[
        "AssetsBucketName"]
    s3 = boto3.client("s3")
    s3.put_object(Bucket=uploads, Key="wp-content/uploads/2024/01/a.jpg", Body=b"media")
    synced = sum(page["KeyCount"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=assets))
    assert synced > 1500
    result = run_wplambda("destroy", "--stack", "vpcblog", "--yes", cwd=vpc_site)
    assert result.returncode == 0, result.stderr
    assert f"assets bucket emptied first: {synced} objects" in result.stdout
    assert s3.get_object(Bucket=uploads, Key="wp-content/uploads/2024/01/a.jpg")["Body"].read() == b"media"
    assert f"UploadsBucket: bucket s3://{uploads} is kept" in result.stdout.replace("\n", " ")
    assert all(s["StackName"] != "vpcblog" or s["StackStatus"] == "DELETE_COMPLETE"
               for s in cfn.list_stacks()["StackSummaries"])


@pytest.fixture(scope="module")
def init_site(aws_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh `wplambda init --yes` project (real console script) with a build's output."""
    return init_with_cli(tmp_path_factory.mktemp("init-site") / "blog", "blog")


def test_deploy_fresh_init_project_via_console_script(init_site: Path) -> None:
    result = run_wplambda("deploy", "--stack", "blog", "--yes", "--skip-build", cwd=init_site)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stack blog" in result.stdout and "Next steps" in result.stdout
    # The emulator step adapted the template for moto, and said so (wp_lambda.deploy.emulator).
    assert "outputs left out" in result.stderr and "point at its function" in result.stderr
    status = boto3.client("cloudformation").describe_stacks(StackName="blog")["Stacks"][0]["StackStatus"]
    assert status == "CREATE_COMPLETE"
    again = run_wplambda("deploy", "--stack", "blog", "--yes", "--skip-build", cwd=init_site)
    assert again.returncode == 0, again.stderr
    assert "no changes" in again.stdout


def test_sync_after_deploy_of_fresh_init_project_uploads_nothing(init_site: Path) -> None:
    if "AssetsBucket" not in (init_site / "template.yaml").read_text():
        pytest.skip("this branch's minimal template.yaml.j2 has no AssetsBucket (the full template adds it)")
    result = run_wplambda("sync-assets", "--stack", "blog", "--json", cwd=init_site)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["uploaded"] == 0
