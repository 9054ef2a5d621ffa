"""The origin secret's rate-limited re-read (wp_lambda/runtime/origin.py), with a fake clock and a
fake Secrets Manager client that counts its reads: a rotation is picked up by a warm instance, and
no stream of wrong guesses turns into more than one read a minute. The handler-level flow against
moto's Secrets Manager is in tests/integration/deploy/test_deploy_rotation.py."""

from __future__ import annotations

import hmac
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.helpers import Clock
from tests.support.lambda_events import v2
from wp_lambda.runtime import contract, origin
from wp_lambda.runtime.events import HttpApiV2
from wp_lambda.runtime.handler import Runtime

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:blog-origin-AbCdEf"


class FakeSecretsManager:
    """get_secret_value by label; ``reads`` counts the calls."""

    def __init__(self, current: str, previous: str | None = None) -> None:
        self.stages: dict[str, str] = {origin.CURRENT: current}
        if previous is not None:
            self.stages[origin.PREVIOUS] = previous
        self.reads = 0
        self.fail = False

    def rotate(self, new: str) -> None:
        self.stages[origin.PREVIOUS] = self.stages[origin.CURRENT]
        self.stages[origin.CURRENT] = new

    def get_secret_value(self, SecretId: str, VersionStage: str) -> dict[str, Any]:
        assert SecretId == ARN
        self.reads += 1
        if self.fail:
            raise RuntimeError("throttled")
        if VersionStage not in self.stages:
            # What botocore raises for a label no version has (a secret never rotated).
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": VersionStage}},
                              "GetSecretValue")
        return {"SecretString": self.stages[VersionStage]}


@pytest.fixture
def parts() -> tuple[FakeSecretsManager, Clock, origin.Rereader]:
    sm, clock = FakeSecretsManager("old-value"), Clock()
    environ = {contract.SECRETS_ENV: f"{contract.SALT_ENV}=arn:salt,{contract.ORIGIN_SECRET_ENV}={ARN}"}
    return sm, clock, origin.Rereader.from_env(environ, client=lambda: sm, clock=clock)


def test_the_arn_comes_from_wplambda_secrets(parts: tuple[FakeSecretsManager, Clock, origin.Rereader]) -> None:
    assert parts[2].arn == ARN
    assert origin.Rereader.from_env({}).arn is None
    assert origin.Rereader.from_env({contract.SECRETS_ENV: "broken"}).arn is None
    # Nothing to read under serve (no ARN): refresh never reads and says so.
    assert origin.Rereader.from_env({}).refresh({}) is False


def test_reads_at_most_once_per_interval(parts: tuple[FakeSecretsManager, Clock, origin.Rereader]) -> None:
    sm, clock, reader = parts
    environ = {contract.ORIGIN_SECRET_ENV: "old-value"}
    assert reader.refresh(environ) is True
    assert sm.reads == 2  # AWSCURRENT, and AWSPREVIOUS (absent: never rotated)
    assert contract.ORIGIN_SECRET_PREVIOUS_ENV not in environ
    for _ in range(1000):  # a stream of wrong guesses
        clock.now += 0.05
        assert reader.refresh(environ) is False
    assert sm.reads == 2 and clock.now - 1000.0 < contract.ORIGIN_SECRET_REREAD_SECONDS
    clock.now = 1000.0 + contract.ORIGIN_SECRET_REREAD_SECONDS
    assert reader.refresh(environ) is True and sm.reads == 4


def test_a_rotation_gives_both_values(parts: tuple[FakeSecretsManager, Clock, origin.Rereader]) -> None:
    sm, _clock, reader = parts
    environ = {contract.ORIGIN_SECRET_ENV: "old-value"}
    sm.rotate("new-value")
    assert reader.refresh(environ) is True
    assert environ[contract.ORIGIN_SECRET_ENV] == "new-value"
    assert environ[contract.ORIGIN_SECRET_PREVIOUS_ENV] == "old-value"


