"""The Bref layer table is Bref's own published data, and every ARN the kit hands out is in it.

The packaged lists are compared with the reference copies in ``../shared/bref/`` (skipped only
when that directory is absent), and the refusals users meet (a region or architecture Bref does
not publish to) are checked through the real ``wplambda`` console script, exit code included.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from tests.support.helpers import REPO, run_wplambda, shared_part
from wp_lambda import bref_layers
from wp_lambda.common.errors import UserError
from wp_lambda.config import PHP_VERSIONS, Config, php_layer_arn

DATA = resources.files("wp_lambda").joinpath("data", "bref")
BREF_ACCOUNT, EXTENSIONS_ACCOUNT = "873528684822", "403367587399"
ARN = re.compile(r"^arn:aws:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):layer:"
                 r"(?P<name>[a-z0-9-]+):(?P<version>\d+)$")


def _published() -> dict[str, dict[str, int]]:
    return json.loads(DATA.joinpath("layers.json").read_text())


def _published_extensions() -> dict[str, dict[str, int]]:
    return json.loads(DATA.joinpath("extra-php-extensions-layers.json").read_text())


def _in_data(arn: str, data: dict[str, dict[str, int]], account: str) -> bool:
    """Whether ``arn`` is exactly one (layer, region, version) entry of a Bref list, in its account."""
    match = ARN.match(arn)
    assert match, arn
    return (match["account"] == account
            and data.get(match["name"], {}).get(match["region"]) == int(match["version"]))


@pytest.fixture(scope="module")
def shared() -> Path:
    return shared_part("bref")


def test_packaged_lists_are_brefs_files(shared: Path) -> None:
    assert DATA.joinpath("layers.json").read_bytes() == (shared / "bref-3.0.9-layers.json").read_bytes()
    assert (DATA.joinpath("extra-php-extensions-layers.json").read_bytes()
            == (shared / "extra-php-extensions-layers.json").read_bytes())


def test_metadata_names_the_release_and_matches_the_files() -> None:
    meta = json.loads(DATA.joinpath("metadata.json").read_text())
    assert meta["bref_release"] == "3.0.9" == bref_layers.source().release
    for name, entry in meta["files"].items():
        assert entry["sha256"] == hashlib.sha256(DATA.joinpath(name).read_bytes()).hexdigest()
    assert meta["files"]["layers.json"]["account"] == BREF_ACCOUNT == bref_layers.base_account()
    assert meta["files"]["extra-php-extensions-layers.json"]["account"] == EXTENSIONS_ACCOUNT
    assert meta["files"]["extra-php-extensions-layers.json"]["date"] == "2026-06-25"
    assert bref_layers.source().base_commit == "0d899c6a2122519d4b69f80ef20503007cccafbc"


def test_every_table_arn_is_an_entry_of_brefs_data() -> None:
    rows = bref_layers.table()
    published = _published()
    assert len(rows) == sum(len(regions) for regions in published.values())  # nothing added, nothing lost
    for php, arch, region, arn in rows:
        assert _in_data(arn, published, BREF_ACCOUNT), arn
        assert arn == bref_layers.require_layer_arn(region, php, arch) == bref_layers.layer_arn(region, php, arch)
        name = ARN.match(arn)["name"]  # type: ignore[index]
        assert re.fullmatch(r"^(arm-)?php-8[2-9]$", name), name
        assert name.startswith("arm-") == (arch == "arm64")


def test_every_extension_arn_is_an_entry_of_brefs_data() -> None:
    published = _published_extensions()
    for php in bref_layers.php_versions():
        for ext in bref_layers.extension_names(php):
            for region in published[f"{ext}-php-{php.replace('.', '')}"]:
                arn = bref_layers.extension_layer_arn(ext, region, php, "x86_64")
                assert _in_data(arn, published, EXTENSIONS_ACCOUNT), arn
    assert {"gd", "imagick"} <= set(bref_layers.extension_names("8.4"))


def test_regions_and_php_versions_are_brefs() -> None:
    published = _published()
    assert bref_layers.regions() == tuple(sorted(next(iter(published.values()))))
    assert all(set(regions) == set(bref_layers.regions()) for regions in published.values())
    assert "eu-west-1" in bref_layers.regions() and "il-central-1" not in bref_layers.regions()
    assert bref_layers.php_versions() == PHP_VERSIONS == ("8.2", "8.3", "8.4", "8.5")


def test_php_85_on_arm64() -> None:
    version = _published()["arm-php-85"]["eu-central-1"]
    assert bref_layers.require_layer_arn("eu-central-1", "8.5", "arm64") == \
        f"arn:aws:lambda:eu-central-1:{BREF_ACCOUNT}:layer:arm-php-85:{version}"
    config = Config()
    config.aws.region, config.aws.architecture, config.php.version = "eu-central-1", "arm64", "8.5"
    assert php_layer_arn(config) == f"arn:aws:lambda:eu-central-1:{BREF_ACCOUNT}:layer:arm-php-85:{version}"
    printed = run_wplambda("layers", "--region", "eu-central-1", "--php", "8.5", "--arch", "arm64")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.strip() == php_layer_arn(config)


def test_gd_layer_on_x86_64() -> None:
    version = _published_extensions()["gd-php-84"]["eu-west-1"]
    assert bref_layers.extension_layer_arn("gd", "eu-west-1", "8.4", "x86_64") == \
        f"arn:aws:lambda:eu-west-1:{EXTENSIONS_ACCOUNT}:layer:gd-php-84:{version}"


def test_layer_arn_override_wins() -> None:
    config = Config()
    config.aws.region = "il-central-1"  # Bref has nothing there; the user's own layer is used as given
    assert php_layer_arn(config) is None
    config.php.layer_arn = "arn:aws:lambda:il-central-1:123456789012:layer:my-php:3"
    assert php_layer_arn(config) == config.php.layer_arn


def test_unpublished_region_exits_2_naming_brefs_regions() -> None:
    with pytest.raises(UserError, match="il-central-1"):
        bref_layers.require_layer_arn("il-central-1", "8.4", "x86_64")
    result = run_wplambda("layers", "--region", "il-central-1", "--php", "8.4", "--arch", "arm64")
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())  # rich may wrap the long line
    assert "no PHP 8.4 layer for arm64 in il-central-1" in message
    assert all(region in message for region in bref_layers.regions())


def test_unpublished_php_version_exits_2() -> None:
    result = run_wplambda("layers", "--region", "eu-west-1", "--php", "8.1")
    assert result.returncode == 2
    assert "8.2, 8.3, 8.4, 8.5" in " ".join(result.stderr.split())


def test_gd_on_arm64_is_refused() -> None:
    with pytest.raises(UserError, match="no arm64 extra-extension layers"):
        bref_layers.extension_layer_arn("gd", "eu-west-1", "8.4", "arm64")
    result = run_wplambda("layers", "--region", "eu-west-1", "--php", "8.4", "--arch", "arm64", "--extension", "gd")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Bref publishes no arm64 extra-extension layers" in " ".join(result.stderr.split())


def test_layers_command_names_its_source() -> None:
    text = run_wplambda("layers")
    assert text.returncode == 0, text.stderr
    first, releases, *rows = text.stdout.splitlines()
    assert first.startswith("# Bref 3.0.9:") and "2026-06-25" in first
    # The session reads Bref's layers as patched (tests/support/bref_patched).
    assert releases == "# PHP in these layers: 8.2: 8.2.36, 8.3: 8.3.37, 8.4: 8.4.28, 8.5: 8.5.13"
    assert len(rows) == len(bref_layers.table())
    data = json.loads(run_wplambda("layers", "--json").stdout)
    assert data["source"]["release"] == "3.0.9" and data["source"]["extensions_date"] == "2026-06-25"
    assert data["account"] == BREF_ACCOUNT and data["regions"] == list(bref_layers.regions())
    assert [row["arn"] for row in data["layers"]] == [row[3] for row in bref_layers.table()]
    assert {row["php_release"] for row in data["layers"] if row["php"] == "8.5"} == {"8.5.13"}


def test_refresh_script_rewrites_the_files_and_metadata(shared: Path, tmp_path: Path) -> None:
    dest = tmp_path / "bref"
    dest.mkdir()
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "refresh_bref_layers.py"), str(shared),
                             "--release", "3.0.9", "--bref-commit", "0d899c6a2122519d4b69f80ef20503007cccafbc",
                             "--extensions-commit", "e2ef5a7ddc0ddd2e0f8455d46e857e8f993ce8cb",
                             "--extensions-date", "2026-06-25", "--dest", str(dest),
                             # Bref's PHP releases of those layers, with where they were recorded from.
                             "--php-versions", str(DATA.joinpath("php-versions.json")),
                             "--php-versions-date", "2026-07-04", "--php-versions-source",
                             bref_layers.php_releases_source()["source"]],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "skipped" in result.stdout  # the Bref v2 list in the same directory is not v3 data
    for name in ("layers.json", "extra-php-extensions-layers.json", "php-versions.json", "metadata.json"):
        assert (dest / name).read_bytes() == DATA.joinpath(name).read_bytes(), name
    assert not list(dest.glob(".*.tmp"))  # temp files were renamed into place
    # A single file that is not a Bref v3 list is refused, and nothing is written.
    before = (dest / "metadata.json").read_bytes()
    refused = subprocess.run([sys.executable, str(REPO / "scripts" / "refresh_bref_layers.py"),
                              str(shared / "bref-2.x-npm-2.0.118-layers.json"), "--dest", str(dest)],
                             capture_output=True, text=True, check=False)
    assert refused.returncode != 0 and (dest / "metadata.json").read_bytes() == before
