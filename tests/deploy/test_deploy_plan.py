"""The exact `sam deploy` argument list for each config of the foundation's matrix (no AWS calls)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from deploy.conftest import write_zip

from wp_lambda.config import Config, parse, toml_text
from wp_lambda.deploy.plan import make_plan

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
"""

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


def _config(root: Path, network: str, database: str, front_door: str, arch: str, region: str = "us-east-1",
            profile: str = "") -> Config:
    config = Config(root=root)
    config.site.name = "blog"
    config.network.mode, config.database.mode, config.function.front_door = network, database, front_door
    config.aws.architecture, config.aws.region, config.aws.profile = arch, region, profile
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


def _build_hash(root: Path) -> str:
    digest = [hashlib.sha256((root / f".wplambda/build/{n}").read_bytes()).hexdigest()
              for n in ("function.zip", "layer.zip")]
    return hashlib.sha256(f"{digest[0]}:{digest[1]}".encode()).hexdigest()[:16]


@pytest.mark.parametrize(("network", "database", "front_door", "arch"), MATRIX)
def test_sam_deploy_arguments_for_the_matrix(root: Path, network: str, database: str, front_door: str,
                                             arch: str) -> None:
    plan = make_plan(_config(root, network, database, front_door, arch), "blog",
                     artifact_bucket="wplambda-artifacts-123456789012-us-east-1")
    assert plan.sam_deploy_args() == [
        "sam", "deploy",
        "--template-file", "template.yaml",
        "--stack-name", "blog",
        "--capabilities", "CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND",
        "--s3-bucket", "wplambda-artifacts-123456789012-us-east-1",
        "--s3-prefix", "blog",
        "--region", "us-east-1",
        "--tags", "wplambda:stack=blog", "wplambda:version=0.1.0",
        "--no-fail-on-empty-changeset",
        "--no-confirm-changeset",
        "--no-progressbar",
        "--parameter-overrides", "SiteName=blog", f"BuildHash={_build_hash(root)}", f"NetworkMode={network}",
        f"DatabaseMode={database}", f"FrontDoor={front_door}", f"Architecture={arch}",
    ]


def test_profile_region_dry_run_and_configured_bucket(root: Path) -> None:
    config = _config(root, "public", "external", "http-api", "arm64", region="eu-west-1", profile="site")
    plan = make_plan(config, "blog-prod", artifact_bucket="my-artifacts", profile="site")
    args = plan.sam_deploy_args(execute=False)
    assert args[args.index("--region") + 1] == "eu-west-1"
    assert args[args.index("--s3-bucket") + 1] == "my-artifacts"
    assert args[args.index("--stack-name") + 1] == "blog-prod"
    assert args[-3:] == ["--profile", "site", "--no-execute-changeset"]
    assert "wplambda:stack=blog-prod" in args


def test_undeclared_parameters_are_not_passed(root: Path) -> None:
    (root / "template.yaml").write_text("Resources:\n  Topic: {Type: AWS::SNS::Topic}\n")
    plan = make_plan(_config(root, *MATRIX[0]), "blog", artifact_bucket="b")
    assert "--parameter-overrides" not in plan.sam_deploy_args()


def test_fingerprint_follows_code_template_and_parameters(root: Path) -> None:
    config = _config(root, *MATRIX[0])
    first = make_plan(config, "blog", artifact_bucket="b").fingerprint
    assert make_plan(config, "blog", artifact_bucket="b").fingerprint == first
    write_zip(root / ".wplambda/build/layer.zip", {"python/x.py": "changed\n"})
    second = make_plan(config, "blog", artifact_bucket="b").fingerprint
    assert second != first
    (root / "template.yaml").write_text(TEMPLATE + "Outputs:\n  X: {Value: y}\n")
    assert make_plan(config, "blog", artifact_bucket="b").fingerprint not in (first, second)
    assert make_plan(_config(root, *MATRIX[1]), "blog", artifact_bucket="b").fingerprint != first


def test_missing_build_output_is_a_user_error(root: Path) -> None:
    from wp_lambda.common.errors import UserError

    (root / ".wplambda/build/function.zip").unlink()
    with pytest.raises(UserError, match=r"missing \.wplambda/build/function\.zip"):
        make_plan(_config(root, *MATRIX[0]), "blog", artifact_bucket="b")
