"""Nothing private is shipped: a source tree holding dumps, archives, backups or wp-config copies is
refused (exit 2, each file named, nothing written) until ``build.exclude`` drops them on purpose,
and then they are in neither the function nor the assets. The stock tree and the test plugins
must not trip the refusal."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.build import block_theme, fake_wordpress, make_project, zip_dir
from tests.support.helpers import DEBIAN_WORDPRESS, run_wplambda
from wp_lambda.bundle.tree import walk
from wp_lambda.runtime import private

# One file of each kind the issue names, each a path relative to the WordPress source.
PRIVATE = [
    "backup.sql", "wp-content/backup-db.sql.gz", "site.zip", "site.tar", "site.tar.gz", "site.tgz",
    "wp-content/ai1wm-backups/site-20240101.wpress", "wp-content/updraft/backup_2024-01-01_db.gz",
    "wp-content/updraft/log.txt", "wp-content/backup-db-4f2a/notes.html", "index.php.bak",
    "wp-config.php.txt", "wp-config.txt", "wp-config.php.save", "wp-content/plugins/x/wp-config.json",
]
EXCLUDE = ["*.sql", "*.zip", "site.t*", "**/*.bak", "wp-config*.*", "wp-content/updraft",
           "wp-content/ai1wm-backups/", "wp-content/backup-db*", "wp-content/plugins/x/wp-config.json"]


def planted_source(tmp_path: Path) -> Path:
    source = fake_wordpress(tmp_path / "wp")
    block_theme(source / "wp-content" / "themes")
    (source / "wp-includes" / "style.css").write_text("a{}")
    (source / "wp-content" / "plugins" / "x").mkdir(parents=True)
    (source / "wp-content" / "plugins" / "x" / "x.js").write_text("x()")
    for rel in PRIVATE:
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_text(f"DB_PASSWORD secret of {rel}\n")
    return source


def build(project: Path) -> tuple[int, str]:
    result = run_wplambda("build", "--target", "serve", "--project", str(project), timeout=180)
    output = result.stderr + result.stdout
    assert "Traceback" not in output
    return result.returncode, output


def test_each_private_file_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    source = planted_source(tmp_path)
    project = make_project(tmp_path / "site", source)
    code, output = build(project)
    assert code == 2, output
    lines = output.splitlines()
    for rel in PRIVATE:
        assert any(line.strip().startswith(f"{rel} (") for line in lines), (rel, output)
    assert "(database dump)" in output and "(archive)" in output and "(backup)" in output
    assert "(copy of wp-config)" in output and "(backup plugin's folder)" in output
    flat = " ".join(output.split())
    assert f"{len(PRIVATE)} private file(s)" in flat
    assert f"remove them from {source}" in flat
    # The suggested setting, ready to paste: a backup plugin's folder once, the other files by path.
    suggested = json.JSONDecoder().raw_decode(flat.split("under [build] in wplambda.toml, exclude = ", 1)[1])[0]
    folders = ["wp-content/ai1wm-backups", "wp-content/backup-db-4f2a", "wp-content/updraft"]
    assert sorted(suggested) == sorted([rel for rel in PRIVATE if not rel.startswith(tuple(folders))] + folders)
    assert not (project / ".wplambda" / "build-serve").exists()
    assert not (project / "wplambda.lock").exists()
    assert list((project / ".wplambda").glob(".build-serve.*.tmp")) == []


def test_a_previous_build_survives_the_refusal(tmp_path: Path) -> None:
    source = fake_wordpress(tmp_path / "wp")
    block_theme(source / "wp-content" / "themes")
    project = make_project(tmp_path / "site", source)
    assert build(project)[0] == 0
    manifest = project / ".wplambda" / "build-serve" / "build.json"
    before = manifest.read_bytes()
    (source / "wp-content" / "backup-db.sql.gz").write_bytes(b"\x1f\x8b dump")
    code, output = build(project)
    assert code == 2 and "wp-content/backup-db.sql.gz (database dump)" in output, output
    assert manifest.read_bytes() == before
    assert not (project / ".wplambda" / "build-serve" / "function" / "wp-content" / "backup-db.sql.gz").exists()


def test_build_exclude_drops_them_from_function_and_assets(tmp_path: Path) -> None:
    source = planted_source(tmp_path)
    project = make_project(tmp_path / "site", source, build={"exclude": EXCLUDE})
    code, output = build(project)
    assert code == 0, output
    out = project / ".wplambda" / "build-serve"
    shipped = {rel for rel, _ in walk(out / "function")} | {rel for rel, _ in walk(out / "assets")}
    assert [rel for rel in PRIVATE if rel in shipped] == []
    assert [rel for rel in shipped if private.kind(rel) and rel not in ("wp-config.php",)] == []
    # Excluding is precise: the files around them are shipped, the kit's wp-config.php too
    # although "wp-config*.*" matches it.
    assert {"wp-includes/style.css", "wp-content/plugins/x/x.js", "wp-settings.php", "wp-config.php"} <= shipped
    assert (out / "assets" / "wp-content" / "plugins" / "x" / "x.js").is_file()
    assert "DB_PASSWORD" in (out / "function" / "wp-config.php").read_text()
    # Excluded files are not even read: the source's digest covers what is shipped.
    recorded = json.loads((out / "build.json").read_text())["inputs"]["wordpress"]["files"]
    assert recorded == len(list(walk(source))) - len(PRIVATE)


def test_changing_build_exclude_rebuilds(tmp_path: Path) -> None:
    """The exclude list is an input: narrowing it must not leave an "up to date" build that skips
    the check."""
    source = fake_wordpress(tmp_path / "wp")
    block_theme(source / "wp-content" / "themes")
    (source / "site.zip").write_bytes(b"PK")
    project = make_project(tmp_path / "site", source, build={"exclude": ["site.zip"]})
    assert build(project)[0] == 0
    (project / "wplambda.toml").write_text((project / "wplambda.toml").read_text()
                                           .replace('exclude = ["site.zip"]', "exclude = []"))
    code, output = build(project)
    assert code == 2 and "site.zip (archive)" in output, output


def test_a_plugin_zip_with_test_data_is_refused_then_built_with_a_glob(tmp_path: Path) -> None:
    """A plugin's own fixtures inside its zip are checked like the source (the zip itself is
    unpacked, never kept), and the suggested glob, relative to the WordPress layout, drops them."""
    plugin = tmp_path / "plugin-src"
    (plugin / "tests" / "data").mkdir(parents=True)
    (plugin / "fixture.php").write_text("<?php\n/*\nPlugin Name: Fixture\nVersion: 1.0.0\n*/\n")
    (plugin / "fixture.js").write_text("f()")
    (plugin / "tests" / "data" / "import.zip").write_bytes(b"PK")
    mirror = tmp_path / "mirror"
    zip_dir(plugin, mirror / "plugin" / "fixture.1.0.0.zip", "fixture")
    source = fake_wordpress(tmp_path / "wp")
    block_theme(source / "wp-content" / "themes")
    # Unpacked directly: wp-cli (init's default) could not load this fake WordPress to install it.
    project = make_project(tmp_path / "site", source, build={"plugin_mirror": str(mirror), "wp_cli": ""},
                           plugins={"fixture": "1.0.0"})
    code, output = build(project)
    assert code == 2 and "wp-content/plugins/fixture/tests/data/import.zip (archive)" in output, output
    assert not (project / ".wplambda" / "build-serve").exists()
    config = (project / "wplambda.toml").read_text()
    assert "\nexclude = []\n" in config  # a fresh file lists the key, empty
    glob = '\nexclude = ["wp-content/plugins/*/tests"]\n'
    (project / "wplambda.toml").write_text(config.replace("\nexclude = []\n", glob))
    code, output = build(project)
    assert code == 0, output
    out = project / ".wplambda" / "build-serve"
    function = out / "function" / "wp-content" / "plugins" / "fixture"
    assert (function / "fixture.php").is_file() and not (function / "tests").exists()
    assert (out / "assets" / "wp-content" / "plugins" / "fixture" / "fixture.js").is_file()


def test_debian_wordpress_holds_no_private_file_but_its_config_files() -> None:
    """The stock tree must build: only the two wp-config files at its top match; the build drops
    the first (Debian's own config, replaced by the kit's) and allows the second (core's sample)."""
    matches = [rel for rel, _ in walk(DEBIAN_WORDPRESS) if private.kind(rel)]
    assert sorted(matches) == ["wp-config-sample.php", "wp-config.php"]
