"""The exact request a deploy sends to CloudFormation for each config of the foundation's matrix (no AWS calls).

The plan is what both AWS and moto get (wp_lambda.deploy.execute); moto's copy differs only by
wp_lambda.deploy.emulator.adapt, which test_deploy_path.py checks on the server.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.integration.deploy.conftest import write_zip
from wp_lambda.config import Config, parse, toml_text
from wp_lambda.deploy.plan import MAX_TEMPLATE_BODY, Upload, capabilities, make_plan
from wp_lambda.validate import load_template, swap_artifacts, transform

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  SiteName: {Type: String}
  BuildHash: {Type: String}
  NetworkMode: {Type: String}
  DatabaseMode: {Type: String}
  FrontDoor: {Type: String}
  Architecture: {Type: String}
Resources:
  Topic: {Type: AWS::SNS::Topic}
  RuntimeLayer:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: .wplambda/build/layer.zip}
  WordPressFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.13
      Handler: index.handler
      CodeUri: .wplambda/build/function.zip
      Layers: [!Ref RuntimeLayer]
"""
ARTIFACTS = "wplambda-artifacts-123456789012-us-east-1"

# network x database x front door x architecture, pairwise (aurora needs a VPC).
MATRIX = [
    ("public", "external", "http-api", "x86_64"),
    ("public", "external", "function-url", "arm64"),
    ("vpc-nat-gateway", "aurora-serverless-v2", "http-api", "arm64"),
    ("vpc-nat-gateway", "external", "function-url", "x86_64"),
    ("vpc-nat-instance", "aurora-serverless-v2", "function-url", "x86_64"),
    ("vpc-nat-instance", "external", "http-api", "arm64"),
    ("vpc-nat-gateway", "aurora-serverless-v2", "function-url", "x86_64"),
    ("vpc-nat-instance", "aurora-serverless-v2", "http-api", "arm64"),
]


def _config(root: Path, network: str, database: str, front_door: str, arch: str, region: str = "us-east-1") -> Config:
    config = Config(root=root)
    config.site.name = "blog"
    config.network.mode, config.database.mode, config.function.front_door = network, database, front_door
    config.aws.architecture, config.aws.region = arch, region
    config.php.extensions = ["gd"] if arch == "x86_64" else []  # Bref's gd layer is x86_64 only
    if database == "external":
        config.database.host, config.database.user = "db.example.com", "wp"
        config.database.secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
    return parse(toml_text(config), root=root)


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    write_zip(tmp_path / ".wplambda/build/function.zip", {"index.php": "<?php\n"})
    write_zip(tmp_path / ".wplambda/build/layer.zip", {"python/x.py": "\n"})
    return tmp_path


def _digests(root: Path) -> dict[str, str]:
    return {n: hashlib.sha256((root / f".wplambda/build/{n}").read_bytes()).hexdigest()
            for n in ("function.zip", "layer.zip")}


def _build_hash(root: Path) -> str:
    digest = _digests(root)
    return hashlib.sha256(f"{digest['function.zip']}:{digest['layer.zip']}".encode()).hexdigest()[:16]


@pytest.mark.parametrize(("network", "database", "front_door", "arch"), MATRIX)
def test_request_for_the_matrix(root: Path, network: str, database: str, front_door: str, arch: str) -> None:
    plan = make_plan(_config(root, network, database, front_door, arch), "blog", artifact_bucket=ARTIFACTS,
                     change_set_type="CREATE")
    digests = _digests(root)
    assert (plan.stack, plan.region, plan.artifact_bucket, plan.change_set_type) == ("blog", "us-east-1", ARTIFACTS,
                                                                                   "CREATE")
    # Each zip under the stack's prefix, named by its digest.
    assert plan.uploads == (Upload(Path(".wplambda/build/function.zip"), f"blog/{digests['function.zip']}.zip",
                                   digests["function.zip"]),
                            Upload(Path(".wplambda/build/layer.zip"), f"blog/{digests['layer.zip']}.zip",
                                   digests["layer.zip"]))
    parameters = {"SiteName": "blog", "BuildHash": _build_hash(root), "NetworkMode": network,
                  "DatabaseMode": database, "FrontDoor": front_door, "Architecture": arch}
    assert plan.request() == {
        "StackName": "blog",
        # The transformed template has the function's role (no custom name) and no macro left.
        "Capabilities": ["CAPABILITY_IAM"],
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        "Tags": [{"Key": "wplambda:stack", "Value": "blog"}, {"Key": "wplambda:version", "Value": "0.1.0"}],
        "TemplateBody": plan.body.decode(),
    }
    # The body is the pinned translator's output for the uploaded zips' S3 URIs, nothing else.
    uris = {".wplambda/build/function.zip": f"s3://{ARTIFACTS}/blog/{digests['function.zip']}.zip",
            ".wplambda/build/layer.zip": f"s3://{ARTIFACTS}/blog/{digests['layer.zip']}.zip"}
    expected = transform(swap_artifacts(load_template(root / "template.yaml"), lambda _n, path: uris[path]),
                         "us-east-1", parameters)
    assert json.loads(plan.body) == json.loads(json.dumps(expected)) and "Transform" not in expected
    code = plan.template["Resources"]["WordPressFunction"]["Properties"]["Code"]
    assert code == {"S3Bucket": ARTIFACTS, "S3Key": f"blog/{digests['function.zip']}.zip"}


