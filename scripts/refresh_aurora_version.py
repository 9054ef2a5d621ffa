"""Refresh the kit's pinned Aurora MySQL engine version (``wp_lambda/data/aurora.json``) from RDS's list.

Aurora keeps each minor version available for a limited time (one that is not a long-term-support
(LTS) release, typically about a year), and a stack cannot create its cluster on a retired one. The
pin therefore follows an LTS minor (``lts_minor`` in the data file), which Aurora keeps for at least
three years
(https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Update.SpecialVersions.html),
and this script moves it to that minor's newest patch that RDS lists as available. RDS's list is
what ``DescribeDBEngineVersions`` answers; this machine cannot ask, so it reads the answer from a file:

    aws rds describe-db-engine-versions --engine aurora-mysql --region us-east-1 --output json > versions.json
    .venv/bin/python scripts/refresh_aurora_version.py versions.json [--lts 3.10]

``--lts`` moves the pin to another LTS minor (it must be one that can pause at 0 ACU). The data file
is replaced atomically, and only after every check passed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from wp_lambda.common.files import atomic_write  # noqa: E402  (the repository root is only on the path now)
from wp_lambda.config import aurora  # noqa: E402

DEST = REPO / "wp_lambda" / "data" / aurora.DATA_FILE


def newest(listing: dict[str, Any], lts_minor: str) -> str:
    """The newest available ``aurora-mysql`` version of ``lts_minor`` ("3.10") in a
    DescribeDBEngineVersions answer; SystemExit naming what was found if there is none."""
    major, minor = (int(part) for part in lts_minor.split("."))
    if (major, minor) < aurora.PAUSE_MINIMUM:
        raise SystemExit(f"--lts {lts_minor}: Aurora MySQL below 3.08 cannot pause at 0 ACU")
    found = [str(e["EngineVersion"]) for e in listing.get("DBEngineVersions", [])
             if e.get("Engine") == aurora.ENGINE and e.get("Status", "available") == "available"]
    family = [v for v in found if (aurora.release(v) or (0, 0, 0))[:2] == (major, minor)]
    if not family:
        raise SystemExit(f"no available {aurora.ENGINE} {lts_minor}.x version in the listing (it has: "
                         f"{', '.join(sorted(found)) or 'none'})")
    return max(family, key=lambda v: aurora.release(v) or (0, 0, 0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("listing", type=Path, help="the JSON `aws rds describe-db-engine-versions` printed")
    parser.add_argument("--lts", help="the LTS minor to follow, e.g. 3.10 (default: the data file's)")
    parser.add_argument("--dest", type=Path, default=DEST, help=f"the data file (default {DEST})")
    args = parser.parse_args(argv)
    old = json.loads(args.dest.read_text())
    try:
        listing = json.loads(args.listing.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"{args.listing}: not a readable JSON file ({exc})") from None
    lts = args.lts or str(old["lts_minor"])
    version = newest(listing, lts)
    data = {**old, "default_version": version, "lts_minor": lts, "checked": dt.date.today().isoformat(),
            "chosen_from": f"{args.listing.name}: the newest available {lts} patch RDS listed"}
    atomic_write(args.dest, json.dumps(data, indent=2, sort_keys=True) + "\n")
    print(f"{args.dest.name}: {old['default_version']} -> {version} (LTS {lts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
