"""checkov on every shape of the rendered stack (scripts/checkov_check.py, ``make checkov``).

The script renders each variant, transforms it with the pinned SAM translator and runs the real
checkov offline from ``.venv-checkov`` (installed by scripts/setup.sh). A failed check must be listed
in scripts/checkov_tradeoffs.toml with its reason, and a listed one must still fail somewhere.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from wp_lambda.config import FRONT_DOORS, NETWORK_MODES

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "checkov_check.py"


def _script() -> ModuleType:
    """scripts/checkov_check.py as a module (scripts/ is no package); registered before it runs, as
    its dataclasses look their module up while being defined."""
    if "checkov_check" not in sys.modules:
        spec = importlib.util.spec_from_file_location("checkov_check", SCRIPT)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["checkov_check"] = module
        spec.loader.exec_module(module)
    return sys.modules["checkov_check"]


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    """One run of the check, as CI and `make checkov` run it (with --json)."""
    run = subprocess.run([sys.executable, str(SCRIPT), "--json"], capture_output=True, text=True, cwd=REPO,
                         timeout=600)
    assert run.stdout, run.stderr
    data = json.loads(run.stdout)
    data["returncode"] = run.returncode
    return data


def test_every_failed_check_is_fixed_or_a_listed_trade_off(report: dict[str, Any]) -> None:
    assert report["undecided"] == [], "fix these or list them in scripts/checkov_tradeoffs.toml"
    assert report["stale"] == [], "these no longer fail anywhere: remove them from scripts/checkov_tradeoffs.toml"
    assert report["returncode"] == 0


def test_the_variants_cover_every_network_mode_and_front_door() -> None:
    variants = _script().variants()
    modes = {v.settings.get("network", {}).get("mode") for v in variants}
    doors = {v.settings.get("function", {}).get("front_door", "http-api") for v in variants}
    assert modes == set(NETWORK_MODES)
    assert doors == set(FRONT_DOORS)


def test_the_gate_fails_on_an_unlisted_finding_and_on_a_stale_entry(report: dict[str, Any]) -> None:
    """The judgement the script exits on, fed the real findings: it is not a check that always passes."""
    script = _script()
    findings = [script.Finding(**f) for f in report["findings"]]
    assert findings, "checkov found nothing at all: the scan did not run on the templates"
    undecided, stale = script.judge(findings, {})
    assert len(undecided) == len(findings) and stale == []
    tradeoffs = script.load_tradeoffs()
    tradeoffs["CKV_AWS_0"] = {"title": "no such check", "resources": ["Nothing"], "reason": "-"}
    assert script.judge(findings, tradeoffs) == ([], ["CKV_AWS_0 Nothing"])


def test_a_custom_domain_raises_the_tls_minimum(report: dict[str, Any]) -> None:
    """The one finding that depends on the config: TLS 1.2 is possible only with the site's own certificate."""
    tls = {f["variant"] for f in report["findings"] if f["check"] == "CKV_AWS_174"}
    assert "public-url-domain" not in tls
    assert "natinst-httpapi" in tls
