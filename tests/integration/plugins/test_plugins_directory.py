"""``plugin add``/``outdated``/``update`` against the fake directory API on 127.0.0.1, through the
real console script, and the real build installing exactly what was pinned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.helpers import run_wplambda
from tests.support.plugin_directory import PLUGIN, THEME, Directory
from tests.support.plugins import COMMENT
from wp_lambda.config import load


def _lock(project: Path) -> dict[str, dict[str, dict[str, str]]]:
    return json.loads((project / "wplambda.lock").read_text())


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_add_pins_the_latest_and_locks_its_zip(project: Path, directory: Directory) -> None:
    plugin_zip = directory.publish("plugin", PLUGIN, "1.1.0")
    added = run_wplambda("plugin", "add", PLUGIN, "--no-build", "--project", str(project))
    assert added.returncode == 0, added.stderr
    assert f'pinned plugins.{PLUGIN} = "1.1.0"' in added.stdout
    theme = run_wplambda("plugin", "add", THEME, "--theme", "--no-build", "--project", str(project))
    assert theme.returncode == 0, theme.stderr

    text = (project / "wplambda.toml").read_text()
    assert text.startswith(COMMENT)  # the user's comment and layout survive
    assert f'{PLUGIN} = "1.1.0"' in text and f'{THEME} = "1.0"' in text
    # the directory was asked the way wordpress.org is asked
    assert any(r.startswith("/plugins/info/1.2/?action=plugin_information&request%5Bslug%5D=hello-wplambda")
               for r in directory.requests)
    assert _lock(project)["plugins"] == {PLUGIN: {"version": "1.1.0", "sha256": _sha(plugin_zip)}}
    assert _lock(project)["themes"][THEME]["version"] == "1.0"


def test_unknown_slug_exits_2_and_writes_nothing(project: Path) -> None:
    before = (project / "wplambda.toml").read_bytes()
    result = run_wplambda("plugin", "add", "no-such-plugin", "--no-build", "--project", str(project))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "has no plugin 'no-such-plugin'" in result.stderr
    assert (project / "wplambda.toml").read_bytes() == before
    assert not (project / "wplambda.lock").exists()


def test_outdated_then_update_repins_keeps_active_and_the_build_installs_it(project: Path,
                                                                           directory: Directory) -> None:
    toml = project / "wplambda.toml"
    assert run_wplambda("plugin", "add", PLUGIN, "--version", "1.0.0", "--no-build",
                        "--project", str(project)).returncode == 0
    assert run_wplambda("plugin", "add", THEME, "--theme", "--no-build", "--project", str(project)).returncode == 0
    # the user declares the plugin active by hand, in the inline-table form
    toml.write_text(toml.read_text().replace(f'{PLUGIN} = "1.0.0"', f'{PLUGIN} = {{ version = "1.0.0", active = true }}'
                                             '  # keep this comment'))
    new_zip = directory.publish("plugin", PLUGIN, "1.2.0")

    outdated = run_wplambda("plugin", "outdated", "--json", "--project", str(project))
    assert outdated.returncode == 0, outdated.stderr
    assert json.loads(outdated.stdout) == [
        {"kind": "plugin", "slug": PLUGIN, "pinned": "1.0.0", "latest": "1.2.0", "outdated": True},
        {"kind": "theme", "slug": THEME, "pinned": "1.0", "latest": "1.0", "outdated": False}]
    human = run_wplambda("plugin", "outdated", "--project", str(project))
    assert "1.0.0        -> 1.2.0        outdated" in human.stdout

    updated = run_wplambda("plugin", "update", "--all", "--no-build", "--project", str(project))
    assert updated.returncode == 0, updated.stderr
    assert f"updated plugins.{PLUGIN}: 1.0.0 -> 1.2.0" in updated.stdout
    text = toml.read_text()
    assert f'{PLUGIN} = {{ version = "1.2.0", active = true }}  # keep this comment' in text
    assert text.startswith(COMMENT)
    assert _lock(project)["plugins"][PLUGIN] == {"version": "1.2.0", "sha256": _sha(new_zip)}
    config = load(project)
    assert config.plugins[PLUGIN] == "1.2.0" and config.plugins_active == {PLUGIN: True}

    again = run_wplambda("plugin", "update", PLUGIN, "--no-build", "--project", str(project))
    assert again.returncode == 0 and "nothing to update" in again.stdout
    as_json = run_wplambda("plugin", "update", "--all", "--json", "--project", str(project))
    assert json.loads(as_json.stdout) == {"updated": [], "built": None}

    built = run_wplambda("build", "--target", "serve", "--json", "--project", str(project))
    assert built.returncode == 0, built.stderr
    entries = {e["slug"]: e for e in json.loads(built.stdout)["manifest"]["inputs"]["plugins"]}
    assert entries[PLUGIN]["header_version"] == "1.2.0"
    assert entries[PLUGIN]["sha256"] == _sha(new_zip)
    installed = project / ".wplambda/build-serve/function/wp-content/plugins" / PLUGIN / f"{PLUGIN}.php"
    assert "Version: 1.2.0" in installed.read_text()
    assert (project / ".wplambda/build-serve/function/wp-content/themes" / THEME / "style.css").is_file()


@pytest.mark.parametrize("args", [["update"], ["update", PLUGIN, "--all"], ["update", "not-pinned"]])
def test_update_needs_a_pinned_slug_or_all(project: Path, args: list[str]) -> None:
    result = run_wplambda("plugin", *args, "--no-build", "--project", str(project))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_add_can_declare_the_state(project: Path) -> None:
    added = run_wplambda("plugin", "add", THEME, "--theme", "--active", "--no-build", "--project", str(project))
    assert added.returncode == 0, added.stderr
    assert f'{THEME} = {{version = "1.0", active = true}}' in (project / "wplambda.toml").read_text()
    assert load(project).active_theme == THEME
    before = (project / "wplambda.toml").read_bytes(), (project / "wplambda.lock").read_bytes()
    refused = run_wplambda("plugin", "add", THEME, "--theme", "--inactive", "--no-build", "--project", str(project))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "a theme cannot be deactivated on its own" in " ".join(refused.stderr.split())
    assert ((project / "wplambda.toml").read_bytes(), (project / "wplambda.lock").read_bytes()) == before
