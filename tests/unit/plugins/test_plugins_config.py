"""``[plugins]``/``[themes]`` entries in both forms: ``slug = "1.2.3"`` and
``slug = { version = "1.2.3", active = true }``; bad ones through the real console script."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.helpers import run_wplambda
from wp_lambda.config import load, parse, toml_text
from wp_lambda.project import init_project


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    init_project(root, {})
    return root


def _with_pins(root: Path, pins: str) -> Path:
    path = root / "wplambda.toml"
    text = path.read_text()
    head, _, _ = text.partition("\n[plugins]")
    path.write_text(head + "\n" + pins)
    return path


def test_both_forms_load_and_init_writes_them_back(project: Path) -> None:
    _with_pins(project, '[plugins]\nakismet = "5.0.2"\nhello-dolly = { version = "1.7.2", active = true }\n'
                        'classic-editor = { version = "1.6", active = false }\n'
                        '[themes]\ntwentytwentythree = { version = "1.0", active = true }\ntwentytwentyfour = "1.2"\n')
    config = load(project)
    assert config.plugins == {"akismet": "5.0.2", "hello-dolly": "1.7.2", "classic-editor": "1.6"}
    assert config.plugins_active == {"hello-dolly": True, "classic-editor": False}
    assert config.themes == {"twentytwentythree": "1.0", "twentytwentyfour": "1.2"}
    assert config.active_theme == "twentytwentythree"
    written = toml_text(config)  # init's writer
    assert 'akismet = "5.0.2"' in written  # the short form stays short
    assert 'hello-dolly = {version = "1.7.2", active = true}' in written
    again = parse(written)
    assert (again.plugins, again.plugins_active, again.themes, again.active_theme) == \
        (config.plugins, config.plugins_active, config.themes, config.active_theme)


@pytest.mark.parametrize(("pins", "line", "key", "expected"), [
    ('[plugins]\nakismet = { version = "5.0.2", actve = true }\n', 2, "plugins.akismet.actve",
     "unknown key; did you mean 'active'?"),
    ('[plugins]\nakismet = { active = true }\n', 2, "plugins.akismet", "expected a pinned version string"),
    ('[plugins]\nakismet = { version = "5.0.2", active = "yes" }\n', 2, "plugins.akismet.active",
     "expected true or false, got 'yes'"),
    ('[themes]\na = { version = "1", active = false }\n', 2, "themes.a.active",
     "set `active = true` on the theme the site should use"),
    ('[themes]\na = { version = "1", active = true }\nb = { version = "2", active = true }\n', 3, "themes",
     "2 themes are declared active (a, b), but a site runs one"),
    ('[plugins]\n"Bad Slug" = { version = "1", active = true }\n', 2, "plugins.Bad Slug", "wordpress.org slug"),
], ids=["typo", "no-version", "active-not-bool", "theme-inactive", "two-themes", "bad-slug"])
def test_bad_pins_exit_2_naming_file_line_and_key(project: Path, pins: str, line: int, key: str,
                                                  expected: str) -> None:
    path = _with_pins(project, pins)
    first = path.read_text().splitlines().index(pins.splitlines()[0]) + 1  # the pasted table's header
    before = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    result = run_wplambda("validate", "--project", str(project))
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert f"{path}:{first + line - 1}: {key}:" in message
    assert expected in message
    assert "Traceback" not in result.stderr
    assert {p: p.read_bytes() for p in project.rglob("*") if p.is_file()} == before