def test_a_failed_read_keeps_the_values_and_still_counts(parts: tuple[FakeSecretsManager, Clock, origin.Rereader],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    sm, clock, reader = parts
    environ = {contract.ORIGIN_SECRET_ENV: "old-value"}
    sm.fail = True
    assert reader.refresh(environ) is False
    assert environ == {contract.ORIGIN_SECRET_ENV: "old-value"}
    assert "re-reading the origin secret failed" in caplog.text and "old-value" not in caplog.text
    clock.now += 1
    assert reader.refresh(environ) is False and sm.reads == 1  # an outage is not retried per request


def _runtime(sm: FakeSecretsManager, clock: Clock, loaded: str) -> Runtime:
    """A handler whose cold start loaded ``loaded`` (as secrets.apply would), reading ``sm`` after."""
    rt = Runtime({contract.SECRETS_ENV: f"{contract.ORIGIN_SECRET_ENV}={ARN}", "WPLAMBDA_DOCUMENT_ROOT": "/"})
    rt.environ[contract.ORIGIN_SECRET_ENV] = loaded
    rt._secrets_loaded = True  # the cold start's load, done above with a known value
    rt.origin_secret = origin.Rereader(ARN, client=lambda: sm, clock=clock)
    return rt


def _refused(rt: Runtime, value: str | None) -> bool:
    headers = {"Host": "blog.example.com"} | ({} if value is None else {contract.ORIGIN_SECRET_HEADER: value})
    return rt.refuse_bypass(HttpApiV2().to_request(v2("GET", "/", "", headers))) is not None


def test_a_request_without_the_header_never_reads_the_secret() -> None:
    """CloudFront always sends the header: a request without one is nobody's rotation, and the
    bypass traffic an attacker can send at will must not cost Secrets Manager calls."""
    sm, clock = FakeSecretsManager("old-value"), Clock()
    rt = _runtime(sm, clock, "old-value")
    sm.rotate("new-value")
    clock.now += contract.ORIGIN_SECRET_REREAD_SECONDS
    assert _refused(rt, None) and sm.reads == 0
    assert not _refused(rt, "new-value") and sm.reads == 2  # a header that may be CloudFront's still does


def test_a_warm_instance_follows_a_rotation_and_guesses_stay_cheap() -> None:
    sm, clock = FakeSecretsManager("old-value"), Clock()
    rt = _runtime(sm, clock, "old-value")
    assert not _refused(rt, "old-value") and sm.reads == 0  # a match never reads
    sm.rotate("new-value")
    clock.now += contract.ORIGIN_SECRET_REREAD_SECONDS  # the deploy's wait before CloudFront switches
    assert not _refused(rt, "new-value") and sm.reads == 2  # CloudFront's new value: one re-read
    assert not _refused(rt, "old-value")  # edges not switched yet
    for guess in ("guess", "new-valu", "old-value ", ""):
        assert _refused(rt, guess)
    assert sm.reads == 2  # wrong guesses within the minute: no read at all
    assert contract.ORIGIN_SECRET_PREVIOUS_ENV not in contract.php_environment(rt.environ)


def test_compare_digest_is_the_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every accepted value is compared with hmac.compare_digest, whichever matches."""
    compared: list[bytes] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append(b)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    sm, clock = FakeSecretsManager("new-value", previous="old-value"), Clock()
    rt = _runtime(sm, clock, "new-value")
    rt.environ[contract.ORIGIN_SECRET_PREVIOUS_ENV] = "old-value"
    assert not _refused(rt, "new-value")
    assert compared == [b"new-value", b"old-value"]


def test_the_default_client_is_bounded_like_the_database_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The re-read runs on a visitor's request: its client gets the short timeout, not boto3's 60 s."""
    made: list[float | None] = []
    monkeypatch.setattr(origin.secrets, "make_client", lambda timeout=None: made.append(timeout))
    origin.Rereader(ARN).refresh({})
    assert made == [contract.SECRETS_REREAD_TIMEOUT]
