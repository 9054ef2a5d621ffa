"""The monthly cost of a config, line by line, from a pinned price table.

Prices come from ``wp_lambda/data/prices.json`` (each with the AWS page it was taken from and the
date it was recorded) rather than the Pricing API: an estimate must work offline and without an
account, and two runs must agree. A region the table lacks is refused, not guessed, because prices
differ by region. What the estimate cannot know (how busy the site is, how long pages take, how
many hours a day the database is awake) is a :class:`Traffic` field, printed as an assumption
with every estimate, so the numbers can be argued with.

The network mode is most of the fixed cost (a NAT gateway alone is more than a small site's Lambda
bill), so every estimate also carries the totals of the other modes for the same site.

CloudFront caches anonymous pages (the edge page cache), so only its misses reach the function:
``Traffic.cache_hit_ratio`` is the share of page requests CloudFront answers from its cache. The
Lambda, API Gateway, Secrets Manager and log lines and the hours visitors keep Aurora awake are
computed from the misses; CloudFront's and WAF's lines from every request. The default, 0.9, is an
assumption, not a measurement: a site whose visitors are mostly anonymous readers of pages many
others read too reaches it once each page has been fetched once per edge, while a shop or a
members' site, whose logged-in or cart-holding visitors always go around the cache, gets far less
(``--cache-hit-ratio`` says what yours is; CloudFront's own cache statistics report it once deployed).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any

from wp_lambda.common.errors import UserError
from wp_lambda.config import NETWORK_MODES, Config, schedule
from wp_lambda.config.concurrency import reservation
from wp_lambda.config.schema import WAF_RULE_GROUPS
from wp_lambda.runtime.contract import DB_SECRET_TTL_SECONDS, PURGE_PATHS_PER_PUBLISH

GIB = 1024 ** 3
# The root volume of the Amazon Linux 2023 AMI the NAT instance boots (gp3).
NAT_INSTANCE_VOLUME_GB = 8
# A page's HTML has no cache; static files are served from CloudFront's cache, and only this share
# of their requests reaches the assets bucket.
S3_MISS_SHARE = 0.05
# How often an instance cold-starts (and reads its secrets), per request.
COLD_STARTS_PER_REQUEST = 0.001
# Media uploads a month: each is one PUT of the original plus about five resized copies.
PUTS_PER_MONTH = 600
# The default share of page requests CloudFront answers from its cache (see the module's docstring).
CACHE_HIT_RATIO = 0.9
# The monthly page views at which `cost` prints what the cache saves.
SAVINGS_VIEWS = (100_000, 1_000_000, 10_000_000)


@dataclass(frozen=True)
class Traffic:
    """What the estimate assumes about the site's use; each field is also a ``wplambda cost`` option."""

    requests_per_month: int = 100_000  # page requests to CloudFront (pages, feeds, admin, AJAX), static files aside
    cache_hit_ratio: float = CACHE_HIT_RATIO  # share CloudFront answers from its cache; the rest reach the function
    avg_ms: float = 200.0  # billed duration of one function request
    static_per_page: float = 10.0  # CloudFront requests for static files per page request
    avg_page_kb: float = 250.0  # bytes to viewers per page request, its static files included
    gb_out: float | None = None  # overrides requests x avg_page_kb
    storage_gb: float = 2.0  # assets and uploads in S3
    nat_gb: float = 1.0  # the function's traffic to the internet through the NAT (S3 has its own endpoint)
    active_hours_per_day: float = 8.0  # hours a day visitors keep Aurora awake; wp-cron adds its own (aurora_awake)
    avg_acu: float | None = None  # Aurora capacity while awake; default max(0.5, min_acu)
    db_storage_gb: float = 1.0
    log_bytes_per_request: int = 400  # Lambda's START/END/REPORT lines and the runtime's own
    free_tier: bool = False  # subtract AWS's free tier (always-free and 12-month offers)
    # Posts published, updated or trashed, and comments approved, a month: each purges the pages it
    # affected (contract.PURGE_PATHS_PER_PUBLISH paths, the mu-plugin's list for a typical post).
    changes_per_month: int = 60


