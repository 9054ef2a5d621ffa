"""`deploy --rotate-origin-secret` and `logs --access` against moto's server.

moto's CloudFormation implements neither AWS::SecretsManager::Secret nor the HTTP API, so the stack
here is a hand-made template of the parts these two features touch (the real template's parameter,
output and log group; checked by tests/integration/template): the OriginSecretVersion parameter,
the OriginSecretArn output (naming a secret this module creates in moto's Secrets Manager, which
moto does implement), and the LogGroup. The rotation runs through the one deploy path
(deploy_in_process, as in test_deploy_moto.py); the runtime's handler then reads the secret from
moto in-process. moto delivers no API Gateway access logs: the access-log-shaped events are put
into the log group by the test, as API Gateway would write them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from secrets import token_hex

import boto3
import pytest

from tests.integration.deploy.conftest import deploy_in_process, lay_out_build, make_project
from tests.support.helpers import run_wplambda
from tests.support.lambda_events import v2
from wp_lambda import render
from wp_lambda.runtime import contract
from wp_lambda.runtime.events import HttpApiV2
from wp_lambda.runtime.handler import Runtime

STACK = "rotblog"
TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Description: the parts of the kit's stack that the rotation and the access log use, as moto implements them
Parameters:
  OriginSecretVersion:
    Type: String
    Default: ""
Resources:
  LogGroup:
    Type: AWS::Logs::LogGroup
    Properties:
      RetentionInDays: 14
Outputs:
  OriginSecretArn:
    Value: "{arn}"
  SentVersion:
    Value: !Ref OriginSecretVersion
"""


