"""Every call the deploy makes on the artifact bucket names this account as its expected owner.

The kit's artifact bucket has a predictable name (``wplambda-artifacts-ACCOUNT-REGION``): another
account that creates it first would receive the code zips, the deploy record and export's dumps.
S3 refuses a call whose ``ExpectedBucketOwner`` is not the bucket's owner with 403 Access Denied
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html).

moto accepts the parameter and ignores it, so the checks are split:
- a real deploy against moto's server with a botocore hook on every S3 request, asserting that each
  one on the artifact bucket carried ``x-amz-expected-bucket-owner`` = the account on the wire;
- botocore's Stubber, named as such because moto lacks the owner check, answering 403 the way S3
  does for a bucket of another account: the deploy stops with exit 2 and says why, and nothing is
  created or uploaded (the Stubber refuses any call it was not told about).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.integration.deploy.conftest import deploy_in_process, vpc_project
from tests.support.s3_calls import S3Recorder
from wp_lambda.aws import connect
from wp_lambda.common.errors import UserError
from wp_lambda.config import load as load_config
from wp_lambda.deploy import execute, preflight
from wp_lambda.deploy import run as run_mod
from wp_lambda.deploy.plan import managed_bucket_name

MOTO_ACCOUNT = "123456789012"
ARTIFACTS = managed_bucket_name(MOTO_ACCOUNT, "us-east-1")
# What the deploy does on its artifact bucket on a first deploy (CreateBucket, which has no
# ExpectedBucketOwner parameter, is checked apart).
ARTIFACT_CALLS = {"GetBucketLocation", "HeadBucket", "PutPublicAccessBlock", "PutBucketEncryption",
                  "PutBucketVersioning", "GetObject", "HeadObject", "PutObject"}


@pytest.fixture(scope="module")
def site(aws_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return vpc_project(tmp_path_factory.mktemp("owner-site"), "ownerblog")


def test_every_artifact_bucket_call_names_this_account_as_owner(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = S3Recorder()
    real_connect = connect

    def recording_connect(*args: Any, **kwargs: Any) -> Any:
        aws = real_connect(*args, **kwargs)
        recorder.register(aws.session.events)  # clients copy the session's hooks when they are made
        return aws

    monkeypatch.setattr("tests.integration.deploy.conftest.connect", recording_connect)
    for _ in range(2):  # the first deploy creates the bucket and uploads; the second finds them
        outcome, _said = deploy_in_process(site, "ownerblog")
        assert outcome.plan is not None and outcome.plan.artifact_bucket == ARTIFACTS
    on_artifacts = recorder.on(ARTIFACTS)
    assert {name for name, _ in on_artifacts} == ARTIFACT_CALLS | {"CreateBucket"}
    assert [(n, o) for n, o in on_artifacts if n != "CreateBucket" and o != MOTO_ACCOUNT] == []
    # The uploads by upload_file went through s3transfer with the same header.
    assert sum(1 for n, _ in on_artifacts if n == "PutObject") >= 3  # two zips and the deploy record
    # The hook sees the other buckets too (the assets sync), so its bucket matching is not vacuous.
    assert any(bucket not in (ARTIFACTS, None) for _, bucket, _ in recorder.calls)


def _stubbed_s3(aws: Any) -> tuple[Any, Stubber]:
    """An S3 client under botocore's Stubber, used because moto does not implement the owner check."""
    client = aws.session.client("s3", region_name=aws.region)
    return client, Stubber(client)


def test_a_bucket_of_another_account_stops_the_deploy(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(site)
    aws = connect(config)
    account = aws.account_id()
    bucket = "someone-elses-artifacts"
    config.aws.artifact_bucket = bucket
    s3, stubber = _stubbed_s3(aws)
    # Stubber (moto ignores ExpectedBucketOwner): S3's answer to a bucket owned by another account.
    stubber.add_client_error("get_bucket_location", service_error_code="AccessDenied", http_status_code=403,
                             expected_params={"Bucket": bucket, "ExpectedBucketOwner": account})
    real_client = preflight._client
    monkeypatch.setattr(preflight, "_client",
                        lambda a, service, region=None: s3 if service == "s3" else real_client(a, service, region))
    aws._clients["s3:10"] = s3  # every other S3 call of the deploy would meet the Stubber too
    with stubber, pytest.raises(UserError) as raised:
        run_mod.deploy(config, aws, "foreignblog", skip_build=True, render=False, reconcile_site=False,
                       sync_runner=lambda *_: pytest.fail("nothing may be synced"))
    stubber.assert_no_pending_responses()
    error = raised.value
    assert error.exit_code == 2
    text = f"{error.message} {error.hint}"
    assert f"artifact bucket {bucket}: S3 refused it with this account ({account}) as the expected owner" in text
    assert "belongs to another AWS account" in text and "nothing was created" in text
    assert f"set aws.artifact_bucket in wplambda.toml to a bucket this account owns in {aws.region}" in text
    real = boto3.client("cloudformation")
    assert "foreignblog" not in {s["StackName"] for s in real.list_stacks()["StackSummaries"]}


@pytest.mark.parametrize("managed", [True, False], ids=["kit-bucket", "configured-bucket"])
def test_head_bucket_refused_stops_before_anything_is_written(site: Path, managed: bool) -> None:
    """What export and import meet first (they run no preflight): HEAD answers a bare 403."""
    aws = connect(load_config(site))
    account = aws.account_id()
    bucket = managed_bucket_name(account, aws.region) if managed else "someone-elses-artifacts"
    s3, stubber = _stubbed_s3(aws)
    # Stubber (moto ignores ExpectedBucketOwner); a HEAD has no body, so botocore's code is "403".
    stubber.add_client_error("head_bucket", service_error_code="403", http_status_code=403,
                             expected_params={"Bucket": bucket, "ExpectedBucketOwner": account})
    aws._clients["s3:10"] = s3
    with stubber, pytest.raises(UserError) as raised:  # create_bucket etc. would be unstubbed calls
        execute.ensure_artifact_bucket(aws, bucket, managed=managed)
    stubber.assert_no_pending_responses()
    assert raised.value.exit_code == 2
    assert raised.value.message.startswith(f"artifact bucket {bucket}: S3 refused it with this account ({account})")
    assert "aws.artifact_bucket" in (raised.value.hint or "")
    assert ("the kit's bucket name is taken" in (raised.value.hint or "")) == managed



def test_status_meets_the_same_stop_reading_the_deploy_record(site: Path) -> None:
    """`wplambda status` reads the record with no preflight before it: a 403 is exit 2 there too."""
    aws = connect(load_config(site))
    account = aws.account_id()
    bucket = managed_bucket_name(account, aws.region)
    s3, stubber = _stubbed_s3(aws)
    # Stubber (moto ignores ExpectedBucketOwner): S3's answer to a bucket owned by another account.
    stubber.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403,
                             expected_params={"Bucket": bucket, "ExpectedBucketOwner": account,
                                              "Key": "ownerblog/wplambda-last-deploy.json"})
    aws._clients["s3:10"] = s3
    with stubber, pytest.raises(UserError) as raised:
        execute.read_record(aws, bucket, "ownerblog")
    stubber.assert_no_pending_responses()
    assert raised.value.message.startswith(f"artifact bucket {bucket}: S3 refused it")
    assert "the kit's bucket name is taken" in (raised.value.hint or "")
