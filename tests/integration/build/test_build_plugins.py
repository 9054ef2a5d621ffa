"""Plugins and themes from a mirror: a local directory of zips here (the HTTP mirror path is in
test_build_tree), `wplambda plugin add/remove/list`, and the real wp-cli from ../shared/."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.support.build import AKISMET_VERSION, THEME_VERSION, composer_repos, make_project
from tests.support.helpers import real_wp_cli, run_wplambda
from wp_lambda import bundle as build_mod
from wp_lambda.bundle import QuietReporter
from wp_lambda.common.errors import UserError
from wp_lambda.config import load


@pytest.fixture()
def project(tmp_path: Path, wp_source: Path, plugin_mirror: Path) -> Path:
    # No wp-cli: these tests are about the zips, unpacked directly (test_wp_cli_install sets one).
    root = make_project(tmp_path / "site", wp_source, build={"plugin_mirror": str(plugin_mirror), "wp_cli": ""})
    toml = root / "wplambda.toml"
    toml.write_text("# my own comment, kept by plugin add\n" + toml.read_text())
    return root


def test_local_mirror_install(project: Path, plugin_mirror: Path) -> None:
    config = load(project)
    config.plugins["akismet"] = AKISMET_VERSION
    config.themes["twentytwentythree"] = THEME_VERSION
    result = build_mod.build(config, target="serve")
    entries = {e["slug"]: e for e in result.manifest["inputs"]["plugins"]}
    assert entries["akismet"]["installer"] == "unzip"
    assert entries["twentytwentythree"]["header_version"] is not None
    assert (result.function / "wp-content/themes/twentytwentythree/style.css").is_file()


def test_plugin_add_list_remove_keep_comments_and_rebuild(project: Path) -> None:
    added = run_wplambda("plugin", "add", "akismet", "--project", str(project), "--no-build")
    assert added.returncode == 0, added.stderr
    text = (project / "wplambda.toml").read_text()
    assert text.startswith("# my own comment, kept by plugin add\n")
    assert f'akismet = "{AKISMET_VERSION}"' in text  # the newest version in the local mirror
    assert "# Plugins installed at build time" in text
    listed = run_wplambda("plugin", "list", "--json", "--project", str(project))
    assert json.loads(listed.stdout) == [{"kind": "plugin", "slug": "akismet", "version": AKISMET_VERSION,
                                          "built_sha256": None}]
    removed = run_wplambda("plugin", "remove", "akismet", "--no-build", "--project", str(project))
    assert removed.returncode == 0, removed.stderr
    assert "akismet" not in load(project).plugins
    assert (project / "wplambda.toml").read_text().startswith("# my own comment")


def test_plugin_add_rebuilds(project: Path, composer_packages: Path) -> None:
    env = {"WPLAMBDA_COMPOSER_REPOSITORIES": json.dumps(composer_repos(composer_packages))}
    result = run_wplambda("plugin", "add", "twentytwentythree", "--theme", "--version", THEME_VERSION,
                          "--project", str(project), env=env)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((project / ".wplambda/build/build.json").read_text())
    assert [e["slug"] for e in manifest["inputs"]["plugins"]] == ["twentytwentythree"]


def test_bad_plugin_input_exits_2(project: Path) -> None:
    missing = run_wplambda("plugin", "add", "no-such-plugin", "--version", "1.0", "--project", str(project))
    assert missing.returncode == 2
    assert "plugin/no-such-plugin.1.0.zip is not in the mirror" in missing.stderr
    assert "no-such-plugin" not in (project / "wplambda.toml").read_text()  # nothing half-written
    bad_slug = run_wplambda("plugin", "add", "Bad Slug", "--version", "1", "--no-build", "--project", str(project))
    assert bad_slug.returncode == 2 and "wordpress.org slug" in bad_slug.stderr


def test_zip_escaping_its_folder_is_refused(project: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "evil-mirror"
    (mirror / "plugin").mkdir(parents=True)
    with zipfile.ZipFile(mirror / "plugin" / "evil.1.0.zip", "w") as zf:
        zf.writestr("evil/evil.php", "<?php\n")
        zf.writestr("../../wp-config.php", "<?php\n")
    config = load(project)
    config.build.plugin_mirror = str(mirror)
    config.plugins["evil"] = "1.0"
    with pytest.raises(UserError, match="outside evil/"):
        build_mod.build(config, target="serve")


def test_wp_cli_install(project: Path) -> None:
    """The real wp-cli installs a plugin and a theme from the local mirror against a throwaway MariaDB."""
    config = load(project)
    config.build.wp_cli = real_wp_cli()
    config.plugins["akismet"] = AKISMET_VERSION
    config.themes["twentytwentythree"] = THEME_VERSION
    reporter = QuietReporter()
    result = build_mod.build(config, target="serve", progress=reporter)
    assert any("throwaway local MariaDB" in m for m in reporter.messages)
    entries = {e["slug"]: e for e in result.manifest["inputs"]["plugins"]}
    assert entries["akismet"]["installer"] == "wp-cli.phar"
    assert entries["akismet"]["header_version"] == AKISMET_VERSION
    assert entries["twentytwentythree"]["installer"] == "wp-cli.phar"
    assert entries["twentytwentythree"]["header_version"] == THEME_VERSION
    assert (result.function / "wp-content/plugins/akismet/akismet.php").is_file()
    assert (result.function / "wp-content/themes/twentytwentythree/style.css").is_file()
    # Nothing of the throwaway site stays: no scratch space, no dated uploads folder.
    assert not (result.function / "wp-content/upgrade").exists()
    assert not (result.function / "wp-content/uploads").exists()
