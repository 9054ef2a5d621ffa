"""`wplambda cost`: every line's arithmetic checked against the pinned price table, computed here
independently of wp_lambda/cost.py; the three network modes side by side; the docs' NAT-gateway
figure; free tier; unknown regions and instance types refused with exit 2."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from tests.support.helpers import REPO, run_wplambda
from wp_lambda import cost
from wp_lambda.config import Config, parse, toml_text
from wp_lambda.project import init_project
from wp_lambda.runtime import contract

PRICES = json.loads((Path(cost.__file__).parent / "data" / "prices.json").read_text())
HOURS = 730
EXTERNAL = {"mode": "external", "host": "db.example.com", "user": "wp",
            "secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"}


def _config(root: Path, network: str = "vpc-nat-gateway", database: dict[str, object] | None = None,
            **sections: dict[str, object]) -> Config:
    config = Config(root=root)
    config.network.mode = network
    for key, value in (database or {}).items():
        setattr(config.database, key, value)
    for section, values in sections.items():
        for key, value in values.items():
            setattr(getattr(config, section), key, value)
    return parse(toml_text(config), root=root)


def _usd(name: str, region: str = "us-east-1") -> float:
    return float(PRICES["regions"][region][name]["usd"])


def _expected(config: Config, requests: int, hit_ratio: float = 0.9) -> dict[tuple[str, str], float]:
    """Each line's dollars, from the price table and the documented assumptions (no free tier).
    CloudFront and WAF see every request; only the cache's misses reach the function."""
    cron = HOURS  # rate(1 hour), the default
    misses = requests * (1 - hit_ratio)
    # Misses at random through 8 h a day: Aurora (900 s auto-pause) sleeps exp(-rate x 900) of them.
    visitors = 8 * (1 - math.exp(-misses / (8 / 24 * HOURS * 3600) * 900))
    invocations = misses + cron
    gb_seconds = invocations * 0.2 * config.function.memory / 1024
    static = requests * 10
    log_gb = invocations * 400 / 1024 ** 3
    out = {
        ("Lambda", "requests"): invocations / 1e6 * _usd("lambda_requests"),
        ("Lambda", "duration (x86_64)"): gb_seconds * _usd("lambda_gb_second_x86_64"),
        ("API Gateway", "HTTP API requests"): misses / 1e6 * _usd("http_api_requests"),
        ("CloudFront", "HTTPS requests"): (requests + static) / 1e4 * PRICES["global"]["cloudfront_requests"]["usd"],
        ("CloudFront", "transfer to viewers"):
            requests * 250 * 1024 / 1024 ** 3 * PRICES["global"]["cloudfront_gb_out"]["usd"],
        ("S3", "storage"): 2 * _usd("s3_storage"),
        ("S3", "GET requests"): static * 0.05 / 1000 * _usd("s3_get"),
        ("S3", "PUT requests"): 600 / 1000 * _usd("s3_put"),
        # Each cold start reads the 3 secrets, and one warm instance re-reads them every 15 minutes
        # through the visitors' 8 hours a day.
        ("Secrets Manager", "GetSecretValue calls"):
            (misses * 0.001 + 8 / 24 * HOURS * 4) * 3 / 1e4 * _usd("secret_api_calls"),
        ("Secrets Manager", "secrets"): 3 * _usd("secret_month"),
        ("CloudWatch Logs", "ingestion"): log_gb * _usd("logs_ingestion_gb"),
        ("CloudWatch Logs", "storage"): log_gb * 30 / 30.4 * _usd("logs_storage_gb"),
        ("EFS", "file system"): 0.0,
        # Aurora with min_acu = 0: awake while the misses keep it so, plus 900 s after each hourly
        # wp-cron run in the rest of the day (a quarter of it), at 0.5 ACU; paused (free) the rest.
        ("Aurora", "Serverless v2 capacity"):
            (visitors + (24 - visitors) * 900 / 3600) / 24 * HOURS * 0.5 * _usd("aurora_acu_hour"),
        ("Aurora", "storage"): 1 * _usd("aurora_storage_gb"),
        # 60 changes a month x 10 paths: inside the first 1,000 free paths.
        ("CloudFront", "invalidation paths"): 0.0,
    }
    waf = {("AWS WAF", "web ACL"): 5.0, ("AWS WAF", "rules"): 3 * 1.0,  # login rate rule + 2 managed groups
           ("AWS WAF", "requests inspected"): (requests + static) / 1e6 * 0.60}
    out.update(waf if config.security.waf else {("AWS WAF", "web ACL"): 0.0})
    if config.network.mode == "vpc-nat-gateway":
        out[("VPC", "NAT gateway hours")] = HOURS * _usd("nat_gateway_hour")
        out[("VPC", "NAT gateway data processed")] = 1 * _usd("nat_gateway_gb")
        out[("VPC", "NAT gateway public IPv4")] = HOURS * _usd("public_ipv4_hour")
    return out


