"""Failures of the AWS path that moto cannot produce (it enforces no IAM and never times a function
out), with botocore's Stubber standing in for the service: unit tests beside the real path in
test_wp_stack.py. Each must be one clear UserError (exit 2 at the CLI), never a traceback."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from wp_lambda.aws import Aws
from wp_lambda.common.errors import UserError
from wp_lambda.config import Config
from wp_lambda.remote import LambdaTarget, WpTimeout, stack_target


class StubbedSession:
    """A boto3 session whose clients are real botocore clients with a Stubber attached."""

    def __init__(self) -> None:
        self.session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                     region_name="us-east-1")
        self.stubs: dict[str, Stubber] = {}
        self.clients: dict[str, Any] = {}

    def client(self, service: str, **kwargs: Any) -> Any:
        if service not in self.clients:
            self.clients[service] = self.session.client(service, **kwargs)
            self.stubs[service] = Stubber(self.clients[service])
            self.stubs[service].activate()
        return self.clients[service]

    def stub(self, service: str) -> Stubber:
        self.client(service, region_name="us-east-1")
        return self.stubs[service]


def body(payload: Any) -> StreamingBody:
    data = json.dumps(payload).encode()
    return StreamingBody(io.BytesIO(data), len(data))


@pytest.fixture
def session() -> StubbedSession:
    return StubbedSession()


def target(session: StubbedSession) -> LambdaTarget:
    return LambdaTarget(Aws(session=session, region="us-east-1", profile=None),  # type: ignore[arg-type]
                        "blog-ConsoleFunction-X", "blog", 900)


def test_access_denied_on_invoke(session: StubbedSession) -> None:
    session.stub("lambda").add_client_error("invoke", "AccessDeniedException", "not allowed", 403)
    with pytest.raises(UserError) as caught:
        target(session).wp(["plugin", "list"])
    assert "access denied invoking blog-ConsoleFunction-X (stack blog)" in str(caught.value)
    assert "lambda:InvokeFunction" in str(caught.value)


def test_lambda_timing_the_function_out_is_a_timeout(session: StubbedSession) -> None:
    session.stub("lambda").add_response("invoke", {
        "StatusCode": 200, "FunctionError": "Unhandled",
        "Payload": body({"errorMessage": "2026-12-02T17:00:00Z abc Task timed out after 900.00 seconds",
                         "errorType": "Sandbox.Timedout"})})
    with pytest.raises(WpTimeout) as caught:
        target(session).wp(["search-replace", "a", "b"])
    assert "console.timeout" in str(caught.value)


def test_a_crash_names_the_function_and_the_logs(session: StubbedSession) -> None:
    session.stub("lambda").add_response("invoke", {
        "StatusCode": 200, "FunctionError": "Unhandled",
        "Payload": body({"errorMessage": "Runtime exited with error: signal: killed", "errorType": "Runtime.Exit"})})
    with pytest.raises(UserError) as caught:
        target(session).wp(["cli", "version"])
    assert "Runtime exited with error" in str(caught.value) and "wplambda logs" in str(caught.value)


def test_access_denied_reading_the_stack(session: StubbedSession) -> None:
    session.stub("cloudformation").add_client_error("describe_stacks", "AccessDenied", "no", 403)
    aws = Aws(session=session, region="us-east-1", profile=None)  # type: ignore[arg-type]
    with pytest.raises(UserError) as caught:
        stack_target(Config(), aws, "blog")
    assert "access denied reading stack 'blog'" in str(caught.value)


def test_a_botocore_without_the_socket_options_list_still_runs_commands(
        session: StubbedSession, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The keepalive timing goes through a private botocore list; a release where adding to it fails
    costs the idle time (a warning), never the command."""
    monkeypatch.setattr("wp_lambda.remote.keepalive_timing", lambda: None)  # extend(None): TypeError
    session.stub("lambda").add_response("invoke", {"StatusCode": 200, "Payload": body(
        {"exitCode": 0, "stdout": "WP-CLI 2.12.0\n", "stderr": ""})})
    with caplog.at_level("WARNING", logger="wplambda"):
        result = target(session).wp(["cli", "version"])
    assert result.exit_code == 0 and "TCP keepalive keeps the system's idle time" in caplog.text
