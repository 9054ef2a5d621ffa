"""A WordPress source that would build a blank or broken site is refused with exit 2, never a traceback.

The trees here are tiny fakes (wp-settings.php, version.php and a themes folder): the checks run
before anything reads the whole tree, so no 90 MB copy is needed to reach them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.build import block_theme, fake_wordpress, make_project
from tests.support.helpers import run_wplambda
from wp_lambda.bundle import themes, tree
from wp_lambda.common.errors import UserError


def build_cli(tmp_path: Path, source: Path) -> tuple[int, str]:
    project = make_project(tmp_path / "site", source)
    result = run_wplambda("build", "--target", "serve", "--project", str(project), timeout=120)
    assert "Traceback" not in result.stderr + result.stdout
    return result.returncode, result.stderr + result.stdout


def test_a_tree_without_any_theme_is_refused_naming_the_theme_folder(tmp_path: Path) -> None:
    source = fake_wordpress(tmp_path / "wp")
    code, output = build_cli(tmp_path, source)
    assert code == 2, output
    assert str(source / "wp-content" / "themes") in " ".join(output.split())
    assert "wordpress-theme-twentytwentythree" in output and "[themes]" in output
    assert not (tmp_path / "site" / ".wplambda" / "build-serve").exists()


def test_a_theme_folder_of_dangling_symlinks_is_refused_the_same_way(tmp_path: Path) -> None:
    source = fake_wordpress(tmp_path / "wp")
    themes_dir = source / "wp-content" / "themes"
    os.symlink("/usr/share/no-such-theme", themes_dir / "twentytwentythree")
    os.symlink("../../gone", themes_dir / "other")
    code, output = build_cli(tmp_path, source)
    flat = " ".join(output.split())
    assert code == 2, output
    assert str(themes_dir) in flat
    assert "twentytwentythree: dangling symlink to /usr/share/no-such-theme" in flat


def test_incomplete_themes_are_not_usable(tmp_path: Path) -> None:
    source = fake_wordpress(tmp_path / "wp")
    themes_dir = source / "wp-content" / "themes"
    (themes_dir / "nostyle" / "templates").mkdir(parents=True)
    (themes_dir / "nostyle" / "templates" / "index.html").write_text("x")
    (themes_dir / "noentry").mkdir()
    (themes_dir / "noentry" / "style.css").write_text("x")
    scan = themes.scan(source)
    assert scan.usable == []
    assert scan.problems == ["noentry: neither index.php nor templates/index.html", "nostyle: no readable style.css"]
    block_theme(themes_dir)
    assert themes.scan(source).usable == ["plain"]


def test_a_pinned_theme_makes_an_empty_source_acceptable() -> None:
    assert themes.require_theme(Path("/nonexistent"), pinned=["twentytwentyfive"]) == []


def test_a_dangling_symlink_elsewhere_is_exit_2_naming_the_link_and_its_target(tmp_path: Path) -> None:
    source = fake_wordpress(tmp_path / "wp")
    block_theme(source / "wp-content" / "themes")
    link = source / "wp-includes" / "ID3" / "getid3.lib.php"
    link.parent.mkdir()
    os.symlink("../../../php/getid3/getid3.lib.php", link)
    code, output = build_cli(tmp_path, source)
    flat = " ".join(output.split())
    assert code == 2, output
    assert f"{link} is a dangling symlink to ../../../php/getid3/getid3.lib.php" in flat


def test_an_unreadable_file_is_exit_2_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Root (as the suite runs here) reads files of any mode, so the refusal is provoked at open()."""
    source = fake_wordpress(tmp_path / "wp")
    locked = source / "wp-includes" / "locked.php"
    locked.write_text("<?php\n")
    real_open = Path.open

    def refusing_open(self: Path, *args: object, **kwargs: object) -> object:
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", refusing_open)
    with pytest.raises(UserError, match=f"cannot read {locked}: Permission denied"):
        tree.content_digest(source)


def test_no_languages_tree_is_a_note_not_an_error(tmp_path: Path) -> None:
    source = fake_wordpress(tmp_path / "wp")
    block_theme(source / "wp-content" / "themes")
    assert themes.translation_count(source) == 0
    code, output = build_cli(tmp_path, source)
    assert code == 0, output
    assert "no translations included" in " ".join(output.split())
    (source / "wp-content" / "languages").mkdir()
    (source / "wp-content" / "languages" / "de_DE.mo").write_bytes(b"\x95\x04\x12\xde")
    assert themes.translation_count(source) == 1
