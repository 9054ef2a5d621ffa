"""Fixtures of the deploy area: moto's server on localhost and a project with a build's output.

The build output is laid out here from Debian's WordPress (the build command is another area):
the static files of wp-admin, wp-includes and wp-content (no PHP, no dotfiles, symlinks
dereferenced; about 1,800 files) plus small function.zip/layer.zip archives.
"""

from __future__ import annotations

import os
import shutil
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.helpers import DEBIAN_WORDPRESS, moto_server, run_wplambda
from wp_lambda import assets_sync
from wp_lambda import project as project_mod
from wp_lambda.aws import connect
from wp_lambda.config import Config
from wp_lambda.config import load as load_config
from wp_lambda.deploy import run as run_mod

ASSET_TREES = ("wp-admin", "wp-includes", "wp-content")
REGION = "us-east-1"


def lay_out_assets(dest: Path, source: Path = DEBIAN_WORDPRESS) -> int:
    """Copy the static files of ``source`` to ``dest`` with fresh mtimes, as a rebuild would.

    Returns the number of files. ``dest`` is replaced as a whole, like the build replaces it.
    """
    shutil.rmtree(dest, ignore_errors=True)
    count = 0
    for tree in ASSET_TREES:
        for path in sorted((source / tree).rglob("*")):
            rel = path.relative_to(source)
            if any(p.startswith(".") for p in rel.parts) or path.suffix == ".php" or not path.is_file():
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)  # follows symlinks; new mtime
            count += 1
    return count


def write_zip(path: Path, files: dict[str, str]) -> None:
    """A small deterministic zip (fixed timestamps), like the build's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in sorted(files.items()):
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), text)


def lay_out_build(root: Path) -> Path:
    """``root/.wplambda/build`` with assets, function.zip and layer.zip; returns the build dir."""
    build = root / ".wplambda" / "build"
    lay_out_assets(build / "assets")
    write_zip(build / "function.zip", {"index.php": "<?php // front controller\n"})
    write_zip(build / "layer.zip", {"python/wp_lambda/__init__.py": "__version__ = 'test'\n"})
    return build


def make_project(root: Path, name: str = "blog", **answers: str) -> Path:
    """A project as ``wplambda init --yes`` writes it (in-process: no subprocess start-up)."""
    project_mod.init_project(root, {"name": name, "wordpress_source": str(DEBIAN_WORDPRESS), **answers})
    return root


def init_with_cli(root: Path, name: str) -> Path:
    """A fresh project made by the real `wplambda init --yes`, plus a build's output."""
    result = run_wplambda("init", str(root), "--yes", "--name", name, "--wordpress-source", str(DEBIAN_WORDPRESS))
    assert result.returncode == 0, result.stderr
    lay_out_build(root)
    return root


def deployed_with_cli(root: Path, stack: str) -> Path:
    """:func:`init_with_cli`, then a first `wplambda deploy` of it as stack ``stack``."""
    init_with_cli(root, stack)
    first = run_wplambda("deploy", "--stack", stack, "--yes", "--skip-build", cwd=root)
    assert first.returncode == 0, first.stdout + first.stderr
    return root


def config_with(project: Path, **sections: dict[str, Any]) -> Config:
    """The project's config with some keys set in memory (``php={"source": "dir"}``), the file untouched."""
    config = load_config(project)
    for section, values in sections.items():
        for key, value in values.items():
            setattr(getattr(config, section), key, value)
    return config


def renew_mtimes(tree: Path) -> None:
    """Move every mtime forward, as a rebuild that rewrote every file would."""
    later = time.time() + 3600
    for path in tree.rglob("*"):
        os.utime(path, (later, later))


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A moto server on localhost on a random port, for this test module."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def aws_env(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment that points boto3 and the kit (console script included) at moto, with no real ~/.aws in reach."""
    home = tmp_path_factory.mktemp("home")
    env = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "HOME": str(home),
    }
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("AWS_PROFILE", raising=False)
        mp.delenv("AWS_SESSION_TOKEN", raising=False)
        for key, value in env.items():
            mp.setenv(key, value)
        yield env


# The parts of the kit's stack that moto's CloudFormation implements, as a SAM template.
VPC_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Description: the parts of the kit's stack that moto implements
Parameters:
  SiteName:
    Type: String
  BuildHash:
    Type: String
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.42.0.0/16
  PublicSubnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: 10.42.0.0/24
  PrivateSubnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: 10.42.1.0/24
  NatAddress:
    Type: AWS::EC2::EIP
    Properties:
      Domain: vpc
  NatGateway:
    Type: AWS::EC2::NatGateway
    Properties:
      SubnetId: !Ref PublicSubnet
      AllocationId: !GetAtt NatAddress.AllocationId
  FunctionSecurityGroup:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: WordPress function
      VpcId: !Ref Vpc
  AssetsBucket:
    Type: AWS::S3::Bucket
  UploadsBucket:
    Type: AWS::S3::Bucket
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
  RuntimeLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: .wplambda/build/layer.zip
      CompatibleRuntimes: [python3.13]
  WordPressFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.13
      Handler: wp_lambda.runtime.handler.handler
      CodeUri: .wplambda/build/function.zip
      MemorySize: 1024
      Timeout: 28
      AutoPublishAlias: live
      # No `Layers: [!Ref RuntimeLayer]`: moto's update of a function whose Layers come from a
      # LayerVersion resource crashes (AttributeError in moto.awslambda); the layer is still deployed.
      Environment:
        Variables:
          WPLAMBDA_SITE_HOST: blog.example.com
          S3_UPLOADS_BUCKET: !Ref UploadsBucket
          SITE_NAME: !Ref SiteName
      VpcConfig:
        SubnetIds: [!Ref PrivateSubnet]
        SecurityGroupIds: [!Ref FunctionSecurityGroup]
Outputs:
  FunctionName:
    Value: !Ref WordPressFunction
  AssetsBucketName:
    Value: !Ref AssetsBucket
  UploadsBucketName:
    Value: !Ref UploadsBucket
  SiteUrl:
    Value: https://blog.example.com/
"""


def vpc_project(root: Path, name: str) -> Path:
    """A project whose template.yaml is VPC_TEMPLATE (what moto implements), with a build's output."""
    project = make_project(root, name=name, network="vpc-nat-gateway")
    (project / "template.yaml").write_text(VPC_TEMPLATE)
    lay_out_build(project)
    return project


def deploy_in_process(root: Path, stack: str, *, calls: list[str] | None = None,
                      **kwargs: Any) -> tuple[run_mod.DeployOutcome, list[str]]:
    """``run.deploy`` in-process on ``root`` as it is (no render), with the CLI's asset sync.

    ``calls`` receives every AWS API call the deploy makes, as ``service.Operation``.
    """
    config = load_config(root)
    aws = connect(config)
    if calls is not None:
        def record(model: Any, **_: Any) -> None:
            calls.append(f"{model.service_model.service_name}.{model.name}")

        # Clients copy the session's event hooks when they are made, and the deploy makes them all.
        aws.session.events.register("before-call", record)
    said: list[str] = []

    def sync_runner(bucket: str, dry: bool) -> assets_sync.SyncResult:
        return assets_sync.sync(aws.client("s3", max_pool_connections=16), bucket,
                                root / ".wplambda/build/assets", config.assets, dry_run=dry, verify=True)

    outcome = run_mod.deploy(config, aws, stack, sync_runner=sync_runner, skip_build=True, render=False,
                             say=said.append, **kwargs)
    return outcome, said
