"""`wplambda wp --stack` through boto3: the stack deployed to moto, the function invoked through
`wplambda serve`'s local Lambda invoke endpoint (AWS_ENDPOINT_URL_LAMBDA), exactly the path
taken against AWS. moto cannot run the functions itself (it needs Docker); serve runs them with
the real wp-cli phar, Debian's PHP and the private MariaDB.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import botocore.exceptions
import pytest

from tests.integration.deploy.conftest import write_zip
from tests.support.helpers import moto_aws_env, run_wplambda
from tests.support.ports import free_port
from tests.support.serve import Served, serving
from tests.support.wp_cli import CONSOLE_TIMEOUT, wp

STACK = "wpblog"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def aws_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with moto_aws_env(tmp_path_factory.mktemp("aws-home"), REGION) as env:
        yield env


def client(service: str, env: dict[str, str], endpoint: str | None = None) -> object:
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint or env["AWS_ENDPOINT_URL"],
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture(scope="module")
def deployed(wp_project: Path, aws_env: dict[str, str]) -> dict[str, str]:
    """The project's real template deployed to moto; returns the stack's functions by logical id.

    The zips are small stand-ins (moto stores them, never runs them); the one static asset keeps
    the asset sync short.
    """
    build = wp_project / ".wplambda" / "build"
    write_zip(build / "function.zip", {"index.php": "<?php\n"})
    write_zip(build / "layer.zip", {"python/wp_lambda/__init__.py": "\n"})
    (build / "assets" / "wp-includes").mkdir(parents=True, exist_ok=True)
    (build / "assets" / "wp-includes" / "a.css").write_text("a{}\n")
    result = run_wplambda("deploy", "--stack", STACK, "--yes", "--skip-build", cwd=wp_project, env=aws_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "console function" in result.stdout  # the outputs table names it
    cfn = client("cloudformation", aws_env)
    found = cfn.describe_stack_resources(StackName=STACK)["StackResources"]  # type: ignore[attr-defined]
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in found
            if r.get("ResourceType") == "AWS::Lambda::Function"}


@pytest.fixture(scope="module")
def served(wp_project: Path, deployed: dict[str, str]) -> Iterator[Served]:
    with serving(wp_project, "--invoke-port", str(free_port()), "--workers", "1") as server:
        yield server


@pytest.fixture(scope="module")
def endpoint(served: Served) -> str:
    line = next(line for line in served.output if "Lambda invoke endpoint:" in line)
    return line.split("Lambda invoke endpoint:")[1].split()[0]


@pytest.fixture(scope="module")
def stack_env(aws_env: dict[str, str], endpoint: str) -> dict[str, str]:
    return {**aws_env, "AWS_ENDPOINT_URL_LAMBDA": endpoint}


def on_stack(project: Path, env: dict[str, str], *args: str, json_out: bool = False
             ) -> subprocess.CompletedProcess[str]:
    return wp(project, *args, json_out=json_out, where=("--stack", STACK), env=env)


def test_the_stack_has_a_console_function(deployed: dict[str, str], aws_env: dict[str, str]) -> None:
    assert set(deployed) == {"WordPressFunction", "ConsoleFunction"}
    config = client("lambda", aws_env).get_function(  # type: ignore[attr-defined]
        FunctionName=deployed["ConsoleFunction"])["Configuration"]
    site = client("lambda", aws_env).get_function(  # type: ignore[attr-defined]
        FunctionName=deployed["WordPressFunction"])["Configuration"]
    assert config["Timeout"] == CONSOLE_TIMEOUT and config["Role"] == site["Role"]
    assert config["Environment"]["Variables"].pop("WPLAMBDA_ROLE") == "console"
    assert config["Environment"] == site["Environment"]
    assert config["VpcConfig"]["SubnetIds"] == site["VpcConfig"]["SubnetIds"]


def test_plugin_commands_through_the_stack(wp_project: Path, stack_env: dict[str, str]) -> None:
    listed = on_stack(wp_project, stack_env, "plugin", "list", "--format=json")
    assert listed.returncode == 0, listed.stderr
    assert "akismet" in {p["name"] for p in json.loads(listed.stdout)}
    activated = on_stack(wp_project, stack_env, "plugin", "activate", "akismet")
    assert activated.returncode == 0 and "Success" in activated.stdout, activated.stderr
    assert on_stack(wp_project, stack_env, "plugin", "is-active", "akismet").returncode == 0
    assert on_stack(wp_project, stack_env, "plugin", "is-active", "no-such-plugin").returncode == 1
    assert on_stack(wp_project, stack_env, "plugin", "deactivate", "akismet").returncode == 0
    result = on_stack(wp_project, stack_env, "option", "get", "siteurl", json_out=True)
    data = json.loads(result.stdout)
    assert (data["stdout"], data["exit_code"]) == ("http://127.0.0.1:8080\n", 0)
    assert len(data["request_id"]) == 36  # boto3's ResponseMetadata, from x-amzn-RequestId


def test_local_uses_the_running_serve(wp_project: Path, served: Served) -> None:
    """With serve running, `--local` goes through its endpoint: starting a console of its own on
    serve's database would be refused (exit 2, "already being served")."""
    result = wp(wp_project, "option", "get", "blogname")
    assert (result.returncode, result.stdout, result.stderr) == (0, "wp-cli site\n", "")


