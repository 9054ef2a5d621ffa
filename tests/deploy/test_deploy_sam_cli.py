"""The real `sam deploy` (SAM CLI subprocess) against moto's server, with the kit's artifact bucket.

What works: sam packages and uploads both zips to the bucket the kit created, creates and executes
the change set with the kit's tags, and exits 0. What moto cannot do: run the SAM transform, so
the AWS::Serverless::* resources are skipped; that part is covered by the api engine in
test_deploy_moto.py.

The dry run uses the real template of a fresh `init --yes` project (moto only stores the change
set). Executing it is not possible on moto with the sam engine, which hands sam the template
untouched (the emulator adaptation of wp_lambda.deploy.emulator is the api engine's): moto's
create_stack answers HTTP 500 because the Outputs read attributes of resources it does not
implement (`Fn::GetAtt Distribution.DomainName`, AWS::CloudFront::Distribution: AttributeError
'NoneType' object has no attribute 'has_cfn_attr') and its RDS model cannot create an Aurora
instance without an EngineVersion of its own (KeyError 'aurora-mysql'; on AWS the version is the
cluster's). So the executing tests deploy VPC_TEMPLATE, the moto-sized SAM template of
deploy/conftest.py, through the same engine.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from deploy.conftest import deploy_in_process, init_with_cli, vpc_project
from helpers import run_wplambda

from wp_lambda.deploy.plan import deploy_record_key, managed_bucket_name

ARTIFACTS = managed_bucket_name("123456789012", "us-east-1")


@pytest.fixture(scope="module")
def site(aws_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh `wplambda init --yes` project with a build's output."""
    return init_with_cli(tmp_path_factory.mktemp("sam-site") / "samblog", "samblog")


def test_dry_run_with_sam_creates_a_change_set_and_executes_nothing(site: Path) -> None:
    result = run_wplambda("deploy", "--engine", "sam", "--dry-run", "--skip-build", cwd=site, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert "change set for samblog" in out and "WordPressFunction" in out and "dry run" in out
    cfn = boto3.client("cloudformation")
    assert cfn.describe_stacks(StackName="samblog")["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    assert len(cfn.list_change_sets(StackName="samblog")["Summaries"]) == 1


@pytest.fixture(scope="module")
def moto_sized_site(aws_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return vpc_project(tmp_path_factory.mktemp("sam-vpc-site"), "samvpc")


def test_sam_deploy_uploads_zips_and_tags_the_stack(moto_sized_site: Path) -> None:
    outcome, said = deploy_in_process(moto_sized_site, "samvpc", engine="sam")
    assert (outcome.engine, outcome.first_deploy, outcome.stack_changed) == ("sam", True, True)
    described = boto3.client("cloudformation").describe_stacks(StackName="samvpc")["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE"
    assert {t["Key"]: t["Value"] for t in described["Tags"]} == {"wplambda:stack": "samvpc",
                                                                 "wplambda:version": "0.1.0"}
    keys = {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=ARTIFACTS)["Contents"]}
    # sam names artifacts by MD5 under --s3-prefix: one per zip, plus the packaged template.
    uploaded = {k for k in keys if k.startswith("samvpc/") and not k.endswith((".template", ".json"))}
    assert len(uploaded) == 2
    assert deploy_record_key("samvpc") in keys
    # The buckets are plain CloudFormation, so moto created them and the assets went up.
    assert outcome.sync is not None and outcome.sync.uploaded > 1500
    assert any("updating stack samvpc with the sam engine" in line for line in said)


def test_second_sam_deploy_says_no_changes_without_running_sam(moto_sized_site: Path) -> None:
    cfn = boto3.client("cloudformation")
    sets_before = cfn.list_change_sets(StackName="samvpc")["Summaries"]
    outcome, said = deploy_in_process(moto_sized_site, "samvpc", engine="sam")
    assert outcome.no_changes and not outcome.stack_changed
    assert outcome.sync is not None and outcome.sync.uploaded == 0
    assert cfn.list_change_sets(StackName="samvpc")["Summaries"] == sets_before
    assert not any("updating stack" in line for line in said)


def test_sam_deploy_of_the_real_template_fails_on_moto_and_exits_1(site: Path) -> None:
    """States the limitation in the module docstring, and that a failed deploy exits non-zero.

    If moto learns to run this template, this fails: deploy the real template in the tests above.
    """
    result = run_wplambda("deploy", "--engine", "sam", "--yes", "--skip-build", cwd=site, timeout=180)
    assert result.returncode == 1, result.stdout + result.stderr
    err = " ".join(result.stderr.split())
    assert "deploy of samblog failed" in err and "sam deploy exited with 1" in err
    status = boto3.client("cloudformation").describe_stacks(StackName="samblog")["Stacks"][0]["StackStatus"]
    assert status == "REVIEW_IN_PROGRESS"
