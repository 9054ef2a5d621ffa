"""``storage.mode = "efs"``: the template's file system, its network path, and CloudFront's routing
of plugin and theme files; the rendered wp-config.php and php.ini; init's flag and the refusals.

Like the matrix, every assertion reads the CloudFormation the SAM transform produced, and the
cases span both VPC modes, both database modes, both front doors and both architectures.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomlkit

from tests.integration.template.test_template_matrix import EXTERNAL_DB, STATIC_PATTERNS, Case, Rendered, render_case
from tests.support.helpers import run_wplambda
from wp_lambda import render, validate

EFS_CASES = [
    Case("natgw-aurora-httpapi-x86-efs", "vpc-nat-gateway", "aurora-serverless-v2", "http-api", "x86_64",
         {"storage": {"mode": "efs"}}),
    Case("natinst-external-url-arm-efs", "vpc-nat-instance", "external", "function-url", "arm64",
         {"storage": {"mode": "efs"}, "database": EXTERNAL_DB,
          "php": {"extensions": []}}),  # Bref's gd layer is x86_64 only
]
PACKAGE_CASE = Case("natinst-aurora-httpapi-x86-package", "vpc-nat-instance", "aurora-serverless-v2",
                    "http-api", "x86_64")


@pytest.fixture(scope="module", params=EFS_CASES, ids=[c.id for c in EFS_CASES])
def efs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    case: Case = request.param
    return render_case(case, tmp_path_factory.mktemp(case.id))


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render_case(PACKAGE_CASE, tmp_path_factory.mktemp(PACKAGE_CASE.id))


def test_lint_transform_and_kit_rules_pass(efs: Rendered) -> None:
    assert efs.lint_errors == []
    assert validate.kit_checks(efs.config, efs.resources) == []


def test_file_system_is_encrypted_backed_up_and_kept(efs: Rendered) -> None:
    (name, fs), = efs.of_type("AWS::EFS::FileSystem").items()
    assert name == "FileSystem"
    assert fs["DeletionPolicy"] == "RetainExceptOnCreate" and fs["UpdateReplacePolicy"] == "Retain"
    assert fs["Properties"]["Encrypted"] is True
    assert fs["Properties"]["BackupPolicy"] == {"Status": "ENABLED"}
    assert efs.transformed["Outputs"]["FileSystemId"]["Value"] == {"Ref": "FileSystem"}


def test_a_mount_target_in_each_private_subnet_behind_an_nfs_only_group(efs: Rendered) -> None:
    targets = efs.of_type("AWS::EFS::MountTarget")
    assert sorted(t["Properties"]["SubnetId"]["Ref"] for t in targets.values()) == ["PrivateSubnetA", "PrivateSubnetB"]
    for target in targets.values():
        assert target["Properties"]["FileSystemId"] == {"Ref": "FileSystem"}
        assert target["Properties"]["SecurityGroups"] == [{"Ref": "FileSystemSecurityGroup"}]
    group = efs.resources["FileSystemSecurityGroup"]["Properties"]
    assert group["SecurityGroupIngress"] == [{"IpProtocol": "tcp", "FromPort": 2049, "ToPort": 2049,
                                              "SourceSecurityGroupId": {"Ref": "FunctionSecurityGroup"},
                                              "Description": "WordPress function"}]


def test_access_point_has_a_fixed_user_and_root(efs: Rendered) -> None:
    point = efs.resources["FileSystemAccessPoint"]["Properties"]
    uid = str(render.EFS_UID)
    assert point["PosixUser"] == {"Uid": uid, "Gid": uid}
    assert point["RootDirectory"] == {"Path": "/wp-content", "CreationInfo": {
        "OwnerUid": uid, "OwnerGid": uid, "Permissions": "0755"}}


@pytest.mark.parametrize("name", ["WordPressFunction", "ConsoleFunction"])
def test_functions_mount_the_access_point_after_the_mount_targets(efs: Rendered, name: str) -> None:
    """The site's function serves from EFS; the console function (wp-cli, the deploy's sync) writes it."""
    function = efs.resources[name]
    assert function["Properties"]["FileSystemConfigs"] == [
        {"Arn": {"Fn::Sub": "arn:${AWS::Partition}:elasticfilesystem:${AWS::Region}:${AWS::AccountId}:"
                            "access-point/${FileSystemAccessPoint}"}, "LocalMountPath": render.EFS_MOUNT}]
    depends = function["DependsOn"]
    assert {"FileSystemMountTargetA", "FileSystemMountTargetB"} <= set(depends)
    assert ("DatabaseSecretAttachment" in depends) == (efs.config.database.mode == "aurora-serverless-v2")
    assert function["Properties"]["Environment"]["Variables"]["WPLAMBDA_CONTENT_DIR"] == render.EFS_MOUNT
    policies = json.dumps(efs.resources["WordPressFunctionRole"]["Properties"]["Policies"])
    assert "elasticfilesystem:ClientMount" in policies and "elasticfilesystem:ClientWrite" in policies


def test_plugin_and_theme_files_fall_back_from_the_bucket_to_the_function(efs: Rendered) -> None:
    dist = efs.resources["Distribution"]["Properties"]["DistributionConfig"]
    patterns = [b["PathPattern"] for b in dist["CacheBehaviors"]]
    assert patterns == ["*.php", "/wp-content/uploads/*", "/wp-content/plugins/*", "/wp-content/themes/*",
                        *STATIC_PATTERNS[1:]]
    by_pattern = {b["PathPattern"]: b for b in dist["CacheBehaviors"]}
    for pattern in ("/wp-content/plugins/*", "/wp-content/themes/*"):
        behaviour = by_pattern[pattern]
        assert behaviour["TargetOriginId"] == "assets-then-function"
        assert behaviour["CachePolicyId"] == {"Ref": "StaticCachePolicy"}  # cached on ?ver=
        assert behaviour["AllowedMethods"] == ["GET", "HEAD", "OPTIONS"]  # what origin groups allow
    assert by_pattern["/wp-content/*"]["TargetOriginId"] == "assets"
    (group,) = dist["OriginGroups"]["Items"]
    assert dist["OriginGroups"]["Quantity"] == 1
    assert group["Id"] == "assets-then-function"
    assert group["FailoverCriteria"]["StatusCodes"] == {"Quantity": 2, "Items": [403, 404]}
    assert [m["OriginId"] for m in group["Members"]["Items"]] == ["assets", "function"]


def test_package_mode_has_no_efs(package: Rendered) -> None:
    assert not [r for r in package.resources.values() if r["Type"].startswith("AWS::EFS::")]
    for name in ("WordPressFunction", "ConsoleFunction"):
        function = package.resources[name]
        assert "FileSystemConfigs" not in function["Properties"]
        assert "WPLAMBDA_CONTENT_DIR" not in function["Properties"]["Environment"]["Variables"]
    dist = package.resources["Distribution"]["Properties"]["DistributionConfig"]
    assert "OriginGroups" not in dist
    assert [b["PathPattern"] for b in dist["CacheBehaviors"]] == ["*.php", *STATIC_PATTERNS]


def _php_lint(path: Path) -> None:
    php = shutil.which("php")
    assert php, "php-cli is missing: run `make setup`"
    result = subprocess.run([php, "-l", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_wp_config_allows_plugin_installs_only_in_efs_mode(efs: Rendered, package: Rendered) -> None:
    efs_config = (efs.root / "wordpress" / "wp-config.php").read_text()
    package_config = (package.root / "wordpress" / "wp-config.php").read_text()
    _php_lint(efs.root / "wordpress" / "wp-config.php")
    assert "define('DISALLOW_FILE_MODS', false);" in efs_config
    assert "define('FS_METHOD', 'direct');" in efs_config
    assert f"$wplambda_env('WPLAMBDA_CONTENT_DIR', '{render.EFS_MOUNT}')" in efs_config
    assert "define('WPMU_PLUGIN_DIR', __DIR__ . '/wp-content/mu-plugins');" in efs_config
    assert "define('DISALLOW_FILE_MODS', true);" in package_config
    assert "FS_METHOD" not in package_config and "WP_CONTENT_DIR" not in package_config
    for text in (efs_config, package_config):  # core is in the package: never updated at run time
        assert "define('WP_AUTO_UPDATE_CORE', false);" in text
        assert "define('AUTOMATIC_UPDATER_DISABLED', true);" in text


def test_opcache_revalidates_only_in_efs_mode(efs: Rendered, package: Rendered) -> None:
    def settings(rendered: Rendered) -> dict[str, str]:
        text = (rendered.root / "php-layer" / "php.ini").read_text()
        pairs = (line.split("=", 1) for line in text.splitlines() if line.startswith("opcache."))
        return {k.strip(): v.strip() for k, v in pairs}

    assert (settings(efs)["opcache.validate_timestamps"], settings(efs)["opcache.revalidate_freq"]) == ("1", "2")
    assert settings(package)["opcache.validate_timestamps"] == "0"


def test_sam_validate_lint_accepts_the_efs_template(efs: Rendered, tmp_path: Path) -> None:
    """The real SAM CLI, offline (HOME is an empty directory)."""
    sam = Path(sys.executable).with_name("sam")
    assert sam.exists(), "aws-sam-cli is missing from the venv: run `make setup`"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_DEFAULT_REGION": efs.config.aws.region,
           "SAM_CLI_TELEMETRY": "0", "LANG": "C.UTF-8"}
    result = subprocess.run([str(sam), "validate", "--lint", "--template", "template.yaml"], cwd=efs.root,
                            env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_init_storage_flag_and_refusal_without_a_vpc(tmp_path: Path) -> None:
    made = run_wplambda("init", str(tmp_path / "efs-site"), "--yes", "--storage", "efs")
    assert made.returncode == 0, made.stderr
    toml = (tmp_path / "efs-site" / "wplambda.toml").read_text()
    assert '[storage]' in toml and 'mode = "efs"' in toml
    assert "AWS::EFS::FileSystem" in (tmp_path / "efs-site" / "template.yaml").read_text()

    refused = run_wplambda("init", str(tmp_path / "public-efs"), "--yes", "--storage", "efs",
                           "--network", "public", "--database", "external", "--db-host", "db.example.com",
                           "--db-user", "wp", "--db-secret-arn", EXTERNAL_DB["secret_arn"])
    assert refused.returncode == 2
    message = " ".join(refused.stderr.split())
    assert 'storage.mode: storage.mode = "efs" needs a VPC' in message
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "public-efs").exists()


def test_bad_storage_in_an_existing_project_names_the_line(tmp_path: Path) -> None:
    root = tmp_path / "site"
    assert run_wplambda("init", str(root), "--yes").returncode == 0
    path = root / "wplambda.toml"
    doc = tomlkit.parse(path.read_text())
    doc["storage"]["mode"] = "nfs"  # type: ignore[index]
    path.write_text(tomlkit.dumps(doc))
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if text == 'mode = "nfs"')
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    result = run_wplambda("validate", "--project", str(root))
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert f"{path}:{line}: storage.mode: 'nfs' is not allowed; use one of: 'package', 'efs'" in message
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
