"""Pinned build tools (composer.phar, wp-cli.phar): downloaded from a server on 127.0.0.1 through
the same code path as getcomposer.org and GitHub, verified against the published checksum, cached.

The served composer.phar is a PHP script that hands its arguments to Debian's Composer, so a
real deploy build runs through the downloaded file; wp-cli's real phar cannot be had here, so its
download is checked up to the command the build would run.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from buildhelpers import composer_repos, make_project

from wp_lambda import build as build_mod
from wp_lambda.build import QuietReporter, fetch
from wp_lambda.build.composer import COMPOSER, find_composer
from wp_lambda.build.plugins import WP_CLI, find_wp_cli
from wp_lambda.config import load
from wp_lambda.errors import UserError

DELEGATING_PHAR = b"""<?php
// Test download: runs Debian's Composer with the arguments it was given.
passthru('/usr/bin/composer ' . implode(' ', array_map('escapeshellarg', array_slice($argv, 1))), $code);
exit($code);
"""


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached release is used without asking the server, so each test starts with none."""
    monkeypatch.setenv("WPLAMBDA_CACHE_DIR", str(tmp_path / "cache"))


def publish(root: Path, folder: str, name: str, data: bytes, checksum: str, suffix: str) -> str:
    """Put ``name`` and its checksum file under ``root/folder``; return the phar's path part."""
    (root / folder).mkdir(parents=True, exist_ok=True)
    (root / folder / name).write_bytes(data)
    (root / folder / f"{name}{suffix}").write_text(f"{checksum}  {name}\n")
    return f"{folder}/{name}"


def cached_files(tool: str) -> list[Path]:
    return sorted((fetch.cache_dir() / tool).rglob("*.phar"))


def test_pinned_composer_is_downloaded_verified_cached_and_used(
        tmp_path: Path, wp_source: Path, composer_packages: Path, http_root: tuple[Path, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    root, base = http_root
    path = publish(root, "composer-ok", "composer.phar", DELEGATING_PHAR,
                   hashlib.sha256(DELEGATING_PHAR).hexdigest(), ".sha256sum")
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
    # ...unless the cached copy no longer matches its checksum: then it is fetched again.
    cached[0].write_bytes(b"<?php // damaged")
    with pytest.raises(UserError, match=r"no published sha256"):
        find_composer(QuietReporter())


def test_a_checksum_mismatch_stops_and_caches_nothing(http_root: tuple[Path, str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    root, base = http_root
    wrong = hashlib.sha256(b"something else").hexdigest()
    path = publish(root, "composer-bad", "composer.phar", b"<?php echo 'tampered';", wrong, ".sha256sum")
    monkeypatch.setenv("WPLAMBDA_COMPOSER", "pinned")
    monkeypatch.setenv("WPLAMBDA_COMPOSER_URL", f"{base}/{path}")
    with pytest.raises(UserError) as caught:
        find_composer(QuietReporter())
    message = str(caught.value)
    assert "composer checksum mismatch" in message and wrong in message
    assert hashlib.sha256(b"<?php echo 'tampered';").hexdigest() in message
    assert cached_files("composer") == []


def test_no_published_checksum_is_a_clear_error(http_root: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    root, base = http_root
    (root / "composer-unsigned").mkdir()
    (root / "composer-unsigned" / "composer.phar").write_bytes(DELEGATING_PHAR)
    monkeypatch.setenv("WPLAMBDA_COMPOSER", "pinned")
    monkeypatch.setenv("WPLAMBDA_COMPOSER_URL", f"{base}/composer-unsigned/composer.phar")
    with pytest.raises(UserError, match=r"no published sha256 at .*composer\.phar\.sha256sum"):
        find_composer(QuietReporter())


def test_without_composer_on_path_the_pinned_one_is_used(tmp_path: Path, http_root: tuple[Path, str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    root, base = http_root
    data = DELEGATING_PHAR + b"// fallback\n"
    path = publish(root, "composer-fallback", "composer.phar", data, hashlib.sha256(data).hexdigest(), ".sha256sum")
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


def test_pinned_wp_cli_is_verified_with_sha512(tmp_path: Path, wp_source: Path, http_root: tuple[Path, str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    root, base = http_root
    data = b"<?php echo 'wp-cli stand-in';"
    path = publish(root, "wp-cli", f"wp-cli-{WP_CLI.version}.phar", data, hashlib.sha512(data).hexdigest(),
                   ".sha512")
    monkeypatch.setenv("WPLAMBDA_WP_CLI_URL", f"{base}/{path}")
    config = load(make_project(tmp_path / "site", wp_source))
    config.build.wp_cli = "pinned"
    cli = find_wp_cli(config, QuietReporter())
    assert cli is not None and cli.origin == f"wp-cli {WP_CLI.version} (pinned, sha512 verified)"
    assert Path(cli.command[1]).read_bytes() == data
    # The published file holds the sha512; a sha256 in its place does not pass.
    (root / f"{path}.sha512").write_text(hashlib.sha256(data).hexdigest())
    for cached in cached_files("wp-cli"):
        cached.unlink()
    assert cached_files("wp-cli") == []
    with pytest.raises(UserError, match="wp-cli checksum mismatch"):
        find_wp_cli(config, QuietReporter())
