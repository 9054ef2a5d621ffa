"""`wplambda export --stack` / `import --stack` through boto3, as against AWS: the project's template
deployed to moto's server (S3, CloudFormation, Lambda's API), the console function run by
`wplambda serve`'s local invoke endpoint (AWS_ENDPOINT_URL_LAMBDA; moto cannot run functions without
Docker). The dump travels through the artifact bucket by presigned URLs, uploads go to the stack's
uploads bucket by content.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.integration.deploy.conftest import write_zip
from tests.support.helpers import moto_aws_env, real_wp_cli, run_wplambda
from tests.support.ports import free_port
from tests.support.serve import init_site, invoke_env, serving
from tests.support.wp_cli import set_key
from wp_lambda.dbio.staging import PREFIX, RULE_ID

pytestmark = pytest.mark.slow

STACK = "dbioblog"
REGION = "us-east-1"
JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000") + bytes(range(256)) * 8 + b"\xff\xd9"


@pytest.fixture(scope="module")
def aws_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with moto_aws_env(tmp_path_factory.mktemp("dbio-aws-home"), REGION) as env:
        yield env


def client(service: str, env: dict[str, str]) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=env["AWS_ENDPOINT_URL"],
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, debian_wordpress: Path, aws_env: dict[str, str]) -> Path:
    """An installed local site whose real template is deployed to moto (stand-in zips: moto stores
    them, never runs them)."""
    project = init_site(tmp_path_factory.mktemp("dbio-stack") / "site", "dbiostack")
    set_key(project, "build", "wp_cli", f'"{real_wp_cli()}"')
    result = run_wplambda("wp", "--local", "--project", str(project), "--", "core", "install",
                          "--url=http://127.0.0.1:8080", "--title=Stack site", "--admin_user=stackadmin",
                          "--admin_password=stack-admin-pw-1", "--admin_email=a@example.com", "--skip-email")
    assert result.returncode == 0, result.stdout + result.stderr
    build = project / ".wplambda" / "build"
    write_zip(build / "function.zip", {"index.php": "<?php\n"})
    write_zip(build / "layer.zip", {"python/wp_lambda/__init__.py": "\n"})
    (build / "assets" / "wp-includes").mkdir(parents=True, exist_ok=True)
    (build / "assets" / "wp-includes" / "a.css").write_text("a{}\n")
    result = run_wplambda("deploy", "--stack", STACK, "--yes", "--skip-build", cwd=project, env=aws_env)
    assert result.returncode == 0, result.stdout + result.stderr
    return project


@pytest.fixture(scope="module")
def stack_env(project: Path, aws_env: dict[str, str]) -> Iterator[dict[str, str]]:
    with serving(project, "--invoke-port", str(free_port()), "--workers", "1") as served:
        # moto takes the endpoint's key pair as well as any other.
        yield {**aws_env, **invoke_env(served.project), "COLUMNS": "200"}


@pytest.fixture(scope="module")
def buckets(project: Path, aws_env: dict[str, str]) -> dict[str, str]:
    cfn = client("cloudformation", aws_env)
    found = {r.get("LogicalResourceId"): r.get("PhysicalResourceId")
             for r in cfn.describe_stack_resources(StackName=STACK)["StackResources"]}
    account = client("sts", aws_env).get_caller_identity()["Account"]
    return {"uploads": found["UploadsBucket"], "artifacts": f"wplambda-artifacts-{account}-{REGION}"}


def on_stack(project: Path, env: dict[str, str], command: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_wplambda(command, "--stack", STACK, "--project", str(project), *args, env=env, timeout=600)


def test_export_through_the_stack(project: Path, stack_env: dict[str, str], buckets: dict[str, str],
                                  aws_env: dict[str, str], tmp_path: Path) -> None:
    s3 = client("s3", aws_env)
    s3.put_object(Bucket=buckets["uploads"], Key="wp-content/uploads/2024/01/boat.jpg", Body=JPEG)
    out = tmp_path / "export"
    result = on_stack(project, stack_env, "export", "-o", str(out), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["tables"]["wp_users"] == 1 and summary["uploads"] == 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"] == f"stack {STACK}"
    assert manifest["uploads"] == {"2024/01/boat.jpg": {"sha256": hashlib.sha256(JPEG).hexdigest(),
                                                        "size": len(JPEG)}}
    assert (out / "uploads" / "2024" / "01" / "boat.jpg").read_bytes() == JPEG
    assert manifest["database"]["sha256"] == hashlib.sha256((out / "database.sql.gz").read_bytes()).hexdigest()
    assert b"CREATE TABLE `wp_posts`" in gzip.decompress((out / "database.sql.gz").read_bytes())
    # The dump went through the artifact bucket under a key that expires, and was removed after use.
    rules = s3.get_bucket_lifecycle_configuration(Bucket=buckets["artifacts"])["Rules"]
    assert any(r["ID"] == RULE_ID and r["Filter"]["Prefix"] == PREFIX and r["Expiration"]["Days"] == 1
               for r in rules)
    assert s3.list_objects_v2(Bucket=buckets["artifacts"], Prefix=PREFIX).get("KeyCount", 0) == 0
    # Resumable: a second run into the same folder copies nothing again.
    again = on_stack(project, stack_env, "export", "-o", str(out))
    assert again.returncode == 0 and "0 copied, 1 already there" in again.stdout, again.stdout + again.stderr


def test_import_through_the_stack(project: Path, stack_env: dict[str, str], buckets: dict[str, str],
                                  aws_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "source"
    assert on_stack(project, stack_env, "export", "-o", str(out)).returncode == 0
    text = gzip.decompress((out / "database.sql.gz").read_bytes())
    assert b"'Stack site'" in text
    dump = tmp_path / "renamed.sql.gz"
    dump.write_bytes(gzip.compress(text.replace(b"'Stack site'", b"'Imported through the stack'")))
    uploads = tmp_path / "uploads"
    (uploads / "2025" / "02").mkdir(parents=True)
    (uploads / "2025" / "02" / "new.jpg").write_bytes(JPEG[::-1])
    (uploads / "2025" / "02" / "shell.php").write_text("<?php echo 1;\n")
    result = on_stack(project, stack_env, "import", "--sql", str(dump), "--uploads", str(uploads), "--yes",
                      "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["admins"] == ["stackadmin"] and summary["backup_prefix"].startswith("wpbk")
    assert summary["uploads"] == {"copied": 1, "unchanged": 0, "bytes": len(JPEG),
                                  "skipped_php": ["2025/02/shell.php"]}
    assert Path(summary["backup_dir"]).joinpath("manifest.json").is_file()
    blogname = run_wplambda("wp", "--stack", STACK, "--project", str(project), "--", "option", "get", "blogname",
                            env=stack_env)
    assert blogname.stdout == "Imported through the stack\n", blogname.stderr
    s3 = client("s3", aws_env)
    obj = s3.get_object(Bucket=buckets["uploads"], Key="wp-content/uploads/2025/02/new.jpg")
    assert obj["Body"].read() == JPEG[::-1] and obj["ContentType"] == "image/jpeg"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=buckets["uploads"])["Contents"]}
    assert "wp-content/uploads/2025/02/shell.php" not in keys
    assert "wp-content/uploads/2024/01/boat.jpg" in keys  # nothing is deleted
    # Going back: the swapped-out tables come back with one RENAME.
    reverted = on_stack(project, stack_env, "import", "--revert", summary["backup_prefix"], "--json")
    assert reverted.returncode == 0, reverted.stderr
    blogname = run_wplambda("wp", "--stack", STACK, "--project", str(project), "--", "option", "get", "blogname",
                            env=stack_env)
    assert blogname.stdout == "Stack site\n"
    dropped = on_stack(project, stack_env, "import", "--drop-old", "--json")
    assert len(json.loads(dropped.stdout)["dropped"]) == 1


def test_local_uploads_in_an_s3_compatible_bucket(project: Path, stack_env: dict[str, str],
                                                  aws_env: dict[str, str], tmp_path: Path) -> None:
    """--local with --s3-endpoint: the uploads of a `serve --s3-endpoint` site, in and out of its bucket."""
    s3 = client("s3", aws_env)
    s3.create_bucket(Bucket="dbio-local-uploads")
    s3.put_object(Bucket="dbio-local-uploads", Key="wp-content/uploads/2023/05/local.jpg", Body=JPEG)
    where = ("--local", "--project", str(project), "--s3-endpoint", aws_env["AWS_ENDPOINT_URL"], "--s3-bucket",
             "dbio-local-uploads")
    out = tmp_path / "export"
    result = run_wplambda("export", *where, "-o", str(out), env=aws_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(json.loads((out / "manifest.json").read_text())["uploads"]) == {"2023/05/local.jpg"}
    assert (out / "uploads" / "2023" / "05" / "local.jpg").read_bytes() == JPEG
    (out / "uploads" / "2023" / "05" / "added.jpg").write_bytes(JPEG[:100])
    result = run_wplambda("import", *where, "--sql", str(out / "database.sql.gz"), "--uploads", str(out / "uploads"),
                          "--yes", "--no-backup", "--json", env=aws_env, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["uploads"]["copied"] == 1  # local.jpg is there already, by content
    added = s3.get_object(Bucket="dbio-local-uploads", Key="wp-content/uploads/2023/05/added.jpg")
    assert added["Body"].read() == JPEG[:100]
    wrong = run_wplambda("export", "--stack", STACK, "--project", str(project), "--s3-endpoint",
                         aws_env["AWS_ENDPOINT_URL"], "-o", str(tmp_path / "x"), env=stack_env)
    assert wrong.returncode == 2 and "--s3-endpoint goes with --local" in wrong.stderr
