"""Fixtures for the serve tests: a project from Debian's WordPress and a running `wplambda serve`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from servehelpers import ADMIN_PASSWORD, Served, init_site, serving


@pytest.fixture(scope="module")
def serve_project(tmp_path_factory: pytest.TempPathFactory, debian_wordpress: Path) -> Path:
    return init_site(tmp_path_factory.mktemp("serve") / "site", "e2e")


@pytest.fixture(scope="module")
def served(serve_project: Path) -> Iterator[Served]:
    with serving(serve_project, "--install", "--admin-password", ADMIN_PASSWORD, "--workers", "2") as server:
        yield server
