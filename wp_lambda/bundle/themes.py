"""Whether a WordPress tree can render a page at all: a usable theme, and what it says about translations.

WordPress with no usable theme answers every front-end request with 200 and an empty body, so a
build from such a tree would deploy a blank site without a single error. The build, ``serve``
and ``doctor`` all ask this module, so they agree on what "usable" means.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from wp_lambda.common.errors import UserError

THEMES = Path("wp-content") / "themes"
LANGUAGES = Path("wp-content") / "languages"
# A block theme renders from templates/index.html (block-templates/ before WordPress 5.9);
# a classic theme from index.php. Either way WordPress reads the theme's header from style.css.
ENTRY_POINTS = ("index.php", "templates/index.html", "block-templates/index.html")


@dataclass
class ThemeScan:
    """The themes found under ``wp-content/themes`` and, for each unusable one, why."""

    folder: Path
    usable: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _readable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.R_OK)


def scan(root: Path) -> ThemeScan:
    """Look at every entry of ``root/wp-content/themes``: dangling links and incomplete themes are problems."""
    folder = root / THEMES
    result = ThemeScan(folder)
    if not folder.is_dir():
        result.problems.append(f"{folder} does not exist")
        return result
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink() and not entry.exists():
            result.problems.append(f"{entry.name}: dangling symlink to {os.readlink(entry)}")
        elif not entry.is_dir():
            continue  # index.php and other loose files are not themes
        elif not _readable(entry / "style.css"):
            result.problems.append(f"{entry.name}: no readable style.css")
        elif not any(_readable(entry / name) for name in ENTRY_POINTS):
            result.problems.append(f"{entry.name}: neither index.php nor templates/index.html")
        else:
            result.usable.append(entry.name)
    return result


def require_theme(root: Path, pinned: Iterable[str] = ()) -> list[str]:
    """The usable themes of the tree; none and nothing pinned under ``[themes]`` is the user's to fix."""
    found = scan(root)
    if found.usable or any(True for _ in pinned):
        return found.usable
    details = "; ".join(found.problems) if found.problems else "the folder is empty"
    raise UserError(
        f"the WordPress tree has no usable theme in {found.folder} ({details}); every page would be blank",
        "pin one under [themes] in wplambda.toml (e.g. twentytwentyfive = \"1.3\"), install Debian's "
        "wordpress-theme-twentytwentythree, or use a WordPress release (wordpress.source = \"6.8.3\"), "
        "which ships its default themes")


def translation_count(root: Path) -> int:
    """How many ``.mo`` catalogues the tree's ``wp-content/languages`` holds (0 when it has none)."""
    folder = root / LANGUAGES
    if not folder.is_dir():
        return 0
    return sum(1 for path in folder.rglob("*.mo") if path.is_file())
