"""The invoke endpoint's credential check against requests botocore itself signs (its SigV4Auth,
what boto3 uses for Lambda's Invoke): the check must accept exactly those and nothing altered."""

from __future__ import annotations

import datetime
from email.message import Message

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from wp_lambda.local.invoke_endpoint import InvokeCredentials

HOST = "127.0.0.1:3001"
TARGET = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Asite-ConsoleFunction-X/invocations"


def signed(credentials: InvokeCredentials, target: str, body: bytes) -> Message:
    """The headers botocore sends for ``target`` with ``body``, signed with ``credentials``."""
    request = AWSRequest(method="POST", url=f"http://{HOST}{target}", data=body)
    SigV4Auth(Credentials(credentials.access_key_id, credentials.secret_access_key), "lambda",
              "eu-west-1").add_auth(request)
    headers = Message()
    headers["Host"] = HOST
    for name, value in request.headers.items():
        headers[name] = value.decode() if isinstance(value, bytes) else value
    return headers


@pytest.mark.parametrize("target", [TARGET, "/2015-03-31/functions/ConsoleFunction/invocations?Qualifier=%24LATEST"])
def test_botocore_signatures_are_accepted(target: str) -> None:
    own = InvokeCredentials.generate()
    assert own.allows("POST", target, signed(own, target, b'{"a": 1}'), b'{"a": 1}')


def test_anything_else_is_refused() -> None:
    own = InvokeCredentials.generate()
    headers = signed(own, TARGET, b"{}")
    assert not own.allows("POST", TARGET, headers, b'{"wplambda": "php"}')  # another body
    assert not own.allows("POST", TARGET.replace("Console", "WordPress"), headers, b"{}")  # another function
    assert not own.allows("PUT", TARGET, headers, b"{}")
    other_secret = InvokeCredentials(own.access_key_id, "guess")
    assert not own.allows("POST", TARGET, signed(other_secret, TARGET, b"{}"), b"{}")
    other_key = InvokeCredentials("AKIAOTHER", own.secret_access_key)
    assert not own.allows("POST", TARGET, signed(other_key, TARGET, b"{}"), b"{}")
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=6)
    assert not own.allows("POST", TARGET, headers, b"{}", now=later)  # a replay, 6 minutes on
    assert not own.allows("POST", TARGET, Message(), b"{}")  # no Authorization at all


def test_bearer_secret() -> None:
    own = InvokeCredentials.generate()
    headers = Message()
    headers["Authorization"] = own.bearer()
    assert own.allows("POST", TARGET, headers, b"{}")
    headers.replace_header("Authorization", f"Bearer {own.secret_access_key[:-1]}")
    assert not own.allows("POST", TARGET, headers, b"{}")
    assert own.secret_access_key not in repr(own) and own.access_key_id in repr(own)
