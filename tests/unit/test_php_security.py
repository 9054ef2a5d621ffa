"""The PHP security check: release comparison, end of life against an injected date, the verdict on
Bref's pinned layers as shipped and as patched, the override, and the refresh script's new options.

``tests/conftest.py`` points ``WPLAMBDA_BREF_DATA`` at a fixture of patched layers for the session;
the tests of the data as shipped unset it (the ``shipped`` fixture).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import http.server
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from tests.support.helpers import PATCHED_BREF_DATA, REPO, shared_part
from wp_lambda import bref_layers, php_security
from wp_lambda.common.errors import UserError
from wp_lambda.config import Config
from wp_lambda.local.php import find as find_local_php
from wp_lambda.serve.site import php_branch_warning

CVES = ("CVE-2026-109618", "CVE-2026-109619")
TODAY = datetime.date(2026, 12, 7)
SCRIPT = REPO / "scripts" / "refresh_bref_layers.py"
DATA = resources.files("wp_lambda").joinpath("data")


@pytest.fixture
def shipped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bref's data as the kit ships it (not the session's patched fixture)."""
    monkeypatch.delenv(bref_layers.DATA_ENV, raising=False)


def _config(**php: object) -> Config:
    return Config.model_validate({"php": php})


def test_releases_compare_as_numbers() -> None:
    assert php_security.release_key("8.3.9") < php_security.release_key("8.3.32")
    assert php_security.release_key("8.10.0") > php_security.release_key("8.9.99")
    assert php_security.branch_of("8.4.23") == "8.4"
    with pytest.raises(UserError, match="not a PHP release"):
        php_security.release_key("8.4")


def test_lowest_patched_release_per_branch_is_the_october_2026_fix() -> None:
    assert {b: php_security.lowest_patched(b) for b in ("8.2", "8.3", "8.4", "8.5")} == \
        {"8.2": "8.2.35", "8.3": "8.3.36", "8.4": "8.4.27", "8.5": "8.5.12"}
    assert php_security.lowest_patched("7.4") is None


def test_end_of_life_is_judged_on_the_given_day() -> None:
    assert php_security.end_of_life("8.2") == datetime.date(2026, 12, 31)
    assert php_security.risks("8.2", "8.2.36", datetime.date(2026, 12, 31)) == []  # the last supported day
    (ended,) = php_security.risks("8.2", "8.2.36", datetime.date(2027, 1, 1))
    assert ended.id == "PHP-8.2-EOL" and "2026-12-31" in ended.detail
    assert php_security.risks("8.3", "8.3.37", datetime.date(2027, 12, 31)) == []
    assert [r.id for r in php_security.risks("8.3", "8.3.37", datetime.date(2028, 1, 1))] == ["PHP-8.3-EOL"]


def test_a_release_below_the_fix_names_each_cve_and_the_fixed_release() -> None:
    found = php_security.risks("8.3", "8.3.32", TODAY)
    assert [r.id for r in found] == list(CVES)
    assert all("fixed in PHP 8.3.36" in r.detail for r in found)
    assert php_security.risks("8.3", "8.3.36", TODAY) == []  # exactly the fixed release


def test_every_layer_release_is_recorded_with_its_source(shipped: None) -> None:
    assert {v: bref_layers.layer_php_release(v, "x86_64") for v in bref_layers.php_versions()} == \
        {"8.2": "8.2.32", "8.3": "8.3.32", "8.4": "8.4.23", "8.5": "8.5.8"}
    assert bref_layers.layer_php_release("8.5", "arm64") == "8.5.8"
    source = bref_layers.php_releases_source()
    assert source["date"] == "2026-07-04" and "read_from" not in source
    raw = DATA.joinpath("bref", "php-versions.json").read_bytes()
    assert source["sha256"] == hashlib.sha256(raw).hexdigest()
    facts = php_security.data()
    assert facts["end_of_life_source"].startswith("https://www.php.net/supported-versions.php")
    assert all(adv["source"] for adv in facts["advisories"])


def test_shipped_data_refuses_every_branch_naming_the_cves_and_the_fixes(shipped: None) -> None:
    for version in bref_layers.php_versions():
        found = php_security.assess(_config(version=version), TODAY)
        assert not found.ok and [r.id for r in found.refused] == list(CVES), version
    found = php_security.assess(_config(), TODAY)
    message = found.refusal()
    assert message.startswith("Bref's php-83 layer (PHP 8.3.32) is unfit to serve a site: CVE-2026-109618 (")
    assert "refresh Bref's data from its newest release (scripts/refresh_bref_layers.py" in message
    assert "php.source = \"dir\"" in message
    assert message.endswith('php.accept_vulnerable_php = ["CVE-2026-109618", "CVE-2026-109619"]')


