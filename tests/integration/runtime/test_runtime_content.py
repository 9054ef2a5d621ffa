"""EFS mode in the runtime: routing plugin and theme paths to the mounted file system, and the
seeding/sync of wp-content (``{"wplambda": "content"}``) on real directories, through the handler."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from wp_lambda.runtime import content, contract, routing
from wp_lambda.runtime.handler import Runtime


def plugin(folder: Path, slug: str, version: str, extra: str = "") -> Path:
    """A minimal plugin folder as WordPress recognises it (main file with a Plugin Name header)."""
    (folder / slug).mkdir(parents=True, exist_ok=True)
    main = folder / slug / f"{slug}.php"
    main.write_text(f"<?php\n/**\n * Plugin Name: {slug.title()}\n * Version: {version}\n */\n{extra}\n")
    (folder / slug / "style.css").write_text(f"/* {slug} {version} */\n")
    return main


def theme(folder: Path, slug: str, version: str) -> None:
    (folder / slug).mkdir(parents=True, exist_ok=True)
    (folder / slug / "style.css").write_text(f"/*\nTheme Name: {slug}\nVersion: {version}\n*/\n")
    (folder / slug / "index.php").write_text("<?php\n")


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A function tree (document root) whose wp-content the build filled."""
    root = tmp_path / "task"
    wp_content = root / "wp-content"
    plugin(wp_content / "plugins", "akismet", "5.0")
    (wp_content / "plugins" / "hello.php").write_text("<?php\n/*\nPlugin Name: Hello Dolly\nVersion: 1.7.2\n*/\n")
    plugin(wp_content / "plugins", "pinned-one", "1.0.0")
    theme(wp_content / "themes", "twentytwentythree", "1.0")
    (wp_content / "languages").mkdir()
    (wp_content / "languages" / "de_DE.mo").write_bytes(b"\x00mo")
    (wp_content / "mu-plugins").mkdir()
    (wp_content / "mu-plugins" / "kit.php").write_text("<?php\n")
    (root / "index.php").write_text("<?php\n")
    return root


def test_first_sync_seeds_everything_then_only_pinned_change(package: Path, tmp_path: Path) -> None:
    efs = tmp_path / "efs"
    pinned = {"plugins": {"pinned-one": "1.0.0"}, "themes": {}}
    first = content.sync(package / "wp-content", efs, pinned)
    assert first.seeded and first.hand_installed == [] and first.kept == []
    assert content.installed(efs, "plugins") == {"akismet": "5.0", "hello": "1.7.2", "pinned-one": "1.0.0"}
    assert content.installed(efs, "themes") == {"twentytwentythree": "1.0"}
    assert (efs / "languages" / "de_DE.mo").read_bytes() == b"\x00mo"
    assert not (efs / "mu-plugins").exists()  # the kit's must-use plugins stay in the package

    # From wp-admin: a new plugin, and an update of a bundled one.
    plugin(efs / "plugins", "by-hand", "2.1")
    plugin(efs / "plugins", "akismet", "5.3")
    # A new deploy: pinned-one moves to 1.1.0, a new pinned plugin appears, akismet shrinks in the package.
    plugin(package / "wp-content" / "plugins", "pinned-one", "1.1.0", extra="// new code")
    plugin(package / "wp-content" / "plugins", "pinned-two", "3.0")
    plugin(package / "wp-content" / "plugins", "akismet", "4.0")
    pinned = {"plugins": {"pinned-one": "1.1.0", "pinned-two": "3.0"}, "themes": {}}
    second = content.sync(package / "wp-content", efs, pinned)
    assert not second.seeded
    assert second.added == ["plugin pinned-two 3.0"]
    assert second.updated == ["plugin pinned-one 1.1.0 (was 1.0.0)"]
    assert second.hand_installed == [{"kind": "plugin", "slug": "by-hand", "version": "2.1"}]
    assert "// new code" in (efs / "plugins" / "pinned-one" / "pinned-one.php").read_text()
    # Never overwritten (not pinned, and changed from wp-admin) and never deleted.
    assert content.installed(efs, "plugins")["akismet"] == "5.3"
    assert set(content.installed(efs, "plugins")) == {"akismet", "hello", "pinned-one", "pinned-two", "by-hand"}
    assert not [p for p in (efs / "plugins").iterdir() if p.name.startswith(".")]  # no temp copies left


def test_pinned_plugin_changed_from_wp_admin_is_kept_and_reported(package: Path, tmp_path: Path) -> None:
    efs = tmp_path / "efs"
    content.sync(package / "wp-content", efs, {"plugins": {"pinned-one": "1.0.0"}})
    plugin(efs / "plugins", "pinned-one", "1.0.5", extra="// updated in wp-admin")
    plugin(package / "wp-content" / "plugins", "pinned-one", "1.1.0")
    report = content.sync(package / "wp-content", efs, {"plugins": {"pinned-one": "1.1.0"}})
    assert report.updated == [] and report.added == []
    assert report.kept == [{"kind": "plugin", "slug": "pinned-one", "version": "1.0.5", "pinned": "1.1.0"}]
    assert "// updated in wp-admin" in (efs / "plugins" / "pinned-one" / "pinned-one.php").read_text()