@pytest.mark.parametrize(("requests", "waf", "hit_ratio"), [
    (100_000, False, 0.9), (10_000_000, False, 0.9), (100_000, True, 0.9), (100_000, False, 0.0),
    (3_000, False, 0.9),  # 300 misses a month: Aurora sleeps through most of the visitors' hours
    (1_000_000, False, 1.0)])
def test_every_line_matches_the_price_table(tmp_path: Path, requests: int, waf: bool, hit_ratio: float) -> None:
    config = _config(tmp_path, security={"waf": waf})
    result = cost.estimate(config, cost.Traffic(requests_per_month=requests, cache_hit_ratio=hit_ratio))
    got = {(line.service, line.item): line.usd for line in result.lines}
    expected = _expected(config, requests, hit_ratio)
    assert got.keys() == expected.keys()
    for key, usd in expected.items():
        assert got[key] == pytest.approx(usd, rel=1e-9, abs=1e-12), key
    assert result.total == pytest.approx(sum(expected.values()))


def test_invalidation_paths_past_the_first_thousand_are_billed(tmp_path: Path) -> None:
    """Issue 24, item 2: each change purges the mu-plugin's typical list; the account's first 1,000
    paths a month are free (not a free-tier offer: subtracted without --free-tier); none with pages
    uncached, as nothing is purged then."""
    price = PRICES["global"]["cloudfront_invalidation_path"]
    assert (price["usd"], price["free_per_month"]) == (0.005, 1000)
    result = cost.estimate(_config(tmp_path), cost.Traffic(changes_per_month=300))
    (line,) = [line for line in result.lines if line.item == "invalidation paths"]
    assert line.quantity == 300 * contract.PURGE_PATHS_PER_PUBLISH == 3000
    assert line.usd == pytest.approx((3000 - 1000) * 0.005) == pytest.approx(10.0)
    uncached = cost.estimate(_config(tmp_path, cache={"pages": False}), cost.Traffic(changes_per_month=300))
    assert not [line for line in uncached.lines if line.item == "invalidation paths"]
    assert any("300 content changes a month" in text for text in result.assumptions)


def test_cli_takes_changes_per_month(tmp_path: Path) -> None:
    init_project(tmp_path, {"network": "vpc-nat-gateway"})
    text = run_wplambda("cost", "-C", str(tmp_path), "--changes-per-month", "300", "--json")
    assert text.returncode == 0, text.stderr
    (line,) = [line for line in json.loads(text.stdout)["lines"] if line["item"] == "invalidation paths"]
    assert (line["quantity"], line["usd"]) == (3000, 10.0)


def test_nat_gateway_line_is_the_docs_figure(tmp_path: Path) -> None:
    result = cost.estimate(_config(tmp_path), cost.Traffic())
    (hours_line,) = [line for line in result.lines if line.item == "NAT gateway hours"]
    assert hours_line.usd == pytest.approx(0.045 * 730) == pytest.approx(32.85)
    deploy_guide = (REPO / "docs" / "guides" / "deploy.md").read_text()
    assert "$32.85/month per gateway" in deploy_guide