def test_region_stack_update_and_configured_bucket(root: Path) -> None:
    config = _config(root, "public", "external", "http-api", "arm64", region="eu-west-1")
    plan = make_plan(config, "blog-prod", artifact_bucket="my-artifacts", change_set_type="UPDATE")
    request = plan.request()
    assert plan.region == "eu-west-1" and plan.change_set_type == "UPDATE"
    assert request["StackName"] == "blog-prod"
    assert all(u.key.startswith("blog-prod/") for u in plan.uploads)
    assert {"Key": "wplambda:stack", "Value": "blog-prod"} in request["Tags"]
    assert plan.template["Resources"]["WordPressFunction"]["Properties"]["Code"]["S3Bucket"] == "my-artifacts"
    assert plan.describe()[0] == "plan: update stack blog-prod in eu-west-1 (change set type UPDATE)"


def test_undeclared_parameters_are_not_passed(root: Path) -> None:
    (root / "template.yaml").write_text("Resources:\n  Topic: {Type: AWS::SNS::Topic}\n")
    plan = make_plan(_config(root, *MATRIX[0]), "blog", artifact_bucket="b", change_set_type="CREATE")
    assert plan.request()["Parameters"] == [] and plan.request()["Capabilities"] == []


def test_a_template_over_the_body_limit_goes_by_url(root: Path) -> None:
    """51,200 bytes is CreateStack's TemplateBody limit; the plan uploads a bigger one and sends its URL."""
    topics = "".join(f"  Topic{i}:\n    Type: AWS::SNS::Topic\n    Properties: {{TopicName: t-{i:04}-{'x' * 150}}}\n"
                     for i in range(300))
    (root / "template.yaml").write_text(TEMPLATE + topics)
    plan = make_plan(_config(root, *MATRIX[0]), "blog", artifact_bucket="my-artifacts", change_set_type="CREATE")
    assert len(plan.body) > MAX_TEMPLATE_BODY
    key = plan.template_key
    assert key == f"blog/template-{hashlib.sha256(plan.body).hexdigest()[:16]}.json"
    request = plan.request()
    assert "TemplateBody" not in request
    assert request["TemplateURL"] == f"https://my-artifacts.s3.us-east-1.amazonaws.com/{key}"
    assert f"sent by TemplateURL (s3://my-artifacts/{key})" in plan.describe()[3]
    (root / "template.yaml").write_text(TEMPLATE)
    small = make_plan(_config(root, *MATRIX[0]), "blog", artifact_bucket="my-artifacts", change_set_type="CREATE")
    assert small.template_key is None and len(small.body) <= MAX_TEMPLATE_BODY


def test_capabilities_follow_the_template_sent() -> None:
    role = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}}
    named = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}, "RoleName": "wp"}}
    assert capabilities({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}) == ()
    assert capabilities({"Resources": {"R": role}}) == ("CAPABILITY_IAM",)
    assert capabilities({"Resources": {"R": role, "N": named}}) == ("CAPABILITY_NAMED_IAM",)
    assert capabilities({"Transform": "AWS::Include", "Resources": {"R": role}}) == ("CAPABILITY_IAM",
                                                                                  "CAPABILITY_AUTO_EXPAND")


def test_fingerprint_follows_code_template_and_parameters(root: Path) -> None:
    config = _config(root, *MATRIX[0])

    def fingerprint(cfg: Config = config) -> str:
        return make_plan(cfg, "blog", artifact_bucket="b", change_set_type="CREATE").fingerprint

    first = fingerprint()
    assert fingerprint() == first
    write_zip(root / ".wplambda/build/layer.zip", {"python/x.py": "changed\n"})
    second = fingerprint()
    assert second != first
    (root / "template.yaml").write_text(TEMPLATE + "Outputs:\n  X: {Value: y}\n")
    assert fingerprint() not in (first, second)
    assert fingerprint(_config(root, *MATRIX[1])) != first


def test_missing_build_output_is_a_user_error(root: Path) -> None:
    from wp_lambda.common.errors import UserError

    (root / ".wplambda/build/function.zip").unlink()
    with pytest.raises(UserError, match=r"missing \.wplambda/build/function\.zip"):
        make_plan(_config(root, *MATRIX[0]), "blog", artifact_bucket="b", change_set_type="CREATE")
