"""How many instances of the site's function may run at once: ``function.reserved_concurrency``.

Every instance of the site's function runs one php-fpm worker (``pm = static``,
``pm.max_children = 1`` in ``php-fpm.conf``), so it holds at most one database connection, and
only while a request runs: WordPress opens its connection per request and PHP closes it at the
end. Capping the instances therefore caps the connections, and a spike that would need more
instances than the database has connections is throttled at Lambda instead of failing inside
WordPress with "Error establishing a database connection" on every page.

``"auto"`` (the default) derives the cap from the database: Aurora Serverless v2 fixes
``max_connections`` from the cluster's *maximum* capacity, not its current one, and AWS publishes
the default per maximum ACU (Aurora MySQL column):
https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.setting-capacity.html#aurora-serverless-v2.max-connections
The table gives rows only at some capacities; for a ``max_acu`` between two rows the lower row is
taken. ``max_connections`` grows with memory, so that row is a floor: the cap may leave a few
connections unused, never promise more than exist.

From that, the console function's share is kept free: it has no cap of its own (capping it would
throttle an operator's ``wplambda wp`` while wp-cron runs), but it is invoked only by operators
and by the schedule, so one wp-cli command and one wp-cron run at a time are counted. A margin is
kept too, for Aurora's own sessions (``rdsadmin``), a person at a ``mysql`` prompt and a dump.

An external database has no capacity the kit knows, so ``"auto"`` leaves the function uncapped
there and ``init``/``validate`` say so; a number sets the cap for any database. ``"off"`` leaves
the function uncapped by choice: for an account whose concurrency quota cannot spare a
reservation (Lambda keeps 100 unreserved; :func:`wp_lambda.deploy.preflight.check_concurrency`).
"""

from __future__ import annotations

from dataclasses import dataclass

from wp_lambda.config.schema import Config, Problem

# Aurora MySQL's default max_connections by Aurora Serverless v2 maximum ACU (the page above).
AURORA_MYSQL_MAX_CONNECTIONS: tuple[tuple[float, int], ...] = (
    (1, 90), (4, 135), (8, 1000), (16, 2000), (32, 3000), (64, 4000), (128, 5000))
# The console function's connections: one wp-cli command and one wp-cron run at a time.
CONSOLE_CONNECTIONS = 2
# Aurora's own sessions (rdsadmin), a person at a mysql prompt, an export's dump.
ADMIN_CONNECTIONS = 5
# Lambda keeps this many concurrent executions unreserved in every account and region: "You can
# reserve up to the Unreserved account concurrency value minus 100":
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
UNRESERVED_MINIMUM = 100
# An account's concurrent executions in a region unless raised (new accounts may have less):
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
DEFAULT_ACCOUNT_CONCURRENCY = 1000


def aurora_max_connections(max_acu: float) -> int:
    """Aurora MySQL's ``max_connections`` at ``max_acu``: the table's row at or below it."""
    found = AURORA_MYSQL_MAX_CONNECTIONS[0][1]
    for acu, connections in AURORA_MYSQL_MAX_CONNECTIONS:
        if max_acu >= acu:
            found = connections
    return found


@dataclass(frozen=True)
class Reservation:
    """The site function's cap (None: uncapped), the database's connections it was weighed
    against (None: unknown), and one sentence that explains the number."""

    instances: int | None
    database_connections: int | None
    explanation: str


def database_connections(config: Config) -> int | None:
    """Connections the site's function may use: the database's less the console's and the margin;
    None when the kit cannot know them (an external database)."""
    if config.database.mode != "aurora-serverless-v2":
        return None
    return aurora_max_connections(config.database.max_acu) - CONSOLE_CONNECTIONS - ADMIN_CONNECTIONS


def _derivation(config: Config) -> str:
    acu = config.database.max_acu
    return (f"Aurora holds {aurora_max_connections(acu)} connections at database.max_acu = {acu:g}, less "
            f"{CONSOLE_CONNECTIONS} for the console (a wp-cli command, a wp-cron run) and {ADMIN_CONNECTIONS} "
            "for Aurora's own sessions and an administrator")


def reservation(config: Config) -> Reservation:
    """What ``function.reserved_concurrency`` comes to for ``config``, and why."""
    wanted = config.function.reserved_concurrency
    available = database_connections(config)
    if wanted == "off":
        return Reservation(None, available, "function.reserved_concurrency = \"off\": the site's function is "
                           "uncapped, so a spike can open more database connections than the database holds")
    if isinstance(wanted, int):
        return Reservation(wanted, available, f"function.reserved_concurrency = {wanted} instances at most "
                           "(one php-fpm worker each, so at most one database connection each)")
    if available is None:
        return Reservation(None, None, "uncapped: an external database's max_connections is not known to the kit; "
                           "set function.reserved_concurrency to it less what else connects")
    return Reservation(available, available, f"{available} instances at most, one database connection each: "
                       + _derivation(config))


def account_warning(config: Config) -> str | None:
    """Offline, the account is unknown; a reservation that even the default quota cannot spare is
    worth saying before the preflight, which reads the account's, refuses it."""
    wanted = reservation(config).instances
    room = DEFAULT_ACCOUNT_CONCURRENCY - UNRESERVED_MINIMUM
    if wanted is None or wanted <= room:
        return None
    return (f"function.reserved_concurrency = {wanted} needs a Lambda concurrency quota of at least "
            f"{wanted + UNRESERVED_MINIMUM} in {config.aws.region} (Lambda keeps {UNRESERVED_MINIMUM} unreserved; the "
            f"default quota is {DEFAULT_ACCOUNT_CONCURRENCY:,}): ask for it through Service Quotas before deploying, "
            f"or set function.reserved_concurrency to {room} or less")


def problems(config: Config) -> list[Problem]:
    """A cap that cannot work: none at all (0 or less throttles every request), above what the
    database holds, or below the provisioned concurrency Lambda keeps inside it."""
    wanted = reservation(config).instances
    if wanted is None:
        return []
    key = "function.reserved_concurrency"
    out: list[Problem] = []
    available = database_connections(config)
    if wanted < 1:
        # Reserved concurrency 0 makes Lambda throttle every invocation.
        out.append(Problem(key, f"{wanted} would throttle every request; set a number of instances above 0, "
                           "\"auto\", or \"off\""))
    elif available is not None and wanted > available:
        out.append(Problem(key, f"{wanted} instances could open {wanted} database connections, but {available} "
                           f"are there for the site ({_derivation(config)}); set it to {available} or less "
                           "(or \"auto\"), or raise database.max_acu"))
    provisioned = config.function.provisioned_concurrency
    if wanted >= 1 and provisioned > wanted:
        # Provisioned concurrency is taken from the function's reserved concurrency:
        # https://docs.aws.amazon.com/lambda/latest/dg/provisioned-concurrency.html
        out.append(Problem("function.provisioned_concurrency", f"{provisioned} is above the function's reserved "
                           f"concurrency ({wanted}), which it must fit in; lower it to {wanted} or less"))
    return out
