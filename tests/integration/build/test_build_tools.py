"""Pinned build tools (composer.phar, wp-cli.phar): downloaded from a server on 127.0.0.1 through
the same code path as getcomposer.org and GitHub, verified, cached.

Both are checked against the checksum pinned in the kit (``PinnedPhar.digest``), the checksum
file a server publishes beside the phar only cross-checked. The official phars cannot be had here,
so the tests serve stand-ins and put each stand-in's own checksum in the pin's place where the
build reads it; and, with the real pins, mirrors serving other bytes are refused. The served
composer.phar is a PHP script that hands its arguments to Debian's Composer, so a real deploy
build runs through the downloaded file; the wp-cli download is checked up to the command the build
would run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.support.build import composer_repos, make_project
from tests.support.helpers import run_wplambda
from wp_lambda import bundle as build_mod
from wp_lambda.bundle import QuietReporter, composer, plugins
from wp_lambda.bundle.composer import COMPOSER, find_composer
from wp_lambda.bundle.plugins import ENV_WP_CLI_PHAR, WP_CLI, find_wp_cli
from wp_lambda.common import fetch
from wp_lambda.common.errors import UserError
from wp_lambda.config import load

# wp-cli 2.12.0's published sha512 (wp-cli-2.12.0.phar.sha512), written out again so that an edit
# of the pin in wp_lambda/bundle/plugins.py has to be made twice.
PUBLISHED_WP_CLI_SHA512 = ("be928f6b8ca1e8dfb9d2f4b75a13aa4aee0896f8a9a0a1c45cd5d2c98605e617"
                           "2e6d014dda2e27f88c98befc16c040cbb2bd1bfa121510ea5cdf5f6a30fe8832")
# Composer 2.10.3's published sha256 (composer.phar.sha256sum on getcomposer.org), likewise.
PUBLISHED_COMPOSER_SHA256 = "7a2d379d5b8ffdaa028580ef26494c36d2feef4b178d3dd1473a4dbc5e17c8d6"

DELEGATING_PHAR = b"""<?php
// Test download: runs Debian's Composer with the arguments it was given.
passthru('/usr/bin/composer ' . implode(' ', array_map('escapeshellarg', array_slice($argv, 1))), $code);
exit($code);
"""


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached release is used without asking the server, so each test starts with none."""
    monkeypatch.setenv("WPLAMBDA_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture()
def downloading_wp_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """The session's stand-in for the pinned wp-cli unset: "pinned" means the download."""
    monkeypatch.delenv(ENV_WP_CLI_PHAR, raising=False)


def publish(root: Path, folder: str, name: str, data: bytes, checksum: str, suffix: str) -> str:
    """Put ``name`` and its checksum file under ``root/folder``; return the phar's path part."""
    (root / folder).mkdir(parents=True, exist_ok=True)
    (root / folder / name).write_bytes(data)
    (root / folder / f"{name}{suffix}").write_text(f"{checksum}  {name}\n")
    return f"{folder}/{name}"


def cached_files(tool: str) -> list[Path]:
    return sorted((fetch.cache_dir() / tool).rglob("*.phar"))


def pin_composer_stand_in(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    """Pin Composer to the stand-in's sha256 where the build reads the pin (``composer.COMPOSER``)."""
    monkeypatch.setattr(composer, "COMPOSER", dataclasses.replace(COMPOSER, digest=hashlib.sha256(data).hexdigest()))


def test_pinned_composer_is_downloaded_verified_cached_and_used(
        tmp_path: Path, wp_source: Path, composer_packages: Path, http_root: tuple[Path, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    root, base = http_root
    path = publish(root, "composer-ok", "composer.phar", DELEGATING_PHAR,
                   hashlib.sha256(DELEGATING_PHAR).hexdigest(), ".sha256sum")
    pin_composer_stand_in(monkeypatch, DELEGATING_PHAR)
    monkeypatch.setenv("WPLAMBDA_COMPOSER", "pinned")
    monkeypatch.setenv("WPLAMBDA_COMPOSER_URL", f"{base}/{path}")
    monkeypatch.setenv("WPLAMBDA_COMPOSER_REPOSITORIES", json.dumps(composer_repos(composer_packages)))
    reporter = QuietReporter()
    result = build_mod.build(load(make_project(tmp_path / "site", wp_source)), progress=reporter)
    assert (result.function / "vendor" / "humanmade" / "s3-uploads" / "s3-uploads.php").is_file()
    assert any(f"downloading composer {COMPOSER.version}" in m for m in reporter.messages)
    cached = [p for p in cached_files("composer") if p.read_bytes() == DELEGATING_PHAR]
    assert len(cached) == 1
    # Once cached, the tool is used without the network (offline rebuilds keep working)...
    (root / path).unlink()
    (root / f"{path}.sha256sum").unlink()
    assert find_composer(QuietReporter())[1] == str(cached[0])
    # ...unless the cached copy no longer matches the pin: then it is fetched again.
    cached[0].write_bytes(b"<?php // damaged")
    with pytest.raises(UserError, match=r"composer\.phar is not there"):
        find_composer(QuietReporter())
    (root / path).write_bytes(DELEGATING_PHAR)  # back on the server, without its checksum file
    assert Path(find_composer(QuietReporter())[1]).read_bytes() == DELEGATING_PHAR


def test_a_download_that_is_not_the_pinned_one_stops_and_caches_nothing(http_root: tuple[Path, str],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """No checksum file beside the phar (a mirror need not publish one): the download itself is
    checked against the pin."""
    root, base = http_root
    (root / "composer-bad").mkdir()
    (root / "composer-bad" / "composer.phar").write_bytes(b"<?php echo 'tampered';")
    pin_composer_stand_in(monkeypatch, DELEGATING_PHAR)
    monkeypatch.setenv("WPLAMBDA_COMPOSER", "pinned")
    monkeypatch.setenv("WPLAMBDA_COMPOSER_URL", f"{base}/composer-bad/composer.phar")
    with pytest.raises(UserError) as caught:
        find_composer(QuietReporter())
    message = str(caught.value)
    assert "composer checksum mismatch" in message and hashlib.sha256(DELEGATING_PHAR).hexdigest() in message
    assert hashlib.sha256(b"<?php echo 'tampered';").hexdigest() in message
    assert not list((fetch.cache_dir() / "composer").rglob("*"))


def test_a_mirror_publishing_its_own_composer_checksum_is_refused(http_root: tuple[Path, str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """With the real pin, a mirror's .sha256sum that matches the other bytes it serves does not
    make them acceptable: refused before the download, naming both digests."""
    root, base = http_root
    data = b"<?php echo 'some other composer';"
    offered = hashlib.sha256(data).hexdigest()
    path = publish(root, "composer-mirror", "composer.phar", data, offered, ".sha256sum")
    monkeypatch.setenv("WPLAMBDA_COMPOSER", "pinned")
    monkeypatch.setenv("WPLAMBDA_COMPOSER_URL", f"{base}/{path}")
    with pytest.raises(UserError) as caught:
        find_composer(QuietReporter())
    message = str(caught.value)
    assert PUBLISHED_COMPOSER_SHA256 in message and offered in message
    assert not list((fetch.cache_dir() / "composer").rglob("*"))


def test_the_composer_pin_is_its_published_sha256() -> None:
    """A guard against an accidental edit of the pin (Debian's Composer is 2.5.5, so there are no
    official 2.10.3 bytes here to compare with)."""
    assert (COMPOSER.version, COMPOSER.algorithm, COMPOSER.checksum_suffix) == ("2.10.3", "sha256", ".sha256sum")
    assert COMPOSER.url == "https://getcomposer.org/download/2.10.3/composer.phar"
    assert COMPOSER.digest == PUBLISHED_COMPOSER_SHA256


def test_without_composer_on_path_the_pinned_one_is_used(tmp_path: Path, http_root: tuple[Path, str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    root, base = http_root
    data = DELEGATING_PHAR + b"// fallback\n"
    path = publish(root, "composer-fallback", "composer.phar", data, hashlib.sha256(data).hexdigest(), ".sha256sum")
    pin_composer_stand_in(monkeypatch, data)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    php = shutil.which("php")
    assert php is not None
    (bin_dir / "php").symlink_to(php)
    monkeypatch.setenv("PATH", str(bin_dir))  # php, and no composer
    monkeypatch.delenv("WPLAMBDA_COMPOSER", raising=False)
    monkeypatch.setenv("WPLAMBDA_COMPOSER_URL", f"{base}/{path}")
    reporter = QuietReporter()
    command = find_composer(reporter)
    assert command[0] == str(bin_dir / "php") and Path(command[1]).read_bytes() == data
    assert any("Composer is not on PATH" in m for m in reporter.messages)


def pin_wp_cli_stand_in(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    """Pin wp-cli to the stand-in's sha512 where the build reads the pin (``plugins.WP_CLI``)."""
    monkeypatch.setattr(plugins, "WP_CLI", dataclasses.replace(WP_CLI, digest=hashlib.sha512(data).hexdigest()))


@pytest.mark.usefixtures("downloading_wp_cli")
def test_pinned_wp_cli_is_verified_with_sha512(tmp_path: Path, wp_source: Path, http_root: tuple[Path, str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    root, base = http_root
    data = b"<?php echo 'wp-cli stand-in';"
    path = publish(root, "wp-cli", f"wp-cli-{WP_CLI.version}.phar", data, hashlib.sha512(data).hexdigest(),
                   ".sha512")
    pin_wp_cli_stand_in(monkeypatch, data)
    monkeypatch.setenv("WPLAMBDA_WP_CLI_URL", f"{base}/{path}")
    config = load(make_project(tmp_path / "site", wp_source))
    config.build.wp_cli = "pinned"
    cli = find_wp_cli(config, QuietReporter())
    assert cli is not None and cli.origin == f"wp-cli {WP_CLI.version} (pinned, sha512 verified)"
    assert Path(cli.command[1]).read_bytes() == data
    assert Path(cli.command[1]).parent.name == f"{WP_CLI.version}-{hashlib.sha512(data).hexdigest()[:16]}"

    def uncache() -> None:
        for cached in cached_files("wp-cli"):
            cached.unlink()
        assert cached_files("wp-cli") == []

    # With the pin, a mirror need not publish the checksum file...
    (root / f"{path}.sha512").unlink()
    uncache()
    cli = find_wp_cli(config, QuietReporter())
    assert cli is not None and Path(cli.command[1]).read_bytes() == data
    # ...but one it does publish must name the pinned sha512: a sha256 in its place does not pass.
    (root / f"{path}.sha512").write_text(hashlib.sha256(data).hexdigest())
    uncache()
    with pytest.raises(UserError, match="is pinned in wplambda to"):
        find_wp_cli(config, QuietReporter())
    assert cached_files("wp-cli") == []


def test_the_pin_is_wp_clis_published_sha512() -> None:
    """A guard against an accidental edit of the pin: it is the sha512 wp-cli publishes for the
    2.12.0 release, and the release URL is that version's.

    ../shared/wp-cli/wp-cli.phar is not compared with it: per ../shared/wp-cli/README.md it is
    WP-CLI 2.12.0 built offline from source, whose bytes differ from the official phar.
    """
    assert (WP_CLI.version, WP_CLI.algorithm, WP_CLI.checksum_suffix) == ("2.12.0", "sha512", ".sha512")
    assert WP_CLI.url == "https://github.com/wp-cli/wp-cli/releases/download/v2.12.0/wp-cli-2.12.0.phar"
    assert WP_CLI.digest == PUBLISHED_WP_CLI_SHA512


@pytest.mark.usefixtures("downloading_wp_cli")
@pytest.mark.parametrize("mirror_publishes_checksum", [True, False], ids=["with-own-sha512", "without-sha512"])
def test_a_mirror_serving_other_bytes_than_the_pin_is_refused(tmp_path: Path, wp_source: Path,
                                                              http_root: tuple[Path, str],
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              mirror_publishes_checksum: bool) -> None:
    """With the real pin, a mirror's own .sha512 (matching the bytes it serves) does not make its
    phar acceptable; without one, the download itself is checked against the pin. Both ways the
    error names the pinned and the offered digest, and nothing is cached."""
    root, base = http_root
    data = b"<?php echo 'not the published wp-cli 2.12.0';"
    offered = hashlib.sha512(data).hexdigest()
    folder = "mirror-own-sha512" if mirror_publishes_checksum else "mirror-no-sha512"
    path = publish(root, folder, f"wp-cli-{WP_CLI.version}.phar", data, offered, ".sha512")
    if not mirror_publishes_checksum:
        (root / f"{path}.sha512").unlink()
    monkeypatch.setenv("WPLAMBDA_WP_CLI_URL", f"{base}/{path}")
    config = load(make_project(tmp_path / "site", wp_source))
    config.build.wp_cli = "pinned"
    with pytest.raises(UserError) as caught:
        find_wp_cli(config, QuietReporter())
    message = str(caught.value)
    assert PUBLISHED_WP_CLI_SHA512 in message and offered in message
    assert not list((fetch.cache_dir() / "wp-cli").rglob("*"))


@pytest.mark.usefixtures("downloading_wp_cli")
def test_build_with_a_mirror_serving_other_bytes_exits_2(tmp_path: Path, wp_source: Path,
                                                         http_root: tuple[Path, str]) -> None:
    """The same refusal through the real ``wplambda build``: exit 2, one message naming both digests."""
    root, base = http_root
    data = b"<?php echo 'a mirror build of wp-cli';"
    offered = hashlib.sha512(data).hexdigest()
    path = publish(root, "mirror-cli", f"wp-cli-{WP_CLI.version}.phar", data, offered, ".sha512")
    project = make_project(tmp_path / "site", wp_source, build={"wp_cli": "pinned"})
    cache = tmp_path / "cache"
    result = run_wplambda("build", "--project", str(project), "--target", "serve",
                          env={"WPLAMBDA_WP_CLI_URL": f"{base}/{path}", "WPLAMBDA_CACHE_DIR": str(cache)})
    assert result.returncode == 2, result.stdout + result.stderr
    assert PUBLISHED_WP_CLI_SHA512 in result.stderr and offered in result.stderr
    assert "Traceback" not in result.stderr
    assert not list((cache / "wp-cli").rglob("*"))