@pytest.fixture(scope="module")
def site(aws_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A deployed stack whose origin secret (in moto) was generated at create time."""
    arn = boto3.client("secretsmanager").create_secret(Name=f"{STACK}-origin", SecretString=token_hex(24))["ARN"]
    project = make_project(tmp_path_factory.mktemp("rotation"), name=STACK)
    (project / "template.yaml").write_text(TEMPLATE.format(arn=arn))
    lay_out_build(project)
    deploy_in_process(project, STACK)
    return project, arn


def _stages(arn: str) -> dict[str, str]:
    """Label -> version id."""
    found = boto3.client("secretsmanager").describe_secret(SecretId=arn)["VersionIdsToStages"]
    return {label: version for version, labels in found.items() for label in labels}


def _value(arn: str, stage: str) -> str:
    return str(boto3.client("secretsmanager").get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"])


def _sent_version() -> str:
    stack = boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    return next(p["ParameterValue"] for p in stack["Parameters"] if p["ParameterKey"] == "OriginSecretVersion")


def _runtime(arn: str) -> Runtime:
    """The handler as deployed: WPLAMBDA_SECRETS names the secret, read from moto at the cold start."""
    rt = Runtime({contract.SECRETS_ENV: f"{contract.ORIGIN_SECRET_ENV}={arn}", "WPLAMBDA_DOCUMENT_ROOT": "/"})
    rt.load_secrets()
    return rt


def _accepted(rt: Runtime, value: str) -> bool:
    request = HttpApiV2().to_request(v2("GET", "/", "", {"Host": "x.execute-api.us-east-1.amazonaws.com",
                                                           contract.ORIGIN_SECRET_HEADER: value}))
    return rt.refuse_bypass(request) is None


def test_a_dry_run_shows_the_rotation_and_changes_nothing(site: tuple[Path, str]) -> None:
    project, arn = site
    before = _stages(arn)
    outcome, said = deploy_in_process(project, STACK, dry_run=True, rotate_origin_secret=True)
    assert outcome.plan is not None and outcome.plan.rotation is not None and outcome.plan.rotation.store
    assert any(line.startswith("plan: rotate origin secret: store a new random value") for line in said)
    assert not outcome.origin_secret_rotated
    assert _stages(arn) == before and _sent_version() == ""


def test_rotation_switches_cloudfront_and_the_function_accepts_both(site: tuple[Path, str]) -> None:
    project, arn = site
    old = _value(arn, "AWSCURRENT")
    warm = _runtime(arn)  # started before the rotation: holds only the old value
    waits: list[float] = []
    outcome, said = deploy_in_process(project, STACK, rotate_origin_secret=True, sleep=waits.append)
    new = _value(arn, "AWSCURRENT")
    stages = _stages(arn)
    assert outcome.origin_secret_rotated and new != old and _value(arn, "AWSPREVIOUS") == old
    assert outcome.plan is not None and outcome.plan.rotation is not None
    assert stages["AWSCURRENT"] == outcome.plan.rotation.version == _sent_version()  # the template parameter
    assert waits == [contract.ORIGIN_SECRET_REREAD_SECONDS]  # stored, waited, then the stack update
    assert not any(old in line or new in line for line in said)

    fresh = _runtime(arn)  # started after it: loaded only the new value
    for rt in (warm, fresh):
        assert _accepted(rt, new) and _accepted(rt, old)
        for guess in ("", "guess", new[:-1], old + "x"):
            assert not _accepted(rt, guess)
        assert old not in json.dumps(contract.php_environment(rt.environ))
        assert new not in json.dumps(contract.php_environment(rt.environ))


def test_a_rotation_whose_stack_update_never_happened_is_finished_not_repeated(site: tuple[Path, str]) -> None:
    """As if the last rotation stored its value and then the stack update failed: CloudFront sends
    the AWSPREVIOUS value, so another new value would leave it unlabelled (a 403 for everyone)."""
    project, arn = site
    sm = boto3.client("secretsmanager")
    sent = _sent_version()
    stored = sm.put_secret_value(SecretId=arn, SecretString=token_hex(24))["VersionId"]
    assert _stages(arn)["AWSPREVIOUS"] == sent
    outcome, said = deploy_in_process(project, STACK, rotate_origin_secret=True, sleep=lambda _s: None)
    assert outcome.plan is not None and outcome.plan.rotation is not None
    assert not outcome.plan.rotation.store and outcome.plan.rotation.version == stored
    assert any("finishing that rotation" in line for line in said)
    stages = _stages(arn)
    assert stages["AWSCURRENT"] == stored == _sent_version() and stages["AWSPREVIOUS"] == sent


def test_logs_access_shows_only_access_lines(site: tuple[Path, str]) -> None:
    project, _arn = site
    logs = boto3.client("logs")
    group = boto3.client("cloudformation").describe_stack_resource(
        StackName=STACK, LogicalResourceId="LogGroup")["StackResourceDetail"]["PhysicalResourceId"]
    fields = {key: "-" for key in render.ACCESS_LOG_FIELDS}
    fields.update({"log": render.ACCESS_LOG_MARKER, "requestId": "abc=", "ip": "130.176.0.1", "method": "POST",
                   "path": "/wp-login.php", "status": "200", "bytes": "4512", "latencyMs": "87",
                   "userAgent": "curl/8.5\x1b[31m"})
    now = int(time.time() * 1000)
    logs.create_log_stream(logGroupName=group, logStreamName="access")
    logs.put_log_events(logGroupName=group, logStreamName="access", logEvents=[
        {"timestamp": now - 3000, "message": "START RequestId: 1"},
        # The function's own line quoting the marker (a visitor's path can): not an access line.
        {"timestamp": now - 2000, "message": f"WARNING wplambda: 403 GET '/{render.ACCESS_LOG_MARKER}' from x"},
        {"timestamp": now - 1000, "message": json.dumps(fields)},
        {"timestamp": now - 500, "message": json.dumps({"log": "other", "path": "/nope"})}])

    text = run_wplambda("logs", "--stack", STACK, "--access", "--since", "5m", cwd=project)
    assert text.returncode == 0, text.stderr
    (line,) = text.stdout.splitlines()
    assert line.endswith('200 POST /wp-login.php 4512 B 87 ms 130.176.0.1 "curl/8.5\\x1b[31m"')
    assert "\x1b" not in text.stdout  # the visitor's control characters never reach the terminal

    as_json = run_wplambda("logs", "--stack", STACK, "--access", "--json", "--since", "5m", cwd=project)
    assert as_json.returncode == 0, as_json.stderr
    assert [json.loads(x) for x in as_json.stdout.splitlines()] == [fields]

    # Without --access, the function's own lines from the same group, and no access line.
    plain = run_wplambda("logs", "--stack", STACK, "--since", "5m", cwd=project)
    assert plain.returncode == 0, plain.stderr
    assert "START RequestId: 1" in plain.stdout and "wp-login.php" not in plain.stdout
    assert '"log": "other"' in plain.stdout  # JSON that is not the access log's is the function's own

    missing = run_wplambda("logs", "--stack", "no-such-stack", "--access", cwd=project)
    assert missing.returncode == 2 and "no-such-stack" in missing.stderr
