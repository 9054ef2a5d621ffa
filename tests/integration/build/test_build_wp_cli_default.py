"""A new project gets a working `wplambda wp` without editing its config: ``init`` writes
``build.wp_cli = "pinned"``, the build downloads wp-cli 2.12.0 once, checks it against the pinned
sha512 and caches it; offline, it stops before writing anything and says how to point the kit at a
mirror or a local phar.

Everything is served from 127.0.0.1 (no test reaches the internet). The official phar cannot be
had here and ../shared's wp-cli.phar is a build from source whose bytes differ from it, so the
tests that download the real phar put its sha512 in the pin's place where the build reads it
(``plugins.WP_CLI``): the check itself runs on the real 7 MB file. The session's stand-in
(``WPLAMBDA_WP_CLI_PHAR``, tests/conftest.py) is unset here, except where the stand-in is the point.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path

import pytest

from tests.support.helpers import UNREACHABLE_WP_CLI_URL, real_wp_cli, run_wplambda
from tests.support.wp_cli import wp
from wp_lambda import bundle as build_mod
from wp_lambda.bundle import QuietReporter, plugins
from wp_lambda.bundle.plugins import ENV_WP_CLI_PHAR, WP_CLI, WP_CLI_IN_LAYER
from wp_lambda.common import fetch
from wp_lambda.common.errors import UserError
from wp_lambda.config import load
from wp_lambda.serve.site import prepare_build

RELEASE = f"wp-cli-{WP_CLI.version}.phar"


@pytest.fixture(autouse=True)
def _downloading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty cache of the test's own, and no stand-in: "pinned" means the download."""
    monkeypatch.setenv("WPLAMBDA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(ENV_WP_CLI_PHAR, raising=False)


def fresh_init(root: Path, wp_source: Path) -> Path:
    """`wplambda init --yes`, nothing edited afterwards."""
    result = run_wplambda("init", str(root), "--yes", "--name", "fresh", "--wordpress-source", str(wp_source))
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'wp_cli = "pinned"' in (root / "wplambda.toml").read_text().splitlines()
    return root


def serve_release(http_root: tuple[Path, str], folder: str, data: bytes) -> str:
    """``data`` as the release on the loopback server, with no .sha512 beside it; its URL."""
    root, base = http_root
    (root / folder).mkdir(exist_ok=True)
    (root / folder / RELEASE).write_bytes(data)
    return f"{base}/{folder}/{RELEASE}"


def pin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> str:
    """Pin wp-cli to ``data``'s sha512 where the build reads the pin; the digest."""
    digest = hashlib.sha512(data).hexdigest()
    monkeypatch.setattr(plugins, "WP_CLI", dataclasses.replace(WP_CLI, digest=digest))
    return digest


def cached() -> list[Path]:
    return sorted(p for p in (fetch.cache_dir() / "wp-cli").rglob("*") if p.is_file())


def test_fresh_init_downloads_verifies_caches_and_wp_local_runs_it(tmp_path: Path, wp_source: Path,
                                                                   http_root: tuple[Path, str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    phar = Path(real_wp_cli()).read_bytes()
    digest = pin(monkeypatch, phar)
    url = serve_release(http_root, "release", phar)
    monkeypatch.setenv(WP_CLI.url_env, url)
    project = fresh_init(tmp_path / "site", wp_source)

    # The build `wplambda wp --local` makes (serve's, with the local PHP), here in this process
    # where the pin is the served phar's.
    reporter = QuietReporter()
    build_dir, php = prepare_build(load(project), rebuild=True, progress=reporter)
    assert any(f"downloading wp-cli {WP_CLI.version}" in m for m in reporter.messages)
    assert (build_dir / "layer" / WP_CLI_IN_LAYER).read_bytes() == phar
    manifest = build_mod.read_manifest(build_dir)
    assert manifest is not None
    assert manifest["inputs"]["wp_cli"] == {"source": "pinned", "bytes": len(phar), "sha512": digest}
    assert [p.read_bytes() == phar for p in cached()] == [True]

    # The second build downloads nothing: the server no longer has the file, and the cache serves it.
    (http_root[0] / "release" / RELEASE).unlink()
    reporter = QuietReporter()
    again = build_mod.build(load(project), target="serve", php_source=php, force=True, progress=reporter)
    assert not any("downloading wp-cli" in m for m in reporter.messages)
    assert (again.layer / WP_CLI_IN_LAYER).read_bytes() == phar

    # The console script finds that build up to date (same pin, same signature) and runs its wp-cli.
    version = wp(project, "cli", "version", env={WP_CLI.url_env: UNREACHABLE_WP_CLI_URL})
    assert version.returncode == 0, version.stdout + version.stderr
    assert version.stdout.strip() == f"WP-CLI {WP_CLI.version}"
    installed = wp(project, "core", "install", "--url=http://127.0.0.1:8089", "--title=fresh",
                   "--admin_user=admin", "--admin_password=fresh-admin-pass-1", "--admin_email=a@example.com",
                   "--skip-email")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    siteurl = wp(project, "option", "get", "siteurl")
    assert (siteurl.returncode, siteurl.stdout) == (0, "http://127.0.0.1:8089\n"), siteurl.stderr


def test_a_tampered_release_is_refused_and_nothing_is_left(tmp_path: Path, wp_source: Path,
                                                           http_root: tuple[Path, str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    phar = Path(real_wp_cli()).read_bytes()
    digest = pin(monkeypatch, phar)
    tampered = phar[:-64] + bytes(64)  # the phar's own signature zeroed: one changed block is enough
    monkeypatch.setenv(WP_CLI.url_env, serve_release(http_root, "tampered", tampered))
    project = fresh_init(tmp_path / "site", wp_source)
    with pytest.raises(UserError) as caught:
        build_mod.build(load(project), target="serve")
    message = str(caught.value)
    assert "wp-cli checksum mismatch" in message
    assert digest in message and hashlib.sha512(tampered).hexdigest() in message
    assert cached() == []
    assert not (project / ".wplambda").exists()  # stopped before the build wrote anything


def test_a_mirror_that_is_a_local_copy_of_the_release_is_checked_too(tmp_path: Path, wp_source: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """An offline machine given a copy of the release as a file: fetched through the same path and
    checked against the pin (a copy with other bytes is refused)."""
    phar = Path(real_wp_cli()).read_bytes()
    pin(monkeypatch, phar)
    copy = tmp_path / "mirror" / RELEASE
    copy.parent.mkdir()
    shutil.copyfile(real_wp_cli(), copy)
    monkeypatch.setenv(WP_CLI.url_env, str(copy))
    config = load(fresh_init(tmp_path / "site", wp_source))
    cli = plugins.find_wp_cli(config, QuietReporter())
    assert cli is not None and Path(cli.command[1]).read_bytes() == phar
    assert Path(cli.command[1]).is_relative_to(fetch.cache_dir())

    for path in cached():
        path.unlink()
    copy.write_bytes(phar + b"\n")
    with pytest.raises(UserError, match="wp-cli checksum mismatch"):
        plugins.find_wp_cli(config, QuietReporter())
    assert cached() == []


def test_offline_build_of_a_fresh_project_exits_2_naming_the_fixes(tmp_path: Path, wp_source: Path) -> None:
    project = fresh_init(tmp_path / "site", wp_source)
    result = run_wplambda("build", "--project", str(project), "--target", "serve",
                          env={WP_CLI.url_env: UNREACHABLE_WP_CLI_URL})
    assert result.returncode == 2, result.stdout + result.stderr
    error = " ".join(result.stderr.split())
    assert f"wp-cli {WP_CLI.version} is not in the cache" in error and "Connection refused" in error
    for fix in (f"set {WP_CLI.url_env} to a mirror of {RELEASE}", f"set {ENV_WP_CLI_PHAR}", "build.wp_cli"):
        assert fix in error
    assert "Traceback" not in result.stderr
    assert not (project / ".wplambda").exists()
    assert cached() == []


def test_a_stand_in_phar_builds_a_fresh_project_offline_and_says_so(tmp_path: Path, wp_source: Path) -> None:
    """What the demo and the other tests do here: WPLAMBDA_WP_CLI_PHAR instead of the download."""
    project = fresh_init(tmp_path / "site", wp_source)
    result = run_wplambda("build", "--project", str(project), "--target", "serve",
                          env={WP_CLI.url_env: UNREACHABLE_WP_CLI_URL, ENV_WP_CLI_PHAR: real_wp_cli()})
    assert result.returncode == 0, result.stdout + result.stderr
    output = " ".join((result.stdout + result.stderr).split())
    assert f"{ENV_WP_CLI_PHAR}={real_wp_cli()} stands in for the pinned release" in output
    layer_phar = project / ".wplambda" / "build-serve" / "layer" / WP_CLI_IN_LAYER
    assert layer_phar.read_bytes() == Path(real_wp_cli()).read_bytes()
    assert cached() == []  # nothing downloaded


def test_a_stand_in_that_does_not_exist_is_named(tmp_path: Path, wp_source: Path) -> None:
    project = fresh_init(tmp_path / "site", wp_source)
    missing = tmp_path / "no-such" / "wp-cli.phar"
    result = run_wplambda("build", "--project", str(project), "--target", "serve",
                          env={ENV_WP_CLI_PHAR: str(missing)})
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{ENV_WP_CLI_PHAR}={missing} does not exist" in " ".join(result.stderr.split())