def test_nat_instance_lines(tmp_path: Path) -> None:
    result = cost.estimate(_config(tmp_path, "vpc-nat-instance"), cost.Traffic())
    got = {line.item: line.usd for line in result.lines if line.service in ("EC2", "VPC", "EBS")}
    assert got == pytest.approx({"NAT instance (t4g.nano)": HOURS * PRICES["regions"]["us-east-1"]["ec2_hour"][
        "t4g.nano"]["usd"], "NAT instance public IPv4": HOURS * 0.005, "NAT instance root volume": 8 * 0.08})


def test_network_modes_side_by_side(tmp_path: Path) -> None:
    """With an external database all three modes can run; the differences are the NAT lines alone."""
    config = _config(tmp_path, "public", EXTERNAL)
    result = cost.estimate(config, cost.Traffic())
    modes = result.alternatives
    assert set(modes) == {"public", "vpc-nat-gateway", "vpc-nat-instance"}
    assert modes["public"] == pytest.approx(result.total)
    assert modes["vpc-nat-gateway"] - modes["public"] == pytest.approx(
        HOURS * (_usd("nat_gateway_hour") + _usd("public_ipv4_hour")) + _usd("nat_gateway_gb"))
    assert ("Database", "external database") in {(line.service, line.item) for line in result.lines}
    assert not [line for line in result.lines if line.service == "Aurora"]
    aurora = cost.estimate(_config(tmp_path), cost.Traffic())
    assert aurora.alternatives["public"] is None  # Aurora needs a VPC


def test_free_tier_is_subtracted_only_when_asked(tmp_path: Path) -> None:
    config = _config(tmp_path)
    without = {line.item: line.usd for line in cost.estimate(config, cost.Traffic()).lines}
    with_free = {line.item: line.usd for line in cost.estimate(config, cost.Traffic(free_tier=True)).lines}
    assert without["requests"] > 0 and with_free["requests"] == 0  # 10,730 < 1M always-free requests
    assert with_free["duration (x86_64)"] == 0  # 2,146 GB-s < 400,000
    assert with_free["NAT gateway hours"] == without["NAT gateway hours"]  # no free tier for NAT


def test_aurora_min_acu_above_zero_never_pauses(tmp_path: Path) -> None:
    config = _config(tmp_path, database={"min_acu": 1.0})
    result = cost.estimate(config, cost.Traffic(active_hours_per_day=6, avg_acu=2.0))
    (capacity,) = [line for line in result.lines if line.item == "Serverless v2 capacity"]
    assert capacity.quantity == pytest.approx(6 / 24 * HOURS * 2.0 + 18 / 24 * HOURS * 1.0)


def test_provisioned_concurrency_is_a_line(tmp_path: Path) -> None:
    config = _config(tmp_path, function={"provisioned_concurrency": 2}, aws={"architecture": "arm64"},
                     php={"extensions": []})
    (line,) = [line for line in cost.estimate(config, cost.Traffic()).lines if line.item == "provisioned concurrency"]
    assert line.usd == pytest.approx(2 * 1.0 * HOURS * 3600 * _usd("lambda_provisioned_gb_second_arm64"))


def test_cli_prints_lines_modes_and_json(tmp_path: Path) -> None:
    init_project(tmp_path, {"network": "vpc-nat-gateway"})
    text = run_wplambda("cost", "-C", str(tmp_path), "--requests-per-month", "10000000")
    assert text.returncode == 0, text.stderr
    assert re.search(r"VPC\s+NAT gateway hours\s+730 hours\s+\$0\.045 / hour\s+32\.85", text.stdout)
    assert re.search(r"public\s+not possible: Aurora needs a VPC", text.stdout)
    assert re.search(r"vpc-nat-gateway\s+[\d,]+\.\d\d\s+<- this config", text.stdout)
    data = json.loads(run_wplambda("cost", "-C", str(tmp_path), "--json", "--requests-per-month", "10000000").stdout)
    assert data["network_mode"] == "vpc-nat-gateway" and data["network_modes"]["public"] is None
    expected = cost.estimate(_config(tmp_path), cost.Traffic(requests_per_month=10_000_000))
    assert data["total"] == round(expected.total, 2)


