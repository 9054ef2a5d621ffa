"""Helpers of the plugin lifecycle tests."""

from __future__ import annotations

from pathlib import Path

import tomlkit

from wp_lambda.config import CONFIG_FILE, load
from wp_lambda.project import init_project

COMMENT = "# my own comment, kept by every plugin command\n"


def make_project(root: Path, wp_source: Path, build: dict[str, str]) -> Path:
    """``init`` into ``root`` with the given WordPress tree and [build] keys, plus a user comment
    on top that every command must keep."""
    init_project(root, {"wordpress_source": str(wp_source)})
    path = root / CONFIG_FILE
    doc = tomlkit.parse(path.read_text())
    for key, value in build.items():
        doc["build"][key] = value  # type: ignore[index]
    path.write_text(COMMENT + tomlkit.dumps(doc))
    load(root)
    return root
