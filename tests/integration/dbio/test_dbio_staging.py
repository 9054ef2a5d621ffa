"""Where dumps wait: the artifact bucket's expiry rule joins the rules already there, and a killed
local run's folder is removed by a later run once it is a day old."""

from __future__ import annotations

import os
import time
from pathlib import Path

import boto3

from tests.support.helpers import moto_server
from wp_lambda.dbio.staging import PREFIX, RULE_ID, BucketStaging, DirectoryStaging


def test_the_expiry_rule_keeps_the_bucket_s_other_rules() -> None:
    with moto_server() as endpoint:
        s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="testing",
                          aws_secret_access_key="testing")
        s3.create_bucket(Bucket="artifacts")
        theirs = {"ID": "old-logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 30}}
        s3.put_bucket_lifecycle_configuration(Bucket="artifacts", LifecycleConfiguration={"Rules": [theirs]})
        for _ in range(2):
            staging = BucketStaging(s3, "artifacts", "blog", expires=60, owner="123456789012")
        rules = s3.get_bucket_lifecycle_configuration(Bucket="artifacts")["Rules"]
        assert [r["ID"] for r in rules] == ["old-logs", RULE_ID]
        assert rules[1]["Filter"] == {"Prefix": PREFIX} and rules[1]["Expiration"] == {"Days": 1}
        assert staging.prefix.startswith(f"{PREFIX}blog/")
        url = staging.put_url("database.sql.gz")
        assert url.startswith(f"{endpoint}/artifacts/{PREFIX}blog/") and "Signature" in url


def test_a_killed_run_s_folder_goes_after_a_day(tmp_path: Path) -> None:
    old, young = tmp_path / "run-killedlongago", tmp_path / "run-stillgoing"
    old.mkdir()
    young.mkdir()
    os.utime(old, (time.time() - 2 * 86400,) * 2)
    staging = DirectoryStaging(tmp_path)
    assert not old.exists() and young.exists() and staging.root.is_dir()
    assert staging.put_url("x.sql") == (staging.root / "x.sql").as_uri()
    staging.discard()
    assert not staging.root.exists()
