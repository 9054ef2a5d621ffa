"""When a warm instance reads its secrets again (wp_lambda/runtime/rotation.py), with a fake clock:
after the TTL, or after a refused connection at most once per interval; and which refusal
header counts; and what the runtime does with a re-read. The flow against php-fpm, MariaDB and moto is in
tests/integration/runtime/test_runtime_db_rotation.py."""

from __future__ import annotations

import logging

import pytest

from tests.support.helpers import Clock
from wp_lambda.runtime import contract, rotation, secrets
from wp_lambda.runtime.events import Response
from wp_lambda.runtime.handler import Runtime


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def schedule(clock: Clock) -> rotation.Schedule:
    due = rotation.Schedule(ttl=900, interval=15, clock=clock)
    due.loaded()  # the cold start's read
    return due


def test_the_secrets_are_read_again_once_the_ttl_has_passed(schedule: rotation.Schedule, clock: Clock) -> None:
    clock.now += 899
    assert not schedule.due(refused=False)
    clock.now += 1
    assert schedule.due(refused=False)
    assert not schedule.due(refused=False)  # the read just now restarts the TTL
    clock.now += 900
    assert schedule.due(refused=False)


def test_a_refusal_reads_at_once_but_at_most_once_per_interval(schedule: rotation.Schedule, clock: Clock) -> None:
    assert schedule.due(refused=True)
    for _ in range(100):  # a password that stays wrong: every request is refused
        clock.now += 0.1
        assert not schedule.due(refused=True)
    clock.now += 5
    assert schedule.due(refused=True)


def test_a_ttl_read_counts_against_the_refusal_interval(schedule: rotation.Schedule, clock: Clock) -> None:
    clock.now += 900
    assert schedule.due(refused=False)
    clock.now += 1
    assert not schedule.due(refused=True)


def test_age_counts_only_from_the_first_load(clock: Clock) -> None:
    schedule = rotation.Schedule(ttl=900, interval=15, clock=clock)
    clock.now += 10_000
    assert not schedule.due(refused=False)  # the cold start loads; this is no re-read
    schedule.loaded()
    clock.now += 900
    assert schedule.due(refused=False)


def test_only_this_requests_token_counts_and_every_copy_is_stripped() -> None:
    token = rotation.new_token()
    assert len(token) == 32 and token != rotation.new_token()
    name = contract.DB_DENIED_HEADER
    forged = Response(500, [(name, "0" * 32), (name.lower(), token[:-1]), ("Content-Type", "text/html")])
    assert not rotation.take_signal(forged, token)
    assert forged.headers == [("Content-Type", "text/html")]
    real = Response(500, [(name.upper(), token), (name, "other")])
    assert rotation.take_signal(real, token)
    assert real.headers == []
    assert not rotation.take_signal(Response(200, []), token)