def test_unknown_region_is_exit_2_naming_the_known_ones(tmp_path: Path) -> None:
    init_project(tmp_path, {"region": "ap-southeast-2"})  # Bref publishes there; the price table does not
    result = run_wplambda("cost", "-C", str(tmp_path))
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert "no prices for ap-southeast-2 (it has: eu-central-1, eu-west-1, us-east-1, us-east-2, us-west-2)" in message
    assert "Traceback" not in result.stderr


def test_unknown_nat_instance_type_is_exit_2(tmp_path: Path) -> None:
    init_project(tmp_path, {})
    toml = tmp_path / "wplambda.toml"
    toml.write_text(toml.read_text().replace('nat_instance_type = "t4g.nano"', 'nat_instance_type = "c7gn.large"'))
    result = run_wplambda("cost", "-C", str(tmp_path))
    assert result.returncode == 2
    assert "no price for a c7gn.large NAT instance" in " ".join(result.stderr.split())


def test_every_price_names_its_source_and_date() -> None:
    def prices(node: object) -> list[dict[str, object]]:
        if isinstance(node, dict) and "usd" in node:
            return [node]
        if isinstance(node, dict):
            return [p for value in node.values() for p in prices(value)]
        return []
    found = prices(PRICES["regions"]) + prices(PRICES["global"])
    assert len(found) > 100
    for price in found:
        assert str(price["source"]).startswith("https://aws.amazon.com/"), price
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", str(price["date"])), price
    for offer in PRICES["free_tier"].values():
        assert offer["term"] in ("always", "12 months") and offer["source"] and offer["date"]


def test_init_prints_the_summary(tmp_path: Path) -> None:
    result = run_wplambda("init", str(tmp_path / "site"), "--yes", "--network", "vpc-nat-gateway")
    assert result.returncode == 0, result.stderr
    line = " ".join(result.stdout.split())
    expected = cost.estimate(_config(tmp_path), cost.Traffic())
    assert (f"cost: estimated ${expected.total:,.2f}/month at 100,000 page requests/month, 90% from CloudFront's "
            "cache (vpc-nat-gateway; ") in line
    assert f"vpc-nat-instance ${expected.alternatives['vpc-nat-instance']:,.2f}" in line
    # init explains function.reserved_concurrency: 90 connections at 2 ACU less 7.
    assert "concurrency: 83 instances at most, one database connection each: Aurora holds 90 connections at " \
        "database.max_acu = 2" in line
    elsewhere = run_wplambda("init", str(tmp_path / "syd"), "--yes", "--region", "ap-southeast-2")
    assert elsewhere.returncode == 0  # no prices there: init still succeeds, and says so
    assert "no cost estimate: the kit's price table has no prices for ap-southeast-2" in " ".join(
        elsewhere.stdout.split())


def test_gb_out_overrides_the_page_size(tmp_path: Path) -> None:
    config = _config(tmp_path, "public", EXTERNAL)
    lines = {line.item: line for line in cost.estimate(config, cost.Traffic(gb_out=500.0)).lines}
    assert lines["transfer to viewers"].quantity == 500.0
    assert lines["transfer to viewers"].usd == pytest.approx(500 * PRICES["global"]["cloudfront_gb_out"]["usd"])
    free = {line.item: line for line in cost.estimate(config, cost.Traffic(gb_out=500.0, free_tier=True)).lines}
    assert free["transfer to viewers"].usd == 0  # within CloudFront's always-free 1 TB


