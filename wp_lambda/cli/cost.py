"""``cost``: the monthly cost of this config, line by line (the numbers come from wp_lambda/cost.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wp_lambda import config as config_mod
from wp_lambda import cost as cost_mod
from wp_lambda.cli.app import print_json
from wp_lambda.cli.options import JsonOption, ProjectOption

_DEFAULTS = cost_mod.Traffic()


def cost(
    project: ProjectOption = Path(),
    requests_per_month: Annotated[int, typer.Option(min=0, help="Page requests a month (pages, feeds, admin, "
                                                    "AJAX; static files aside).")]
    = _DEFAULTS.requests_per_month,
    cache_hit_ratio: Annotated[float, typer.Option(min=0, max=1, help="Share of page requests CloudFront answers "
                                                   "from its cache (an assumption: about 0.9 for a site read mostly "
                                                   "by anonymous visitors, far less for a shop or members' site); "
                                                   "only the rest reach the function and the database.")]
    = _DEFAULTS.cache_hit_ratio,
    avg_ms: Annotated[float, typer.Option(min=1, help="Billed milliseconds per request.")] = _DEFAULTS.avg_ms,
    gb_out: Annotated[float | None, typer.Option(min=0, help="GB a month CloudFront sends to viewers "
                                                 "(default: requests x --avg-page-kb).")] = None,
    avg_page_kb: Annotated[float, typer.Option(min=0, help="KB to viewers per request, static files included.")]
    = _DEFAULTS.avg_page_kb,
    nat_gb: Annotated[float, typer.Option(min=0, help="GB a month from the function to the internet (VPC modes).")]
    = _DEFAULTS.nat_gb,
    storage_gb: Annotated[float, typer.Option(min=0, help="GB of assets and uploads in S3.")] = _DEFAULTS.storage_gb,
    active_hours_per_day: Annotated[float, typer.Option(min=0, max=24, help="Hours a day visitors keep Aurora "
                                                        "awake; wp-cron's runs add their own in the other hours, "
                                                        "and with min_acu = 0 it is paused (and free) the rest.")]
    = _DEFAULTS.active_hours_per_day,
    avg_acu: Annotated[float | None, typer.Option(min=0.5, help="Aurora capacity while awake "
                                                  "(default: max(0.5, min_acu)).")] = None,
    changes_per_month: Annotated[int, typer.Option(min=0, help="Posts published, updated or trashed and comments "
                                                   "approved a month: each purges the pages it affected from "
                                                   "CloudFront's cache (with cache.pages).")]
    = _DEFAULTS.changes_per_month,
    free_tier: Annotated[bool, typer.Option("--free-tier", help="Subtract AWS's free tier.")] = False,
    json_output: JsonOption = False,
) -> None:
    """The monthly cost of this config, line by line, from the kit's pinned price table, with the
    totals of the other network modes (public, NAT gateway, NAT instance) beside it."""
    config = config_mod.load(project)
    traffic = cost_mod.Traffic(requests_per_month=requests_per_month, cache_hit_ratio=cache_hit_ratio,
                               avg_ms=avg_ms, gb_out=gb_out,
                               avg_page_kb=avg_page_kb, nat_gb=nat_gb, storage_gb=storage_gb,
                               active_hours_per_day=active_hours_per_day, avg_acu=avg_acu,
                               changes_per_month=changes_per_month, free_tier=free_tier)
    result = cost_mod.estimate(config, traffic)
    if json_output:
        print_json(result.to_dict())
        return
    print(f"Monthly cost of {config.site.name} in {result.region} ({result.network_mode}, "
          f"{config.aws.architecture}, {config.function.memory} MB), AWS list prices recorded {result.prices_date}:")
    print()
    print(f"  {'service':<16} {'item':<30} {'quantity':>24}  {'price':<28} {'USD/month':>10}")
    for line in result.lines:
        quantity = f"{line.quantity:,.{0 if line.quantity >= 100 else 2}f} {line.unit}" if line.unit else "-"
        price = f"${_decimal(line.price)} / {line.per}" if line.per else "-"
        free = f"  (free: {line.free:,.0f})" if line.free else ""
        print(f"  {line.service:<16} {line.item:<30} {quantity:>24}  {price:<28} {line.usd:>10,.2f}"
              + (f"  {line.note}" if line.note else "") + free)
    print(f"  {'total':<16} {'':<30} {'':>24}  {'':<28} {result.total:>10,.2f}")
    print()
    print("The same site in each network mode:")
    for mode, total in result.alternatives.items():
        shown = "not possible: Aurora needs a VPC" if total is None else f"{total:>10,.2f}"
        print(f"  {mode:<18} {shown}" + ("  <- this config" if mode == result.network_mode else ""))
    print()
    if not config.cache.pages:
        print("What the cache saves: nothing, cache.pages is off (every page request reaches the function).")
    else:
        print(f"What the cache saves at a {result.traffic.cache_hit_ratio:.0%} hit ratio (the rest of the traffic "
              "as above):")
    for views, (cached, uncached) in result.cache_savings.items():
        print(f"  {views:>10,} page views/month  {cached:>10,.2f} with the cache  {uncached:>10,.2f} without  "
              f"saves {uncached - cached:>9,.2f}")
    print()
    print(f"Concurrency: {result.concurrency}.")
    print()
    print("Assumptions: " + "; ".join(result.assumptions) + ".")


def _decimal(price: float) -> str:
    """$0.0000166667 rather than $1.66667e-05: prices are read next to AWS's pages, which print them so."""
    return f"{price:.10f}".rstrip("0").rstrip(".") or "0"


def register(app: typer.Typer) -> None:
    app.command()(cost)