def test_the_override_accepts_exactly_the_listed_risks_and_warns_each_time(shipped: None) -> None:
    half = php_security.assess(_config(accept_vulnerable_php=[CVES[0]]), TODAY)
    assert [r.id for r in half.refused] == [CVES[1]]  # the unlisted one is still refused
    both = php_security.assess(_config(accept_vulnerable_php=list(CVES)), TODAY)
    assert both.ok and [r.id for r in both.accepted] == list(CVES)
    assert [line for line in both.warnings() if line.startswith("WARNING: ")] == [
        f"WARNING: Bref's php-83 layer (PHP 8.3.32) has a known vulnerability, deployed anyway because "
        f"php.accept_vulnerable_php lists {cve}: {cve} (unauthenticated remote code execution in PHP's web "
        "request handling) is fixed in PHP 8.3.36" for cve in CVES]


def test_patched_layers_pass_and_say_where_their_data_was_read() -> None:
    found = php_security.assess(_config(), TODAY)
    assert found.ok and found.accepted == [] and found.subject == "Bref's php-83 layer (PHP 8.3.37)"
    assert found.notes == [f"WARNING: the PHP releases of Bref's layers were read from {PATCHED_BREF_DATA}/"
                           "php-versions.json (WPLAMBDA_BREF_DATA), not from the kit's packaged data: unset it "
                           "unless this is the test suite's patched fixture"]
    stale = php_security.assess(_config(accept_vulnerable_php=[CVES[0]]), TODAY)
    assert stale.ok and any(f"lists {CVES[0]}, which no longer applies" in n for n in stale.notes)
    # A patched 8.2 still ends with its branch: refused from 2027 on, with the other branches offered.
    ended = php_security.assess(_config(version="8.2"), datetime.date(2027, 1, 1))
    assert [r.id for r in ended.refused] == ["PHP-8.2-EOL"]
    assert "choose php.version = 8.3 or 8.4 or 8.5 (patched layers)" in ended.refusal()


def test_own_php_is_checked_for_end_of_life_only(shipped: None) -> None:
    own = php_security.assess(_config(source="dir", dir="/opt/php"), TODAY)
    assert own.ok and own.subject == "PHP 8.3 from php.dir"
    assert own.notes == ["PHP 8.3 from php.dir is your own build: the kit checks its branch's end of life but has "
                         "no record of its patch release; keep it at 8.3.36 or later (CVE-2026-109618, "
                         "CVE-2026-109619)"]
    ended = php_security.assess(_config(source="dir", dir="/opt/php", version="8.2"), datetime.date(2027, 1, 1))
    assert [r.id for r in ended.refused] == ["PHP-8.2-EOL"]
    layer = php_security.assess(_config(layer_arn="arn:aws:lambda:us-east-1:123456789012:layer:my-php:3"), TODAY)
    assert layer.ok and layer.subject == "PHP 8.3 from php.layer_arn"


def test_brefs_own_layer_named_in_layer_arn_is_judged_like_the_pinned_one(shipped: None) -> None:
    """php.layer_arn set to Bref's pinned layer, or an older version of it, is no way around the
    check: an older version's PHP is at most the pinned one's. A newer version is unknown to the data."""
    pinned = bref_layers.layer_arn("us-east-1", "8.3", "x86_64")
    assert pinned is not None
    base, _, version = pinned.rpartition(":")
    for arn in (pinned, f"{base}:{int(version) - 3}"):
        found = php_security.assess(_config(layer_arn=arn), TODAY)
        assert [r.id for r in found.refused] == list(CVES), arn
        assert found.subject == f"Bref's layer {arn} from php.layer_arn (PHP 8.3.32 or older)"
    # php.version says 8.2, the ARN is Bref's 8.3 layer: the ARN's branch is what runs.
    other_branch = php_security.assess(_config(layer_arn=pinned, version="8.2"), TODAY)
    assert other_branch.subject.endswith("(PHP 8.3.32 or older)")
    newer = php_security.assess(_config(layer_arn=f"{base}:{int(version) + 1}"), TODAY)
    assert newer.ok and newer.subject == "PHP 8.3 from php.layer_arn"


def test_the_data_variable_replaces_only_the_php_releases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """WPLAMBDA_BREF_DATA is the tests' patched fixture of PHP releases; a layers.json there (other
    ARNs, another account) is never read."""
    (tmp_path / "layers.json").write_text(json.dumps({"php-83": {"us-east-1": 999}}))
    (tmp_path / "metadata.json").write_text("{}")
    monkeypatch.setenv(bref_layers.DATA_ENV, str(tmp_path))
    assert bref_layers.layer_arn("us-east-1", "8.3", "x86_64") != \
        f"arn:aws:lambda:us-east-1:{bref_layers.base_account()}:layer:php-83:999"
    assert bref_layers.source().release


def test_the_default_php_version_is_a_supported_bref_branch() -> None:
    found = php_security.assess(Config(), TODAY)  # the patched fixture: only the branch's support matters
    assert Config().php.version == "8.3" and found.ok
    assert "8.3" in bref_layers.php_versions()


# -- the refresh script ------------------------------------------------------------------------------