class FakeFpm:
    """The php-fpm the runtime would restart: running or not, and how often it was restarted."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.restarts = 0

    def restart(self) -> None:
        self.restarts += 1


def _runtime(monkeypatch: pytest.MonkeyPatch, clock: Clock, reads: list[dict[str, str]],
             fpm_pid: int | None = 4242) -> tuple[Runtime, FakeFpm]:
    """A runtime whose cold start loaded the first of ``reads`` and whose re-reads return the next."""
    def load(spec: str, client: object = None, timeout: float | None = None) -> dict[str, str]:
        if not reads:
            raise secrets.SecretsError("WPLAMBDA_SECRETS: cannot read arn:db: throttled")
        return dict(reads.pop(0))
    monkeypatch.setattr(secrets, "load", load)
    rt = Runtime({contract.SECRETS_ENV: "WORDPRESS_DB_=arn:db,WPLAMBDA_ORIGIN_SECRET=arn:origin",
                  contract.DOCUMENT_ROOT_ENV: "/"})
    rt.secrets_schedule = rotation.Schedule(ttl=900, interval=15, clock=clock)
    fpm = FakeFpm(fpm_pid)
    rt.fpm = fpm  # type: ignore[assignment]
    rt.load_secrets()
    return rt, fpm


OLD = {"WORDPRESS_DB_PASSWORD": "old", contract.ORIGIN_SECRET_ENV: "edge-1"}


def test_a_refusal_with_a_changed_password_restarts_php_fpm(monkeypatch: pytest.MonkeyPatch, clock: Clock,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    rt, fpm = _runtime(monkeypatch, clock, [OLD, OLD | {"WORDPRESS_DB_PASSWORD": "rotated-pw-7d"}])
    with caplog.at_level(logging.INFO, logger="wplambda"):
        assert rt.refresh_secrets(refused=True) is True
    assert fpm.restarts == 1 and rt.environ["WORDPRESS_DB_PASSWORD"] == "rotated-pw-7d"
    assert "WORDPRESS_DB_PASSWORD changed" in caplog.text and "rotated-pw-7d" not in caplog.text
    assert rt.refresh_secrets(refused=True) is False and fpm.restarts == 1  # throttled: no second read


def test_only_values_php_sees_restart_it(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    # The origin secret is the runtime's alone (RUNTIME_ONLY_ENV): a new value needs no new php-fpm.
    rt, fpm = _runtime(monkeypatch, clock, [OLD, OLD | {contract.ORIGIN_SECRET_ENV: "edge-2"}])
    assert rt.refresh_secrets(refused=True) is False
    assert fpm.restarts == 0 and rt.environ[contract.ORIGIN_SECRET_ENV] == "edge-2"


def test_the_ttl_reads_before_a_request_and_a_failed_read_changes_nothing(
        monkeypatch: pytest.MonkeyPatch, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    rt, fpm = _runtime(monkeypatch, clock, [OLD, OLD | {"WORDPRESS_DB_PASSWORD": "new"}])
    clock.now += 899
    rt.load_secrets()  # every path to PHP calls it: not due yet
    assert rt.environ["WORDPRESS_DB_PASSWORD"] == "old"
    clock.now += 1
    rt.load_secrets()
    assert rt.environ["WORDPRESS_DB_PASSWORD"] == "new" and fpm.restarts == 1
    clock.now += 900
    rt.load_secrets()  # Secrets Manager fails: logged, the values stay, php-fpm stays
    assert "re-reading the secrets failed" in caplog.text
    assert rt.environ["WORDPRESS_DB_PASSWORD"] == "new" and fpm.restarts == 1


def test_without_php_fpm_the_new_values_wait_for_the_next_command(monkeypatch: pytest.MonkeyPatch,
                                                                  clock: Clock) -> None:
    # The console function runs no php-fpm; its next php or wp command reads the environment.
    rt, fpm = _runtime(monkeypatch, clock, [OLD, OLD | {"WORDPRESS_DB_PASSWORD": "new"}], fpm_pid=None)
    assert rt.refresh_secrets(refused=True) is False
    assert fpm.restarts == 0 and rt.environ["WORDPRESS_DB_PASSWORD"] == "new"


def test_no_secrets_nothing_to_read(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    rt = Runtime({contract.DOCUMENT_ROOT_ENV: "/"})  # serve's private MariaDB: values set directly
    assert rt.refresh_secrets(refused=True) is False


def test_a_re_read_on_a_request_has_a_short_timeout(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    """A re-read runs on a visitor's request: an unreachable Secrets Manager (a NAT down) must cost
    it seconds, not boto3's 60 s per attempt with retries up to the function's timeout."""
    rt, _ = _runtime(monkeypatch, clock, [OLD])
    timeouts: list[float | None] = []

    def load(spec: str, client: object = None, timeout: float | None = None) -> dict[str, str]:
        timeouts.append(timeout)
        raise secrets.SecretsError("WPLAMBDA_SECRETS: cannot read arn:db: connect timeout")
    monkeypatch.setattr(secrets, "load", load)
    assert rt.refresh_secrets(refused=True) is False
    assert timeouts == [contract.SECRETS_REREAD_TIMEOUT] and 0 < contract.SECRETS_REREAD_TIMEOUT <= 3
