"""function.reserved_concurrency: derived from what Aurora holds, refused where it cannot work.

The expected numbers are AWS's published Aurora MySQL max_connections per Aurora Serverless v2
maximum ACU (aurora-serverless-v2.setting-capacity.html, "Maximum connections"), written out here
rather than read from the kit's table, less the console's 2 and the margin of 5.
"""

from __future__ import annotations

import pytest

from wp_lambda.config import ConfigError, parse
from wp_lambda.config.concurrency import account_warning, reservation

SITE = '[site]\nname = "blog"\n'
EXTERNAL = ('[database]\nmode = "external"\nhost = "db.example.com"\nuser = "wp"\n'
            'secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"\n'
            '[network]\nmode = "public"\n')


@pytest.mark.parametrize(("max_acu", "instances"), [
    (1, 90 - 7), (2, 90 - 7), (3.5, 90 - 7), (4, 135 - 7), (8, 1000 - 7), (16, 2000 - 7), (100, 4000 - 7),
    (256, 5000 - 7)])
def test_auto_is_aurora_max_connections_less_console_and_margin(max_acu: float, instances: int) -> None:
    """Between two of AWS's rows the lower one is taken: max_connections only grows with capacity."""
    result = reservation(parse(SITE + f"[database]\nmax_acu = {max_acu}\n"))
    assert (result.instances, result.database_connections) == (instances, instances)
    assert f"database.max_acu = {max_acu:g}" in result.explanation


def test_external_database_is_uncapped_unless_set() -> None:
    auto = reservation(parse(SITE + EXTERNAL))
    assert auto.instances is None and "external database" in auto.explanation
    set_ = reservation(parse(SITE + EXTERNAL + '[function]\nreserved_concurrency = 40\n'))
    assert set_.instances == 40


def test_off_leaves_the_function_uncapped_and_says_what_that_risks() -> None:
    result = reservation(parse(SITE + '[function]\nreserved_concurrency = "off"\n'))
    assert result.instances is None and result.database_connections == 83
    assert "more database connections than the database holds" in result.explanation


@pytest.mark.parametrize(("toml", "line", "message"), [
    ('[function]\nreserved_concurrency = 84\n', 4, "84 instances could open 84 database connections, but 83 are "
     "there for the site (Aurora holds 90 connections at database.max_acu = 2"),
    ('[function]\nreserved_concurrency = 0\n', 4, "0 would throttle every request"),
    ('[function]\nreserved_concurrency = -3\n', 4, "-3 would throttle every request"),
    ('[function]\nreserved_concurrency = 12.0\n', 4, "12.0 is not a reserved concurrency"),
    ('[function]\nreserved_concurrency = "none"\n', 4, "'none' is not a reserved concurrency"),
    ('[function]\nreserved_concurrency = 10\nprovisioned_concurrency = 11\n', 5,
     "function.provisioned_concurrency: 11 is above the function's reserved concurrency (10)"),
])
def test_bad_values_are_refused_with_key_line_and_fix(toml: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(SITE + toml)
    text = str(info.value)
    assert f"wplambda.toml:{line}: " in text and message in text


def test_the_cap_follows_max_acu_and_a_set_value_at_the_limit_passes() -> None:
    assert reservation(parse(SITE + '[function]\nreserved_concurrency = 83\n')).instances == 83
    assert reservation(parse(SITE + '[function]\nreserved_concurrency = 128\n[database]\nmax_acu = 4\n')
                       ).instances == 128


def test_a_reservation_past_the_default_account_quota_is_warned_about() -> None:
    """Lambda's default 1,000 concurrent executions less the 100 it keeps unreserved leave 900: the
    default 83 is quiet, 8 ACU's 993 is worth a warning before the preflight reads the account."""
    assert account_warning(parse(SITE)) is None
    warning = account_warning(parse(SITE + "[database]\nmax_acu = 8\n"))
    assert warning is not None and "needs a Lambda concurrency quota of at least 1093 in us-east-1" in warning
    assert "set function.reserved_concurrency to 900 or less" in warning