@dataclass(frozen=True)
class Line:
    """One priced item: ``quantity`` ``unit`` at ``price`` per ``per`` (``scale`` units), less ``free``."""

    service: str
    item: str
    quantity: float
    unit: str
    price: float
    per: str
    scale: float = 1.0
    free: float = 0.0
    note: str = ""

    @property
    def usd(self) -> float:
        return max(self.quantity - self.free, 0.0) / self.scale * self.price


@dataclass
class Estimate:
    region: str
    network_mode: str
    traffic: Traffic
    lines: list[Line]
    assumptions: list[str]
    prices_date: str
    # The same site's total in each network mode; None where the mode cannot work (Aurora needs a VPC).
    alternatives: dict[str, float | None] = field(default_factory=dict)
    # How many instances of the site's function run at most, and why (wp_lambda.config.concurrency).
    concurrency: str = ""
    # Monthly page views -> (total with the cache at this hit ratio, total without any cache).
    cache_savings: dict[int, tuple[float, float]] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {"region": self.region, "network_mode": self.network_mode, "currency": "USD",
                "prices_date": self.prices_date, "traffic": asdict(self.traffic),
                "lines": [{**asdict(line), "usd": round(line.usd, 4)} for line in self.lines],
                "total": round(self.total, 2), "assumptions": self.assumptions,
                "network_modes": {mode: None if total is None else round(total, 2)
                                  for mode, total in self.alternatives.items()},
                "concurrency": self.concurrency,
                "cache_savings": [{"views_per_month": views, "with_cache": round(cached, 2),
                                   "without_cache": round(uncached, 2), "saves": round(uncached - cached, 2)}
                                  for views, (cached, uncached) in self.cache_savings.items()]}


@cache
def price_table() -> dict[str, Any]:
    return json.loads(resources.files("wp_lambda").joinpath("data", "prices.json").read_text())


def known_regions() -> list[str]:
    return sorted(price_table()["regions"])


def _region_prices(region: str) -> dict[str, Any]:
    prices = price_table()["regions"].get(region)
    if prices is None:
        raise UserError(f"the kit's price table has no prices for {region} (it has: {', '.join(known_regions())})",
                        "prices differ by region, so none is guessed: estimate with one of those regions "
                        "(aws.region), or add the region's prices to wp_lambda/data/prices.json")
    return prices


def _line(service: str, item: str, quantity: float, unit: str, price: dict[str, Any], scale: float = 1.0,
          free: float = 0.0, note: str = "") -> Line:
    return Line(service, item, quantity, unit, float(price["usd"]), price["per"], scale, free, note)


def cron_invocations(config: Config, hours: float) -> int:
    """wp-cron runs a month: exact for ``rate(...)`` and daily ``cron(...)`` expressions
    (wp_lambda.config.schedule); any other ``cron(...)`` is counted as hourly."""
    if not config.cron.enabled:
        return 0
    per_day = schedule.runs_per_day(config.cron.schedule)
    return int(hours / 24 * (per_day if per_day is not None else 24))


def function_requests(traffic: Traffic) -> float:
    """Page requests that reach the function: CloudFront's cache misses."""
    return traffic.requests_per_month * (1 - traffic.cache_hit_ratio)