def test_waf_price_is_shown_on_and_off(tmp_path: Path) -> None:
    """Off: one $0 line naming what turning it on adds; on: its three lines, in the total and the CLI."""
    off = cost.estimate(_config(tmp_path), cost.Traffic())
    on = cost.estimate(_config(tmp_path, security={"waf": True}), cost.Traffic())
    (off_line,) = [line for line in off.lines if line.service == "AWS WAF"]
    added = on.total - off.total
    assert added == pytest.approx(5 + 3 + 1.1 * 0.60)
    assert off_line.usd == 0 and off_line.note == f"off; security.waf = true adds ${added:,.2f}/month at this traffic"
    init_project(tmp_path / "site", {})
    toml = tmp_path / "site" / "wplambda.toml"
    toml.write_text(toml.read_text().replace("\nwaf = false\n", "\nwaf = true\n"))
    result = run_wplambda("cost", "-C", str(tmp_path / "site"), "--json")
    assert result.returncode == 0, result.stderr
    lines = {(line["service"], line["item"]): line for line in json.loads(result.stdout)["lines"]}
    assert lines[("AWS WAF", "web ACL")]["usd"] == 5.0 and lines[("AWS WAF", "rules")]["quantity"] == 3


@pytest.mark.parametrize(("schedule", "pause", "cron_hours"), [
    ("rate(1 hour)", 900, 16 * 0.25),  # each run keeps it up 15 of the 60 minutes
    ("rate(5 minutes)", 900, 16.0),  # the case: never pauses
    ("rate(2 hours)", 3600, 16 * 0.5),
    ("cron(0 3 * * ? *)", 900, 16 * 900 / 86400),  # once a day
    ("cron(0,30 8-17 * * ? *)", 900, 16 * 20 * 900 / 86400),  # 20 runs, 30 min apart: 15 min each
    ("cron(0 10 ? * MON-FRI *)", 900, 16.0),  # weekdays only: not counted, so never paused
])
def test_aurora_awake_hours_follow_the_cron_schedule(tmp_path: Path, schedule: str, pause: int,
                                                     cron_hours: float) -> None:
    config = _config(tmp_path)
    # Set after parsing: validation refuses a schedule that never lets the database pause.
    config.cron.schedule, config.database.auto_pause_seconds = schedule, pause
    # 10,000 misses a month through 8 h a day (41 an hour) keep it awake all 8 hours, to 0.001 h.
    awake = cost.aurora_awake(config, cost.Traffic())
    assert (awake.visitors, awake.cron) == (pytest.approx(8.0, abs=1e-3), pytest.approx(cron_hours, abs=1e-3))
    lines = cost.estimate(config, cost.Traffic()).lines
    (capacity,) = [line for line in lines if line.item == "Serverless v2 capacity"]
    assert capacity.quantity == pytest.approx((8 + cron_hours) / 24 * HOURS * 0.5, abs=0.1)
    if cron_hours == 16.0:
        assert capacity.usd == pytest.approx(43.80)  # 0.5 ACU around the clock in us-east-1


def test_aurora_awake_hours_without_cron_or_with_min_acu(tmp_path: Path) -> None:
    assert cost.aurora_awake(_config(tmp_path, cron={"enabled": False}), cost.Traffic()).hours_per_day == \
        pytest.approx(8.0, abs=1e-3)
    floor = cost.aurora_awake(_config(tmp_path, database={"min_acu": 0.5}), cost.Traffic(active_hours_per_day=24))
    assert (floor.hours_per_day, floor.cron) == (24.0, 0.0)