def test_timeout_through_the_stack_then_the_next_command(wp_project: Path, stack_env: dict[str, str]) -> None:
    slow = on_stack(wp_project, stack_env, "eval", f"sleep({CONSOLE_TIMEOUT * 5});")
    assert slow.returncode == 2
    assert f"stack {STACK}" in slow.stderr and "deadline" in slow.stderr and "console.timeout" in slow.stderr
    after = on_stack(wp_project, stack_env, "option", "get", "blogname")
    assert (after.returncode, after.stdout) == (0, "wp-cli site\n"), after.stderr


def test_boto3_invokes_both_functions_at_the_endpoint(deployed: dict[str, str], endpoint: str,
                                                      aws_env: dict[str, str]) -> None:
    lam = client("lambda", aws_env, endpoint)
    site = lam.invoke(FunctionName=deployed["WordPressFunction"],  # type: ignore[attr-defined]
                      Payload=json.dumps({"wplambda": "warmer"}))
    assert json.loads(site["Payload"].read()) == {"warmed": True} and "FunctionError" not in site
    console = lam.invoke(FunctionName="ConsoleFunction",  # type: ignore[attr-defined]
                         Payload=json.dumps({"wplambda": "wp", "args": ["option", "get", "blogname"]}))
    assert json.loads(console["Payload"].read())["stdout"] == "wp-cli site\n"
    queued = lam.invoke(FunctionName="ConsoleFunction", InvocationType="Event",  # type: ignore[attr-defined]
                        Payload=json.dumps({"wplambda": "warmer"}))
    assert queued["StatusCode"] == 202
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        lam.invoke(FunctionName="NoSuchFunction", Payload=b"{}")  # type: ignore[attr-defined]
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_no_such_stack_and_no_console_function(wp_project: Path, stack_env: dict[str, str],
                                               aws_env: dict[str, str]) -> None:
    missing = wp(wp_project, "cli", "version", where=("--stack", "nosuch"), env=stack_env)
    assert missing.returncode == 2 and "stack 'nosuch' does not exist in us-east-1" in missing.stderr
    client("cloudformation", aws_env).create_stack(  # type: ignore[attr-defined]
        StackName="old", TemplateBody=json.dumps({"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}}))
    old = wp(wp_project, "cli", "version", where=("--stack", "old"), env=stack_env)
    assert old.returncode == 2 and "stack 'old' has no console function (ConsoleFunction)" in old.stderr
    assert "Traceback" not in missing.stderr + old.stderr


def test_serve_stops_its_endpoint(wp_project: Path, served: Served, endpoint: str) -> None:
    served.stop()
    assert not (wp_project / ".wplambda" / "local" / "run" / "invoke.json").exists()
    with pytest.raises(OSError):
        import urllib.request
        urllib.request.urlopen(f"{endpoint}/2015-03-31/functions/ConsoleFunction/invocations", data=b"{}",
                               timeout=5)
