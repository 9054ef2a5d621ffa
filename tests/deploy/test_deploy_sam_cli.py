"""The real `sam deploy` (SAM CLI subprocess) against moto's server, with the kit's artifact bucket.

What works: sam packages and uploads both zips to the bucket the kit created, creates and executes
the change set with the kit's tags, and exits 0. What moto cannot do: run the SAM transform, so
the AWS::Serverless::* resources are skipped and the stack has no resources or outputs; that part
is covered by the api engine in test_deploy_moto.py.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from deploy.conftest import init_with_cli
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


def test_sam_deploy_uploads_zips_and_tags_the_stack(site: Path) -> None:
    result = run_wplambda("deploy", "--engine", "sam", "--yes", "--skip-build", cwd=site, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    described = boto3.client("cloudformation").describe_stacks(StackName="samblog")["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE"
    assert {t["Key"]: t["Value"] for t in described["Tags"]} == {"wplambda:stack": "samblog",
                                                                 "wplambda:version": "0.1.0"}
    keys = {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=ARTIFACTS)["Contents"]}
    # sam names artifacts by MD5 under --s3-prefix: one per zip, plus the packaged template.
    uploaded = {k for k in keys if k.startswith("samblog/") and not k.endswith((".template", ".json"))}
    assert len(uploaded) == 2
    assert deploy_record_key("samblog") in keys
    assert "no AssetsBucket" in result.stderr  # the minimal template of this branch has none


def test_second_sam_deploy_says_no_changes_without_running_sam(site: Path) -> None:
    cfn = boto3.client("cloudformation")
    sets_before = cfn.list_change_sets(StackName="samblog")["Summaries"]
    result = run_wplambda("deploy", "--engine", "sam", "--yes", "--skip-build", cwd=site, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "no changes" in result.stdout
    assert cfn.list_change_sets(StackName="samblog")["Summaries"] == sets_before