def estimate(config: Config, traffic: Traffic, *, compare: bool = True) -> Estimate:
    """The monthly cost of ``config`` at ``traffic``; with ``compare``, the other network modes'
    totals and what the cache saves at :data:`SAVINGS_VIEWS` too. With ``cache.pages`` off nothing is
    answered from CloudFront's cache, whatever ratio was assumed."""
    if not config.cache.pages:
        traffic = replace(traffic, cache_hit_ratio=0.0)
    table = price_table()
    prices = _region_prices(config.aws.region)
    hours = float(table["hours_per_month"])
    free = table["free_tier"] if traffic.free_tier else {}

    def allowance(name: str) -> float:
        return float(free[name]["quantity"]) if name in free else 0.0

    arch = config.aws.architecture
    memory_gb = config.function.memory / 1024
    cron = cron_invocations(config, hours)
    misses = function_requests(traffic)
    invocations = misses + cron
    gb_seconds = invocations * traffic.avg_ms / 1000 * memory_gb
    lines = [
        _line("Lambda", "requests", invocations, "requests", prices["lambda_requests"], 1e6,
              allowance("lambda_requests"), f"{misses:,.0f} HTTP (cache misses) + {cron:,} wp-cron runs"),
        _line("Lambda", f"duration ({arch})", gb_seconds, "GB-seconds", prices[f"lambda_gb_second_{arch}"], 1,
              allowance("lambda_gb_seconds"), f"{traffic.avg_ms:g} ms x {config.function.memory} MB"),
    ]
    if config.function.provisioned_concurrency:
        pc = config.function.provisioned_concurrency
        lines.append(_line("Lambda", "provisioned concurrency", pc * memory_gb * hours * 3600, "GB-seconds",
                           prices[f"lambda_provisioned_gb_second_{arch}"], note=f"{pc} instances all month"))
    if config.function.front_door == "http-api":
        lines.append(_line("API Gateway", "HTTP API requests", misses, "requests",
                           prices["http_api_requests"], 1e6, allowance("http_api_requests"), "cache misses"))
    else:
        lines.append(Line("Lambda", "Function URL", misses, "requests", 0.0, "request",
                          note="cache misses; no charge beyond the function's own"))
    cloudfront = table["global"]
    viewer_requests = traffic.requests_per_month * (1 + traffic.static_per_page)
    gb_out = traffic.gb_out if traffic.gb_out is not None else \
        traffic.requests_per_month * traffic.avg_page_kb * 1024 / GIB
    static_requests = traffic.requests_per_month * traffic.static_per_page
    lines += [
        _line("CloudFront", "HTTPS requests", viewer_requests, "requests", cloudfront["cloudfront_requests"], 1e4,
              allowance("cloudfront_requests")),
        _line("CloudFront", "transfer to viewers", gb_out, "GB", cloudfront["cloudfront_gb_out"], 1,
              allowance("cloudfront_gb_out")),
        _line("S3", "storage", traffic.storage_gb, "GB-month", prices["s3_storage"], 1, allowance("s3_storage")),
        _line("S3", "GET requests", static_requests * S3_MISS_SHARE, "requests", prices["s3_get"], 1000,
              allowance("s3_get"), f"{S3_MISS_SHARE:.0%} of static requests miss CloudFront's cache"),
        _line("S3", "PUT requests", PUTS_PER_MONTH, "requests", prices["s3_put"], 1000, allowance("s3_put"),
              "uploads and their resized copies, plus sync-assets"),
    ]
    lines += purge_lines(config, traffic)
    lines += waf_lines(config, viewer_requests)
    lines += _network_lines(config, traffic, prices, hours)
    lines += _database_lines(config, traffic, prices, hours)
    secrets = 3 if config.database.mode == "aurora-serverless-v2" else 2
    cold_starts = misses * COLD_STARTS_PER_REQUEST
    # A warm instance re-reads its secrets once DB_SECRET_TTL_SECONDS have passed (a rotated database
    # password): one instance is taken as warm through the visitors' hours.
    warm_rereads = min(traffic.active_hours_per_day, 24.0) / 24 * hours * 3600 / DB_SECRET_TTL_SECONDS
    log_gb = invocations * traffic.log_bytes_per_request / GIB
    lines += [
        _line("Secrets Manager", "secrets", secrets, "secrets", prices["secret_month"],
              note="salts, origin secret" + (", database" if secrets == 3 else "")),
        _line("Secrets Manager", "GetSecretValue calls", (cold_starts + warm_rereads) * secrets, "calls",
              prices["secret_api_calls"], 1e4,
              note=f"at each cold start, and every {DB_SECRET_TTL_SECONDS / 60:g} min while warm"),
        _line("CloudWatch Logs", "ingestion", log_gb, "GB", prices["logs_ingestion_gb"], 1,
              allowance("logs_ingestion_gb")),
        _line("CloudWatch Logs", "storage", log_gb * min(config.logs.retention_days, 365) / 30.4, "GB-month",
              prices["logs_storage_gb"], note=f"{config.logs.retention_days} days kept, uncompressed (an upper bound)"),
        Line("EFS", "file system", 0, "GB-month", 0.0, "GB-month", note="the stack uses no EFS"),
    ]
    assumptions = _assumptions(config, traffic, hours)
    result = Estimate(config.aws.region, config.network.mode, traffic, lines, assumptions,
                      price_table()["regions"][config.aws.region]["lambda_requests"]["date"],
                      concurrency=_concurrency(config, traffic))
    if compare:
        for views in SAVINGS_VIEWS:
            at = replace(traffic, requests_per_month=views, gb_out=None)
            result.cache_savings[views] = (estimate(config, at, compare=False).total,
                                           estimate(config, replace(at, cache_hit_ratio=0.0), compare=False).total)
        for mode in NETWORK_MODES:
            if mode == config.network.mode:
                result.alternatives[mode] = result.total
            elif mode == "public" and config.database.mode == "aurora-serverless-v2":
                result.alternatives[mode] = None
            else:
                other = config.model_copy(update={"network": config.network.model_copy(update={"mode": mode})})
                result.alternatives[mode] = estimate(other, traffic, compare=False).total
    return result