def test_cli_shows_the_default_sites_aurora_hours_and_why(tmp_path: Path) -> None:
    """The default config: hourly cron, 900 s auto-pause, 8 h of visitors: 12 h/day at 0.5 ACU,
    $21.90, the figure docs/guides/costs.md recomputes by hand."""
    init_project(tmp_path, {})
    result = run_wplambda("cost", "-C", str(tmp_path))
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert re.search(r"Aurora Serverless v2 capacity 182 ACU-hours \$0\.12 / ACU-hour 21\.90 12 h/day at 0\.5 ACU "
                     r"\(8 h visitors \+ 4 h wp-cron\), paused the rest", text), text
    assert ("Aurora awake 8 of the visitors' 8 hours a day (--active-hours-per-day; only cache misses reach it); "
            "in the other hours each wp-cron run "
            "(rate(1 hour)) keeps it awake until the next run or database.auto_pause_seconds (900 s) later, "
            "whichever is first: +4 h, 12 h/day in all") in text
    guide = (REPO / "docs" / "guides" / "costs.md").read_text()
    assert "$21.90" in guide and "$43.80" in guide


def test_the_cache_saves_only_on_what_misses_reach(tmp_path: Path) -> None:
    """At each of 100k, 1M and 10M views the saving is the miss-side lines at a 0.9 hit ratio against
    none: CloudFront's lines are the same either way, the Lambda and API Gateway lines shrink tenfold."""
    config = _config(tmp_path)
    result = cost.estimate(config, cost.Traffic())
    assert list(result.cache_savings) == [100_000, 1_000_000, 10_000_000]
    for views, (cached, uncached) in result.cache_savings.items():
        assert cached == pytest.approx(sum(_expected(config, views, 0.9).values()))
        assert uncached == pytest.approx(sum(_expected(config, views, 0.0).values()))
        assert cached < uncached
    cached = {(line.service, line.item): line.quantity for line in result.lines}
    uncached = {(line.service, line.item): line.quantity
                for line in cost.estimate(config, cost.Traffic(cache_hit_ratio=0.0)).lines}
    assert cached[("CloudFront", "HTTPS requests")] == uncached[("CloudFront", "HTTPS requests")] == 1_100_000
    assert (cached[("API Gateway", "HTTP API requests")], uncached[("API Gateway", "HTTP API requests")]) == (
        pytest.approx(10_000), 100_000)


def test_cli_takes_the_hit_ratio_and_prints_savings_and_concurrency(tmp_path: Path) -> None:
    init_project(tmp_path, {"network": "vpc-nat-gateway"})
    result = run_wplambda("cost", "-C", str(tmp_path), "--cache-hit-ratio", "0.5")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "What the cache saves at a 50% hit ratio" in text
    expected = cost.estimate(_config(tmp_path), cost.Traffic(cache_hit_ratio=0.5))
    cached, uncached = expected.cache_savings[1_000_000]
    assert (f"1,000,000 page views/month {cached:,.2f} with the cache {uncached:,.2f} without "
            f"saves {uncached - cached:,.2f}") in text
    # 90 connections at 2 ACU (AWS's table), less 7; 83 x 1000 / 200 ms = 415 misses a second.
    assert "Concurrency: 83 instances at most, one database connection each: Aurora holds 90 connections" in text
    assert "that is 415 cache misses a second" in text
    refused = run_wplambda("cost", "-C", str(tmp_path), "--cache-hit-ratio", "1.5")
    assert refused.returncode == 2 and "--cache-hit-ratio" in refused.stderr
    data = json.loads(run_wplambda("cost", "-C", str(tmp_path), "--json").stdout)
    assert data["traffic"]["cache_hit_ratio"] == 0.9 and [row["views_per_month"] for row in data["cache_savings"]] == [
        100_000, 1_000_000, 10_000_000]


def test_with_the_page_cache_off_every_page_request_reaches_the_function(tmp_path: Path) -> None:
    """cache.pages = false: the assumed hit ratio does not apply, so Lambda and API Gateway see every
    request, and the summary says 0% from the cache."""
    off = _config(tmp_path, cache={"pages": False})
    result = cost.estimate(off, cost.Traffic(requests_per_month=100_000, cache_hit_ratio=0.9))
    assert result.traffic.cache_hit_ratio == 0.0
    api = next(line for line in result.lines if (line.service, line.item) == ("API Gateway", "HTTP API requests"))
    assert api.quantity == 100_000
    assert "0% from CloudFront's cache" in cost.summary(off)
