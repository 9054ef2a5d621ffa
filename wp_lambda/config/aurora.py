"""The Aurora MySQL engine version the stack's cluster is created with, and what it must allow.

Aurora keeps each minor version available for creating clusters for a limited time (a minor that
is not a long-term-support (LTS) release, typically about a year); after that, creating the cluster
fails. So the version is not written
into the template: ``database.engine_version`` chooses one, and empty (the default) takes the kit's
pin, ``wp_lambda/data/aurora.json``, which ``scripts/refresh_aurora_version.py`` keeps current from
RDS's own list. The pin follows an LTS minor, which Aurora keeps for at least three years:
https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Update.SpecialVersions.html

Offline, a version is checked for what the config asks of it (scaling to 0 ACU); whether the region
still offers it is asked by the deploy preflight (:func:`wp_lambda.deploy.preflight.check_engine_version`).
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from wp_lambda.config.schema import Config, Problem

DATA_FILE = "aurora.json"
ENGINE = "aurora-mysql"
# Aurora Serverless v2 scales to 0 ACU (auto-pause) from Aurora MySQL 3.08.0 on; below that the
# smallest minimum capacity is 0.5 ACU and creating the cluster with min_acu = 0 fails:
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html
# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ServerlessV2ScalingConfiguration.html
PAUSE_MINIMUM = (3, 8)
# "8.0.mysql_aurora.3.10.0": the MySQL it is compatible with, then Aurora's own major.minor.patch.
VERSION = re.compile(r"^(\d+)\.(\d+)\.mysql_aurora\.(\d+)\.(\d+)\.(\d+)$")


@cache
def _data() -> dict[str, Any]:
    """The packaged pin; through importlib.resources so it works from a wheel too."""
    return dict(json.loads(resources.files("wp_lambda").joinpath("data", DATA_FILE).read_text()))


def default_version() -> str:
    """The kit's pinned engine version (``database.engine_version = ""``)."""
    return str(_data()["default_version"])


def engine_version(config: Config, deployed: str = "") -> str:
    """The engine version the cluster gets: the config's; else the one it runs (``deployed``, read
    from the stack), because changing a cluster's EngineVersion upgrades it in place, with an outage
    and no way back (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBCluster.html,
    EngineVersion), so a refresh of the kit's pin must not do that to every existing site; else, for
    a new cluster, the kit's pin."""
    return config.database.engine_version or deployed or default_version()


def release(version: str) -> tuple[int, int, int] | None:
    """Aurora's own ``(major, minor, patch)`` of an engine version string, None if it is not one."""
    match = VERSION.match(version)
    return None if match is None else (int(match.group(3)), int(match.group(4)), int(match.group(5)))


def pauses(version: str) -> bool:
    """Whether this engine version can scale to 0 ACU (auto-pause)."""
    found = release(version)
    return found is not None and found[:2] >= PAUSE_MINIMUM


def problems(config: Config) -> list[Problem]:
    """The engine version cannot do what the config asks of it: pause at ``min_acu = 0``."""
    if config.database.mode != "aurora-serverless-v2" or config.database.min_acu != 0:
        return []
    version = engine_version(config)
    if pauses(version):
        return []
    where = "" if config.database.engine_version else f" (the kit's pin in wp_lambda/data/{DATA_FILE})"
    return [Problem("database.engine_version",
                    f"{version}{where} cannot scale to 0 ACU: Aurora Serverless v2 pauses only from Aurora MySQL "
                    f"{PAUSE_MINIMUM[0]}.{PAUSE_MINIMUM[1]:02d}.0 on, and database.min_acu = 0 asks it to; set "
                    f"database.engine_version to a 3.{PAUSE_MINIMUM[1]:02d} or newer version (e.g. "
                    f"\"{default_version()}\", or empty for the kit's pin), or database.min_acu = 0.5")]