def _refresh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A directory served over HTTP on loopback: the refresh script's URL sources, with no internet."""
    root = tmp_path / "published"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_refresh_takes_a_release_from_urls_and_writes_the_php_releases(served: tuple[str, Path],
                                                                       tmp_path: Path) -> None:
    url, published = served
    (published / "layers.json").write_bytes(shared_part("bref/bref-3.0.9-layers.json").read_bytes())
    (published / "php-versions.json").write_bytes((PATCHED_BREF_DATA / "php-versions.json").read_bytes())
    dest = tmp_path / "bref"
    dest.mkdir()
    (dest / "extra-php-extensions-layers.json").write_bytes(
        DATA.joinpath("bref", "extra-php-extensions-layers.json").read_bytes())
    result = _refresh(f"{url}/layers.json", str(dest / "extra-php-extensions-layers.json"), "--release", "3.1.0",
                      "--php-versions", f"{url}/php-versions.json", "--php-versions-date", "2026-11-20",
                      "--dest", str(dest))
    assert result.returncode == 0, result.stderr
    assert json.loads((dest / "php-versions.json").read_text())["php-84"] == "8.4.28"
    entry = json.loads((dest / "metadata.json").read_text())["files"]["php-versions.json"]
    assert entry["date"] == "2026-11-20" and entry["tag"] == "3.1.0" and entry["source"].startswith(url)


def test_refresh_refuses_new_layers_without_their_php_releases(shared_bref: Path, tmp_path: Path) -> None:
    dest = tmp_path / "bref"
    dest.mkdir()
    refused = _refresh(str(shared_bref), "--release", "3.0.9", "--dest", str(dest))
    assert refused.returncode != 0 and "pass --php-versions" in refused.stderr
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**json.loads(DATA.joinpath("bref", "php-versions.json").read_text()),
                                 "php-84": "8.3.99"}))
    refused = _refresh(str(shared_bref), "--release", "3.0.9", "--php-versions", str(wrong), "--dest", str(dest))
    assert refused.returncode != 0 and "layer 'php-84' needs its PHP release on branch 8.4" in refused.stderr
    assert list(dest.iterdir()) == []  # nothing written
    # Newer releases alone, beside the packaged ARNs, would mark the pinned layers as patched.
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({name: f"{release.rsplit('.', 1)[0]}.99" for name, release in
                                 json.loads(DATA.joinpath("bref", "php-versions.json").read_text()).items()}))
    refused = _refresh("--php-versions", str(newer), "--dest", str(dest))
    assert refused.returncode != 0 and "pass that release's layers.json too" in refused.stderr
    assert list(dest.iterdir()) == []


def test_refresh_replaces_the_security_data_after_checking_it(tmp_path: Path) -> None:
    target = tmp_path / "php_security.json"
    facts = json.loads(DATA.joinpath("php_security.json").read_text())
    facts["advisories"].append({"ids": ["CVE-2026-200001"], "summary": "a later bug", "released": "2026-11",
                                "fixed_in": {"8.4": "8.4.28"}, "source": "https://www.php.net/ChangeLog-8.php"})
    given = tmp_path / "new.json"
    given.write_text(json.dumps(facts))
    result = _refresh("--php-security", str(given), "--security-dest", str(target), "--dest", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert json.loads(target.read_text())["advisories"][-1]["ids"] == ["CVE-2026-200001"]
    assert not (tmp_path / "metadata.json").exists()  # Bref's data was not touched
    facts["advisories"][-1]["fixed_in"] = {"8.4": "8.5.1"}
    given.write_text(json.dumps(facts))
    refused = _refresh("--php-security", str(given), "--security-dest", str(target), "--dest", str(tmp_path))
    assert refused.returncode != 0 and "is not a release of a listed branch" in refused.stderr
    assert json.loads(target.read_text())["advisories"][-1]["fixed_in"] == {"8.4": "8.4.28"}


@pytest.fixture
def shared_bref() -> Path:
    return shared_part("bref")


def test_serve_warns_when_the_local_branch_is_not_the_deployed_one() -> None:
    """serve runs the machine's PHP (Debian's 8.2 here), never Bref's layer: with the default 8.3 it warns."""
    local = find_local_php(Config().php.version, environ={}).version
    assert local == "8.2"  # the kit's setup: Debian's PHP; a machine with php8.3 would need no warning
    assert php_branch_warning(local, Config().php.version) == (
        "local PHP is 8.2 but the deployed site runs PHP 8.3 (php.version): code that works here may still "
        "fail when deployed")
    assert php_branch_warning("8.3", "8.3") is None


def test_a_release_that_is_not_one_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hand-edited php-versions.json ("8.3.36RC1") is named, not a traceback, in validate and deploy."""
    (tmp_path / "php-versions.json").write_text(json.dumps({"php-83": "8.3.36RC1"}))
    monkeypatch.setenv(bref_layers.DATA_ENV, str(tmp_path))
    with pytest.raises(UserError, match=re.escape("'8.3.36RC1' in Bref's php-versions.json")):
        php_security.assess(_config(), TODAY)
