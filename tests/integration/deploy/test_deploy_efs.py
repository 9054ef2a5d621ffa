"""Deploying ``storage.mode = "efs"`` against moto's server: the real rendered template (EFS file
system, mount targets, access point) is created, and each deploy then asks the function to seed
or sync wp-content on EFS.

moto's Lambda cannot run the function (that needs Docker), so the deploy's ``content_invoker`` is
a real :class:`~wp_lambda.runtime.handler.Runtime` on a local package and a local directory
standing in for the mount: the same handler code, given the same event the deploy would send.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.integration.deploy.conftest import deploy_in_process, lay_out_build, make_project
from wp_lambda import efs
from wp_lambda.aws import connect
from wp_lambda.config import load as load_config
from wp_lambda.deploy import operations
from wp_lambda.runtime.contract import CONTENT_DIR_ENV
from wp_lambda.runtime.handler import Runtime


def _plugin(folder: Path, slug: str, version: str) -> None:
    (folder / slug).mkdir(parents=True, exist_ok=True)
    (folder / slug / f"{slug}.php").write_text(f"<?php\n/*\nPlugin Name: {slug}\nVersion: {version}\n*/\n")


@pytest.fixture(scope="module")
def efs_site(aws_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = make_project(tmp_path_factory.mktemp("efs-site") / "site", name="efsblog",
                           network="vpc-nat-gateway", storage="efs")
    lay_out_build(project)
    return project


class FunctionStandIn:
    """The deployed function's handler on a local package (its wp-content) and a local "mount"."""

    def __init__(self, root: Path) -> None:
        self.package, self.mount = root / "task", root / "mnt"
        _plugin(self.package / "wp-content" / "plugins", "akismet", "5.0")
        (self.package / "wp-content" / "themes" / "twentytwentythree").mkdir(parents=True)
        (self.package / "wp-content" / "themes" / "twentytwentythree" / "style.css").write_text("/*\nVersion: 1.0\n*/")
        self.runtime = Runtime({"WPLAMBDA_DOCUMENT_ROOT": str(self.package), CONTENT_DIR_ENV: str(self.mount)})
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        return self.runtime.handle(event, None)


def test_deploy_creates_efs_and_seeds_then_syncs(efs_site: Path, tmp_path: Path) -> None:
    function = FunctionStandIn(tmp_path)
    outcome, said = deploy_in_process(efs_site, "efsblog", content_invoker=function)
    assert outcome.first_deploy
    assert function.events == [efs.sync_event(load_config(efs_site))]
    assert outcome.content is not None and outcome.content["seeded"] is True
    assert "syncing wp-content on EFS (pinned plugins and themes)" in said
    assert (function.mount / "plugins" / "akismet" / "akismet.php").is_file()

    cfn = boto3.client("cloudformation")
    resources = {r["LogicalResourceId"]: r.get("PhysicalResourceId")
                 for r in cfn.describe_stack_resources(StackName="efsblog")["StackResources"]
                 if r.get("LogicalResourceId")}
    client = boto3.client("efs")
    (fs,) = client.describe_file_systems(FileSystemId=resources["FileSystem"])["FileSystems"]
    assert fs["Encrypted"] is True
    targets = client.describe_mount_targets(FileSystemId=resources["FileSystem"])["MountTargets"]
    assert sorted(t["SubnetId"] for t in targets) == sorted([resources["PrivateSubnetA"],
                                                             resources["PrivateSubnetB"]])
    (point,) = client.describe_access_points(FileSystemId=resources["FileSystem"])["AccessPoints"]
    assert point["RootDirectory"]["Path"] == "/wp-content"
    # destroy names what it keeps: the file system, with what was installed on it.
    kept = operations.retained(connect(load_config(efs_site)), "efsblog")
    assert f"FileSystem: EFS file system {resources['FileSystem']} is kept with the plugins and themes on it " \
           "(delete it in the EFS console when no longer needed)" in kept

    # Someone installs a plugin from wp-admin; the next deploy (stack unchanged) lists it.
    _plugin(function.mount / "plugins", "by-hand", "2.0")
    again, _ = deploy_in_process(efs_site, "efsblog", content_invoker=function)
    assert not again.stack_changed
    assert again.content is not None and again.content["seeded"] is False
    assert again.content["hand_installed"] == [{"kind": "plugin", "slug": "by-hand", "version": "2.0"}]
    lines = efs.report_lines(again.content)
    assert lines == ["installed from wp-admin, not in wplambda.toml: plugin by-hand 2.0 "
                     "(pin it: wplambda plugin adopt by-hand)"]
    assert (function.mount / "plugins" / "by-hand" / "by-hand.php").is_file()


def test_a_failed_sync_fails_the_deploy_with_the_reason(efs_site: Path, tmp_path: Path) -> None:
    from wp_lambda.common.errors import UserError

    function = FunctionStandIn(tmp_path)
    shutil.rmtree(function.package / "wp-content" / "plugins")
    function.mount.write_text("not a directory")  # the mount is broken
    with pytest.raises(UserError, match="syncing wp-content on EFS failed"):
        deploy_in_process(efs_site, "efsblog", content_invoker=function)
