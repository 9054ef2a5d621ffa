"""When a warm instance reads its secrets again (wp_lambda/runtime/rotation.py), with a fake clock:
after the TTL, or after a refused connection at most once per interval; and which refusal
header counts. The flow against php-fpm, MariaDB and moto is in
tests/integration/runtime/test_runtime_db_rotation.py."""

from __future__ import annotations

import pytest

from wp_lambda.runtime import contract, rotation
from wp_lambda.runtime.events import Response


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


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


def test_a_never_loaded_instance_is_due(clock: Clock) -> None:
    assert rotation.Schedule(clock=clock).due(refused=False)


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
