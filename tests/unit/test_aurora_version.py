"""The Aurora MySQL engine version: one pin (``wp_lambda/data/aurora.json``), a config key that overrides
it, the refusal of a version that cannot pause at ``min_acu = 0`` (exit 2 through the real
``wplambda validate``), the template taking the resolved version, and the refresh script's choice."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
import tomlkit

from tests.support.helpers import REPO, run_wplambda
from wp_lambda.config import Config, ConfigError, aurora, parse, toml_text
from wp_lambda.render import context

SCRIPT = REPO / "scripts" / "refresh_aurora_version.py"
PIN = json.loads(resources.files("wp_lambda").joinpath("data", "aurora.json").read_text())


def test_the_pin_is_an_lts_version_that_can_pause() -> None:
    version = PIN["default_version"]
    assert aurora.default_version() == version == aurora.engine_version(Config())
    assert aurora.pauses(version) and ".".join(version.split(".")[3:5]) == PIN["lts_minor"]
    pattern = Config.model_fields["database"].annotation.model_fields["engine_version"]  # type: ignore[union-attr]
    assert any(re.fullmatch(m.pattern, version) for m in pattern.metadata if hasattr(m, "pattern"))


@pytest.mark.parametrize(("version", "release", "pauses"), [
    ("8.0.mysql_aurora.3.08.0", (3, 8, 0), True),
    ("8.0.mysql_aurora.3.07.1", (3, 7, 1), False),
    ("8.0.mysql_aurora.3.10.2", (3, 10, 2), True),
    ("5.7.mysql_aurora.2.12.5", (2, 12, 5), False),
    ("8.0", None, False),
])
def test_release_and_pause(version: str, release: tuple[int, int, int] | None, pauses: bool) -> None:
    assert aurora.release(version) == release and aurora.pauses(version) is pauses


def _doc(**database: object) -> str:
    doc = tomlkit.parse(toml_text(Config()))
    for key, value in database.items():
        doc["database"][key] = value  # type: ignore[index]
    return tomlkit.dumps(doc)


def test_a_version_below_3_08_at_min_acu_0_is_exit_2(tmp_path: Path) -> None:
    """The real `wplambda validate`: the key, the value, why, and both ways out; nothing is written."""
    (tmp_path / "wplambda.toml").write_text(_doc(engine_version="8.0.mysql_aurora.3.07.1"))
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run_wplambda("validate", "--project", str(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert ("database.engine_version: 8.0.mysql_aurora.3.07.1 cannot scale to 0 ACU: Aurora Serverless v2 pauses "
            "only from Aurora MySQL 3.08.0 on, and database.min_acu = 0 asks it to") in message
    assert f'(e.g. "{PIN["default_version"]}", or empty for the kit\'s pin), or database.min_acu = 0.5' in message
    assert "Traceback" not in result.stderr and sorted(p.name for p in tmp_path.iterdir()) == before


def test_an_older_version_is_fine_when_the_database_never_pauses_or_is_external() -> None:
    assert parse(_doc(engine_version="8.0.mysql_aurora.3.07.1", min_acu=0.5)).database.min_acu == 0.5
    with pytest.raises(ConfigError) as info:
        parse(_doc(engine_version="8.0.mysql_aurora.3.07.1", mode="external"))
    assert "database.engine_version" not in {p.key for p in info.value.problems}  # only external's own keys


def test_a_version_that_is_not_one_is_refused_by_the_schema() -> None:
    with pytest.raises(ConfigError) as info:
        parse(_doc(engine_version="3.10.0"))
    assert [p.key for p in info.value.problems] == ["database.engine_version"]


def test_the_template_takes_the_configs_version_or_the_pin() -> None:
    assert context(Config())["aurora_engine_version"] == PIN["default_version"]
    chosen = parse(_doc(engine_version="8.0.mysql_aurora.3.09.0"))
    assert context(chosen)["aurora_engine_version"] == "8.0.mysql_aurora.3.09.0"
    template = (Path(__file__).parents[2] / "template.yaml").read_text()
    # The cluster reads the AuroraEngineVersion parameter, whose default is the pin (a deploy sends
    # the version an existing cluster runs instead: tests/integration/deploy/test_deploy_engine_version.py).
    assert "EngineVersion: !Ref AuroraEngineVersion" in template
    assert f"  AuroraEngineVersion:\n    Type: String\n    Default: {PIN['default_version']}\n" in template


def _refresh(tmp_path: Path, *args: str, entries: list[tuple[str, str]]) -> subprocess.CompletedProcess[str]:
    """The real script on a DescribeDBEngineVersions answer of ``entries`` (version, status), writing a
    copy of the pin in ``tmp_path``."""
    listing = tmp_path / "versions.json"
    listing.write_text(json.dumps({"DBEngineVersions": [{"Engine": "aurora-mysql", "EngineVersion": v, "Status": s}
                                                        for v, s in entries]}))
    dest = tmp_path / "aurora.json"
    dest.write_text(json.dumps(PIN))
    return subprocess.run([sys.executable, str(SCRIPT), str(listing), "--dest", str(dest), *args],
                          capture_output=True, text=True, check=False)


def test_refresh_moves_the_pin_to_the_newest_available_patch_of_its_lts_minor(tmp_path: Path) -> None:
    result = _refresh(tmp_path, entries=[("8.0.mysql_aurora.3.10.1", "available"),
                                         ("8.0.mysql_aurora.3.10.3", "deprecated"),
                                         ("8.0.mysql_aurora.3.10.2", "available"),
                                         ("8.0.mysql_aurora.3.11.0", "available")])
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "aurora.json").read_text())
    assert data["default_version"] == "8.0.mysql_aurora.3.10.2" and data["lts_minor"] == "3.10"
    assert data["chosen_from"] == "versions.json: the newest available 3.10 patch RDS listed"
    assert {k: v for k, v in data.items() if k not in ("default_version", "checked", "chosen_from")} == \
        {k: v for k, v in PIN.items() if k not in ("default_version", "checked", "chosen_from")}


def test_refresh_refuses_an_lts_that_cannot_pause_or_is_not_listed(tmp_path: Path) -> None:
    """Nothing is written when the script refuses."""
    old = [("8.0.mysql_aurora.3.04.4", "available")]
    cannot = _refresh(tmp_path, "--lts", "3.04", entries=old)
    assert cannot.returncode == 1 and "below 3.08 cannot pause" in cannot.stderr
    missing = _refresh(tmp_path, entries=old)
    assert missing.returncode == 1
    assert "no available aurora-mysql 3.10.x version in the listing (it has: 8.0.mysql_aurora.3.04.4)" in missing.stderr
    assert json.loads((tmp_path / "aurora.json").read_text()) == PIN
