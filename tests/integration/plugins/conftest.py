"""Fixtures for the plugin lifecycle tests: a project on a copy of Debian's WordPress whose
plugin API and mirror are the fake directory on 127.0.0.1, and a private download cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.helpers import copy_wordpress
from tests.support.plugin_directory import PLUGIN, THEME, Directory, serve_directory
from tests.support.plugins import make_project


@pytest.fixture(scope="session")
def wp_source(tmp_path_factory: pytest.TempPathFactory, debian_wordpress: Path) -> Path:
    return copy_wordpress(tmp_path_factory.mktemp("wpsrc") / "wordpress")


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh download cache per test (a machine that has never seen the zips)."""
    path = tmp_path / "cache"
    monkeypatch.setenv("WPLAMBDA_CACHE_DIR", str(path))
    return path


@pytest.fixture()
def directory(tmp_path: Path) -> Iterator[Directory]:
    """The fake directory with hello-wplambda 1.0.0 and wplambda-plain 1.0 published."""
    with serve_directory(tmp_path / "directory") as served:
        served.publish("plugin", PLUGIN, "1.0.0")
        served.publish("theme", THEME, "1.0")
        yield served


@pytest.fixture()
def project(tmp_path: Path, wp_source: Path, directory: Directory, cache: Path) -> Path:
    return make_project(tmp_path / "site", wp_source, {"plugin_mirror": directory.url, "plugin_api": directory.url})
