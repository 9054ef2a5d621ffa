"""How often ``cron.schedule`` runs wp-cron, as far as the kit needs to know it.

Two things depend on it: whether an Aurora database with ``min_acu = 0`` can ever pause (each run
connects to the database, and Aurora pauses only after ``auto_pause_seconds`` without a
connection), and how many hours a day the database is awake, which ``wplambda cost`` prices. Both
read the gaps between runs. A ``rate(...)`` expression is read exactly. A ``cron(...)`` expression
is read only when it runs every day at fixed minutes and hours (numbers, lists, ranges and steps in
its first two fields; ``*`` or ``?`` in the day, month and weekday fields, ``*`` for the year);
anything else answers None, and callers then assume the worst (a database that never pauses).
Expression syntax: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html
"""

from __future__ import annotations

import re

DAY = 86_400
_RATE_BODY = r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)"
_CRON_BODY = r"cron\((.+)\)"
RATE = re.compile(f"^{_RATE_BODY}$")
_CRON = re.compile(f"^{_CRON_BODY}$")
# What cron.schedule accepts at all (the config schema's pattern): one of the two forms above.
EXPRESSION = f"^({_RATE_BODY}|{_CRON_BODY})$"
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": DAY}
_EVERY = {"*", "?"}


def rate_seconds(expression: str) -> int | None:
    """The interval of a ``rate(...)`` expression in seconds; None for anything else."""
    match = RATE.match(expression)
    if match is None:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


def _field(text: str, low: int, high: int) -> list[int] | None:
    """The values of one minutes or hours field (``*``, ``N``, ``N-M``, ``*/S``, ``N/S``, ``N-M/S``
    and comma lists of them), or None for what this reader does not take."""
    values: set[int] = set()
    for item in text.split(","):
        match = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?", item)
        if match is None:
            return None
        whole, first, last, step = match.groups()
        start = low if whole == "*" else int(first)
        stop = int(last) if last is not None else (high if whole == "*" or step is not None else start)
        stride = int(step) if step is not None else 1
        if not low <= start <= stop <= high or stride < 1:
            return None
        values.update(range(start, stop + 1, stride))
    return sorted(values)


def gaps(expression: str) -> list[int] | None:
    """The seconds between consecutive runs over one period of the schedule (their sum is the
    period), or None when the expression is not one this module can read."""
    interval = rate_seconds(expression)
    if interval is not None:
        return [interval]
    match = _CRON.match(expression)
    fields = match.group(1).split() if match else []
    if len(fields) != 6:
        return None
    minutes_field, hours_field, day, month, weekday, year = fields
    if day not in _EVERY or month != "*" or weekday not in _EVERY or year != "*":
        return None
    minutes, hours = _field(minutes_field, 0, 59), _field(hours_field, 0, 23)
    if not minutes or not hours:
        return None
    runs = [hour * 3600 + minute * 60 for hour in hours for minute in minutes]
    return [later - earlier for earlier, later in zip(runs, [*runs[1:], runs[0] + DAY], strict=True)]


def runs_per_day(expression: str) -> float | None:
    """wp-cron runs a day, or None when the expression is not one this module can read."""
    between = gaps(expression)
    return None if between is None else len(between) * DAY / sum(between)


def awake_share(expression: str, idle_seconds: int) -> float | None:
    """The share of the time a database that pauses after ``idle_seconds`` without a connection is
    kept awake by the runs alone: each run keeps it up until the next run or ``idle_seconds`` after
    it, whichever comes first (the run's own second or so is left out). None: unreadable."""
    between = gaps(expression)
    if between is None:
        return None
    return sum(min(gap, idle_seconds) for gap in between) / sum(between)


def longest_gap(expression: str) -> int | None:
    """The longest time in seconds without a run, or None when unreadable."""
    between = gaps(expression)
    return None if between is None else max(between)