def test_hand_installed_plugin_pinned_at_its_version_is_adopted(package: Path, tmp_path: Path) -> None:
    efs = tmp_path / "efs"
    content.sync(package / "wp-content", efs, {})
    main = plugin(efs / "plugins", "by-hand", "2.1", extra="// as installed")
    assert content.listing(efs)["plugins"]["by-hand"] == {"version": "2.1", "managed": False}
    plugin(package / "wp-content" / "plugins", "by-hand", "2.1")  # the build now ships the adopted pin
    report = content.sync(package / "wp-content", efs, {"plugins": {"by-hand": "2.1"}})
    assert report.hand_installed == [] and report.kept == [] and report.updated == []
    assert "// as installed" in main.read_text()  # same version: the copy on EFS is left as it is
    assert content.listing(efs)["plugins"]["by-hand"] == {"version": "2.1", "managed": True}
    state = json.loads((efs / content.STATE_FILE).read_text())
    assert state["plugins"]["by-hand"] == "2.1"


@pytest.mark.parametrize(("text", "expected"), [
    ("<?php\n/**\n * Plugin Name: X\n * Version: 1.2.3\n */\n", "1.2.3"),
    ("<?php\r\n/*\r\nPlugin Name: X\r\nVersion:2.0 */\r\n", "2.0"),  # CRLF, closing comment on the line
    ("/*\nTheme Name: T\n# version: 0.9\n*/", "0.9"),  # any case, # prefix
    ("<?php\n" + "// padding\n" * 1000 + " * Version: 9\n", None),  # past the first 8 KB, as get_file_data
    ("<?php\n$version = 'Version: 3';\n", None),  # not a header line
])
def test_header_parsing_follows_wordpress(tmp_path: Path, text: str, expected: str | None) -> None:
    path = tmp_path / "main.php"
    path.write_bytes(text.encode())
    assert content.header(path, "Version") == expected


def test_routing_sends_plugin_and_theme_paths_to_the_file_system(package: Path, tmp_path: Path) -> None:
    efs = tmp_path / "efs"
    content.sync(package / "wp-content", efs, {})
    plugin(efs / "plugins", "by-hand", "2.1")
    (efs / "plugins" / "by-hand" / "ajax.php").write_text("<?php\n")
    root, mount = os.path.realpath(package), os.path.realpath(efs)

    static = routing.route(root, "/wp-content/plugins/by-hand/style.css", "ver=2.1", mount)
    assert (static.kind, static.filename) == ("static", f"{mount}/plugins/by-hand/style.css")
    script = routing.route(root, "/wp-content/plugins/by-hand/ajax.php/extra", "", mount)
    assert (script.kind, script.script_name, script.filename, script.path_info) == (
        "php", "/wp-content/plugins/by-hand/ajax.php", f"{mount}/plugins/by-hand/ajax.php", "/extra")
    themed = routing.route(root, "/wp-content/themes/twentytwentythree/style.css", "", mount)
    assert themed.filename == f"{mount}/themes/twentytwentythree/style.css"
    # The kit's must-use plugins are still the package's; without EFS, everything is.
    kit = routing.route(root, "/wp-content/mu-plugins/kit.php", "", mount)
    assert kit.filename == f"{root}/wp-content/mu-plugins/kit.php"
    assert routing.route(root, "/wp-content/plugins/by-hand/style.css", "", None).kind == "php"  # not in the package
    # Symlinks out of the mount and dotfiles on it are refused like the package's.
    (efs / "plugins" / "by-hand" / "leak.css").symlink_to(package / "index.php")
    assert routing.route(root, "/wp-content/plugins/by-hand/leak.css", "", mount).kind == "deny"
    assert routing.route(root, f"/wp-content/plugins/{content.STATE_FILE}", "", mount).kind == "deny"
    assert routing.route(root, "/wp-content/plugins/by-hand/../../../index.php", "", mount).kind == "deny"


def test_content_invocation_through_the_handler(package: Path, tmp_path: Path) -> None:
    efs = tmp_path / "efs"
    runtime = Runtime({"WPLAMBDA_DOCUMENT_ROOT": str(package), contract.CONTENT_DIR_ENV: str(efs)})
    result = runtime.handle({"wplambda": "content", "action": "sync", "pinned": {"plugins": {"pinned-one": "1.0.0"}}},
                            None)
    assert result["seeded"] is True and result["hand_installed"] == []
    plugin(efs / "plugins", "by-hand", "2.1")
    listing = runtime.handle({"wplambda": "content", "action": "list"}, None)
    assert listing["plugins"]["by-hand"] == {"version": "2.1", "managed": False}
    assert listing["plugins"]["pinned-one"] == {"version": "1.0.0", "managed": True}
    assert "error" in runtime.handle({"wplambda": "content", "action": "sync", "pinned": ["x"]}, None)
    package_mode = Runtime({"WPLAMBDA_DOCUMENT_ROOT": str(package)})
    refused = package_mode.handle({"wplambda": "content", "action": "list"}, None)
    assert "storage.mode is not \"efs\"" in refused["error"]
