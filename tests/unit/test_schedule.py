"""wp_lambda.config.schedule: the gaps between wp-cron runs, read exactly from rate() and from
daily cron() expressions, and None (the caller's worst case) for everything else."""

from __future__ import annotations

import pytest

from wp_lambda.config import schedule


@pytest.mark.parametrize(("expression", "seconds"), [
    ("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 hour)", 3600), ("rate(12 hours)", 43200),
    ("rate(1 day)", 86400), ("rate(3 days)", 259200), ("cron(0 * * * ? *)", None), ("every 5", None),
])
def test_rate_seconds(expression: str, seconds: int | None) -> None:
    assert schedule.rate_seconds(expression) == seconds


@pytest.mark.parametrize(("expression", "runs", "longest"), [
    ("rate(5 minutes)", 288, 300),
    ("rate(7 minutes)", 86400 / 420, 420),  # does not divide a day: still exact per run
    ("cron(0/10 * * * ? *)", 144, 600),
    ("cron(*/15 * * * ? *)", 96, 900),
    ("cron(1/20 * * * ? *)", 72, 1200),  # minutes 1, 21, 41
    ("cron(0 3 * * ? *)", 1, 86400),
    ("cron(0 */6 * * ? *)", 4, 21600),
    ("cron(0,30 8-17 * * ? *)", 20, 14 * 3600 + 30 * 60),  # the night from 17:30 to 08:00
    ("cron(5 1,13 * * ? *)", 2, 43200),
])
def test_readable_schedules(expression: str, runs: float, longest: int) -> None:
    assert schedule.runs_per_day(expression) == pytest.approx(runs)
    assert schedule.longest_gap(expression) == longest


@pytest.mark.parametrize("expression", [
    "cron(0 10 ? * MON-FRI *)",  # not every day
    "cron(0 10 1 * ? *)",  # monthly
    "cron(0 10 * JAN ? *)",
    "cron(0 10 * * ? 2027)",
    "cron(0 10 L * ? *)",
    "cron(0 25 * * ? *)",  # no such hour
    "cron(0 10 * * ?)",  # five fields
    "cron(0/0 * * * ? *)",
])
def test_other_schedules_are_not_guessed(expression: str) -> None:
    assert schedule.gaps(expression) is None
    assert schedule.runs_per_day(expression) is None and schedule.longest_gap(expression) is None
    assert schedule.awake_share(expression, 900) is None


@pytest.mark.parametrize(("expression", "idle", "share"), [
    ("rate(1 hour)", 900, 0.25),
    ("rate(5 minutes)", 900, 1.0),
    ("rate(15 minutes)", 900, 1.0),  # the next run comes just as it would pause
    ("rate(1 day)", 900, 900 / 86400),
    ("cron(0,30 8-17 * * ? *)", 900, 20 * 900 / 86400),
    ("cron(0,10 * * * ? *)", 900, (600 + 900) / 3600),  # gaps of 10 and 50 minutes
])
def test_awake_share(expression: str, idle: int, share: float) -> None:
    assert schedule.awake_share(expression, idle) == pytest.approx(share)