def purge_lines(config: Config, traffic: Traffic) -> list[Line]:
    """The invalidations the site sends when content changes (only with cache.pages): each change
    purges PURGE_PATHS_PER_PUBLISH paths; the account's first 1,000 paths a month are free, whatever
    --free-tier says (it is not a free-tier offer), and `wplambda purge` by hand adds its own."""
    if not config.cache.pages:
        return []
    price = price_table()["global"]["cloudfront_invalidation_path"]
    paths = traffic.changes_per_month * PURGE_PATHS_PER_PUBLISH
    return [_line("CloudFront", "invalidation paths", paths, "paths", price, 1, float(price["free_per_month"]),
                  f"{traffic.changes_per_month} changes x {PURGE_PATHS_PER_PUBLISH} paths; the first ones free")]


def waf_lines(config: Config, viewer_requests: float) -> list[Line]:
    """security.waf's web ACL, its rules (the login rate rule and each managed group count as one)
    and the requests it inspects (every viewer request, static files included). With waf off, one
    line of $0 that says what turning it on would add at this traffic."""
    prices = price_table()["global"]
    rules = 1 + len(WAF_RULE_GROUPS)
    lines = [_line("AWS WAF", "web ACL", 1, "web ACLs", prices["waf_web_acl_month"],
                   note="us-east-1, CloudFront scope"),
             _line("AWS WAF", "rules", rules, "rules", prices["waf_rule_month"],
                   note=f"login rate limit + {len(WAF_RULE_GROUPS)} AWS managed groups (no fee of their own)"),
             _line("AWS WAF", "requests inspected", viewer_requests, "requests", prices["waf_requests"], 1e6,
                   note="every CloudFront request")]
    if config.security.waf:
        return lines
    added = sum(line.usd for line in lines)
    return [Line("AWS WAF", "web ACL", 0, "", 0.0, "", note=f"off; security.waf = true adds ${added:,.2f}/month "
                 "at this traffic")]


def _network_lines(config: Config, traffic: Traffic, prices: dict[str, Any], hours: float) -> list[Line]:
    mode = config.network.mode
    if mode == "vpc-nat-gateway":
        return [_line("VPC", "NAT gateway hours", hours, "hours", prices["nat_gateway_hour"]),
                _line("VPC", "NAT gateway data processed", traffic.nat_gb, "GB", prices["nat_gateway_gb"]),
                _line("VPC", "NAT gateway public IPv4", hours, "hours", prices["public_ipv4_hour"])]
    if mode == "vpc-nat-instance":
        kind = config.network.nat_instance_type
        instance = prices["ec2_hour"].get(kind)
        if instance is None:
            raise UserError(f"the kit's price table has no price for a {kind} NAT instance in {config.aws.region} "
                            f"(it has: {', '.join(sorted(prices['ec2_hour']))})",
                            "set network.nat_instance_type to one of those for an estimate, or add its price to "
                            "wp_lambda/data/prices.json")
        return [_line("EC2", f"NAT instance ({kind})", hours, "hours", instance),
                _line("VPC", "NAT instance public IPv4", hours, "hours", prices["public_ipv4_hour"]),
                _line("EBS", "NAT instance root volume", NAT_INSTANCE_VOLUME_GB, "GB-month", prices["ebs_gp3_gb"])]
    return []


