"""Helpers shared by the build tests."""

from __future__ import annotations

import zipfile
from pathlib import Path

import tomlkit

from wp_lambda import project as project_mod
from wp_lambda.config import CONFIG_FILE, load

AKISMET_VERSION = "5.0.2"
THEME_VERSION = "1.0"
S3_UPLOADS_VERSION = "3.0.99"
SECRET_VALUES = ("db-password-must-not-leak-7f3a", "salt-must-not-leak-91bc")


def zip_dir(src: Path, dest: Path, top: str) -> Path:
    """A wordpress.org-style zip: every file under one ``top/`` folder."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(src.rglob("*")):
            if path.is_file():
                zf.write(path, f"{top}/{path.relative_to(src).as_posix()}")
    return dest


def composer_repos(packages: Path) -> list[dict[str, object]]:
    """Composer repositories holding only the test's path packages (no packagist: offline)."""
    return [{"type": "path", "url": str(packages / "*")}, {"packagist.org": False}]


def make_project(root: Path, wp_source: Path, **sections: dict[str, object]) -> Path:
    """``wplambda init`` into ``root`` with the given WordPress tree, then set config keys."""
    project_mod.init_project(root, {"wordpress_source": str(wp_source)})
    path = root / CONFIG_FILE
    doc = tomlkit.parse(path.read_text())
    for section, values in sections.items():
        for key, value in values.items():
            doc[section][key] = value  # type: ignore[index]
    path.write_text(tomlkit.dumps(doc))
    load(root)  # fail here, not in the build, if the test wrote a bad config
    return root


def fake_wordpress(root: Path) -> Path:
    """A tiny WordPress source (wp-settings.php, version.php, an empty themes folder): enough for
    the checks a build makes before it reads the whole tree, without a 90 MB copy."""
    (root / "wp-includes").mkdir(parents=True)
    (root / "wp-settings.php").write_text("<?php\n")
    (root / "wp-includes" / "version.php").write_text("<?php\n$wp_version = '6.1.9';\n")
    (root / "wp-content" / "themes").mkdir(parents=True)
    return root


def block_theme(themes_dir: Path, name: str = "plain") -> Path:
    """The smallest theme the build accepts: style.css and templates/index.html."""
    theme = themes_dir / name
    (theme / "templates").mkdir(parents=True)
    (theme / "style.css").write_text(f"/*\nTheme Name: {name}\n*/\n")
    (theme / "templates" / "index.html").write_text("<!-- wp:post-content /-->\n")
    return theme
