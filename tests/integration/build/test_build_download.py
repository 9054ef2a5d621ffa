"""WordPress core over HTTP (a server on 127.0.0.1 standing in for wordpress.org), from a
local tarball, and without a network: verified, cached, and never destructive."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import pytest

from tests.support.build import make_project
from tests.support.helpers import run_wplambda
from tests.support.ports import free_port
from wp_lambda import bundle as build_mod
from wp_lambda.bundle import QuietReporter
from wp_lambda.common import fetch
from wp_lambda.common.errors import UserError
from wp_lambda.config import load

VERSION = "6.1.9"


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory, wp_source: Path, http_root: tuple[Path, str]) -> tuple[str, str]:
    """wordpress-6.1.9.tar.gz (Debian's tree without translations, to keep it quick) and its
    .sha1, served like wordpress.org does; returns (base URL, sha1)."""
    served, base = http_root
    archive = served / "wp" / f"wordpress-{VERSION}.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz", compresslevel=1) as tf:
        tf.add(wp_source, arcname="wordpress",
               filter=lambda info: None if "/wp-content/languages/" in info.name + "/" else info)
    sha1 = hashlib.sha1(archive.read_bytes()).hexdigest()
    (archive.parent / f"{archive.name}.sha1").write_text(sha1)
    return f"{base}/wp", sha1


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, wp_source: Path) -> Path:
    root = make_project(tmp_path_factory.mktemp("dl") / "site", wp_source)
    config = root / "wplambda.toml"
    config.write_text(config.read_text().replace(f'source = "{wp_source}"', f'source = "{VERSION}"'))
    assert load(root).wordpress.source == VERSION
    return root


def test_release_download_is_verified_and_cached(project: Path, release: tuple[str, str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    base, sha1 = release
    monkeypatch.setenv("WPLAMBDA_WORDPRESS_BASE_URL", base)
    result = build_mod.build(load(project), target="serve")
    entry = result.manifest["inputs"]["wordpress"]
    assert (entry["kind"], entry["sha1"], entry["version"]) == ("release", sha1, VERSION)
    assert (result.function / "wp-settings.php").is_file()
    cached = list(fetch.cache_dir().rglob(f"wordpress-{VERSION}.tar.gz"))
    assert [p.parent.name for p in cached] == [sha1]


def test_wrong_checksum_aborts_and_keeps_the_previous_build(project: Path, release: tuple[str, str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    base, sha1 = release
    monkeypatch.setenv("WPLAMBDA_WORDPRESS_BASE_URL", base)
    out = build_mod.output_dir(load(project), "serve")
    before = {p: p.read_bytes() for p in (out / "build.json", out / "function.zip")}
    wrong = "0" * 40
    config = project / "wplambda.toml"
    original = config.read_text()
    config.write_text(original.replace('sha1 = ""', f'sha1 = "{wrong}"'))
    try:
        with pytest.raises(UserError) as caught:
            build_mod.build(load(project), target="serve")
    finally:
        config.write_text(original)
    assert wrong in str(caught.value) and sha1 in str(caught.value)
    assert {p: p.read_bytes() for p in before} == before
    assert not list(out.parent.glob(".build-serve.*.tmp"))


def test_published_checksum_mismatch_names_both_hashes(project: Path, release: tuple[str, str],
                                                       http_root: tuple[Path, str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    base, sha1 = release
    monkeypatch.setenv("WPLAMBDA_WORDPRESS_BASE_URL", base)
    published = http_root[0] / "wp" / f"wordpress-{VERSION}.tar.gz.sha1"
    published.write_text("f" * 40)
    try:
        with pytest.raises(UserError, match=f"expected sha1 {'f' * 40}, got {sha1}"):
            build_mod.build(load(project), target="serve", force=True)
    finally:
        published.write_text(sha1)


def test_offline_uses_the_cached_release(project: Path, release: tuple[str, str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WPLAMBDA_WORDPRESS_BASE_URL", f"http://127.0.0.1:{free_port()}")
    reporter = QuietReporter()
    result = build_mod.build(load(project), target="serve", force=True, progress=reporter)
    assert result.manifest["inputs"]["wordpress"]["sha1"] == release[1]
    assert any("offline: using the cached" in m for m in reporter.messages)


def test_unreachable_server_gives_a_clear_offline_error(project: Path, tmp_path: Path) -> None:
    env = {"WPLAMBDA_WORDPRESS_BASE_URL": f"http://127.0.0.1:{free_port()}",
           "WPLAMBDA_CACHE_DIR": str(tmp_path / "empty-cache")}
    result = run_wplambda("build", "--target", "serve", "--force", "--project", str(project), env=env)
    assert result.returncode == 2, result.stderr
    assert "cannot download" in result.stderr and "offline" in result.stderr
    assert "Traceback" not in result.stderr


def test_local_tarball_source(tmp_path: Path, wp_source: Path, release: tuple[str, str],
                              http_root: tuple[Path, str]) -> None:
    archive = http_root[0] / "wp" / f"wordpress-{VERSION}.tar.gz"
    root = make_project(tmp_path / "site", wp_source, wordpress={"source": str(archive), "sha1": release[1]})
    result = build_mod.build(load(root), target="serve")
    assert result.manifest["inputs"]["wordpress"]["kind"] == "archive"
    assert (result.function / "wp-includes" / "version.php").is_file()