def _database_lines(config: Config, traffic: Traffic, prices: dict[str, Any], hours: float) -> list[Line]:
    if config.database.mode != "aurora-serverless-v2":
        return [Line("Database", "external database", 0, "", 0.0, "", note="billed wherever it runs; not priced here")]
    db = config.database
    return [_line("Aurora", "Serverless v2 capacity", aurora_acu_hours(config, traffic, hours), "ACU-hours",
                  prices["aurora_acu_hour"], note=_aurora_note(config, traffic)),
            _line("Aurora", "storage", traffic.db_storage_gb, "GB-month", prices["aurora_storage_gb"],
                  note="I/O requests not counted" + ("" if db.min_acu else "; paused hours cost nothing"))]


def aurora_awake_acu(config: Config, traffic: Traffic) -> float:
    return traffic.avg_acu if traffic.avg_acu is not None else max(0.5, config.database.min_acu)


@dataclass(frozen=True)
class AuroraAwake:
    """Hours a day the database is awake: the visitors' hours plus what wp-cron adds in the others."""

    visitors: float
    cron: float
    how: str  # how wp-cron's share was found, for the assumptions

    @property
    def hours_per_day(self) -> float:
        return self.visitors + self.cron


def visitors_awake_hours(config: Config, traffic: Traffic, hours: float) -> float:
    """Hours a day the cache's misses keep a pausing Aurora awake, within the visitors' hours.

    Only a miss reaches the database, and it pauses after ``auto_pause_seconds`` without one. With
    misses arriving at random (a Poisson process of rate r through the visitors' hours), a gap
    longer than T = auto_pause_seconds comes with probability exp(-rT), and the time paused is the
    part of those gaps beyond T, which makes the paused share of the hours exactly exp(-rT). A
    site with a few misses an hour therefore sleeps through much of its visitors' hours; one with
    dozens stays awake through them."""
    visitors = min(traffic.active_hours_per_day, 24.0)
    if config.database.min_acu or not visitors:
        return visitors
    per_second = function_requests(traffic) / (visitors / 24 * hours * 3600)
    return visitors * (1 - math.exp(-per_second * config.database.auto_pause_seconds))


def aurora_awake(config: Config, traffic: Traffic) -> AuroraAwake:
    """With ``min_acu = 0`` Aurora pauses after ``auto_pause_seconds`` without a connection, and
    the next connection resumes it (in about 15 s):
    https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html
    Visitors keep it awake through the share of their hours :func:`visitors_awake_hours` finds. In
    the rest of the day, each wp-cron run connects, so it keeps the database awake until the next
    run or ``auto_pause_seconds`` later, whichever comes first. A schedule the kit cannot count is
    assumed to keep it awake all the time: an estimate may be high, never low."""
    visitors = visitors_awake_hours(config, traffic, float(price_table()["hours_per_month"]))
    db = config.database
    if db.min_acu or not config.cron.enabled:
        return AuroraAwake(visitors, 0.0, "min_acu above 0: never paused" if db.min_acu else "wp-cron is off")
    share = schedule.awake_share(config.cron.schedule, db.auto_pause_seconds)
    if share is None:
        return AuroraAwake(visitors, 24.0 - visitors,
                           f"wp-cron's {config.cron.schedule} is not a schedule the kit can count (it reads rate() "
                           "and cron() at fixed minutes and hours every day), so Aurora is taken as never pausing")
    return AuroraAwake(visitors, (24.0 - visitors) * share,
                       f"in the other hours each wp-cron run ({config.cron.schedule}) keeps it awake until the next "
                       f"run or database.auto_pause_seconds ({db.auto_pause_seconds} s) later, whichever is first")


def aurora_acu_hours(config: Config, traffic: Traffic, hours: float) -> float:
    """Awake hours at the awake capacity, the rest at ``min_acu`` (0 while paused)."""
    awake = aurora_awake(config, traffic).hours_per_day / 24 * hours
    return awake * aurora_awake_acu(config, traffic) + (hours - awake) * config.database.min_acu


def _hours(value: float) -> str:
    return f"{round(value, 2):g}"


def _aurora_note(config: Config, traffic: Traffic) -> str:
    awake = aurora_awake(config, traffic)
    text = f"{_hours(awake.hours_per_day)} h/day at {aurora_awake_acu(config, traffic):g} ACU"
    if config.database.min_acu:
        return f"{text}, the rest at min_acu {config.database.min_acu:g}"
    return (f"{text} ({_hours(awake.visitors)} h visitors + {_hours(awake.cron)} h wp-cron), "
            "paused the rest (min_acu = 0)")


def _assumptions(config: Config, traffic: Traffic, hours: float) -> list[str]:
    out = [f"{hours:g} hours a month; on-demand list prices in USD, tax excluded",
           f"{traffic.requests_per_month:,} page requests a month, {traffic.cache_hit_ratio:.0%} of them answered "
           f"from CloudFront's cache (--cache-hit-ratio, an assumption); the {function_requests(traffic):,.0f} "
           f"misses reach the function, {traffic.avg_ms:g} ms each",
           f"CloudFront: {traffic.static_per_page:g} static requests per page request; "
           + (f"{traffic.gb_out:g} GB out" if traffic.gb_out is not None else f"{traffic.avg_page_kb:g} KB per page")
           + "; viewers in North America and Europe"]
    if config.in_vpc:
        out.append(f"{traffic.nat_gb:g} GB a month from the function to the internet through the NAT "
                   "(S3 traffic takes the free gateway endpoint)")
    if config.database.mode == "aurora-serverless-v2":
        awake = aurora_awake(config, traffic)
        out.append(f"Aurora awake {_hours(awake.visitors)} of the visitors' {traffic.active_hours_per_day:g} hours a "
                   "day (--active-hours-per-day; only cache misses reach it); "
                   f"{awake.how}: +{_hours(awake.cron)} h, {_hours(awake.hours_per_day)} h/day in all")
    if config.cache.pages:
        out.append(f"{traffic.changes_per_month} content changes a month (--changes-per-month: posts published, "
                   f"updated or trashed, comments approved), each purging {PURGE_PATHS_PER_PUBLISH} paths")
    out.append("free tier subtracted (always-free and 12-month offers; EC2 and IPv4 offers not applied)"
               if traffic.free_tier else "no free tier (--free-tier subtracts it)")
    return out


def _concurrency(config: Config, traffic: Traffic) -> str:
    """function.reserved_concurrency's number and why, with the uncached requests a second it allows."""
    found = reservation(config)
    if found.instances is None:
        return found.explanation
    per_second = found.instances * 1000 / traffic.avg_ms
    return (f"{found.explanation}; at {traffic.avg_ms:g} ms a request that is {per_second:,.0f} cache misses a "
            "second, beyond which Lambda throttles and CloudFront answers from its cache where it can")


def summary(config: Config, traffic: Traffic | None = None) -> str:
    """One line for `init` and `deploy --dry-run`: the total, the other network modes', and where the
    lines are; a region without prices says so instead of failing the command it is part of."""
    traffic = traffic or Traffic()
    try:
        result = estimate(config, traffic)
    except UserError as exc:
        return f"no cost estimate: {exc.message}"
    others = ", ".join(f"{mode} ${total:,.2f}" for mode, total in result.alternatives.items()
                       if mode != config.network.mode and total is not None)
    return (f"estimated ${result.total:,.2f}/month at {traffic.requests_per_month:,} page requests/month, "
            f"{result.traffic.cache_hit_ratio:.0%} from CloudFront's cache ({config.network.mode}; {others}); "
            "`wplambda cost` prints each line and its assumptions")
