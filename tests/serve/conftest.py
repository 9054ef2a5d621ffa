"""Fixtures for the serve tests: a project from Debian's WordPress and a running `wplambda serve`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import run_wplambda
from servehelpers import ADMIN_PASSWORD, Served, free_port, start_serve


@pytest.fixture(scope="module")
def serve_project(tmp_path_factory: pytest.TempPathFactory, debian_wordpress: Path) -> Path:
    project = tmp_path_factory.mktemp("serve") / "site"
    result = run_wplambda("init", str(project), "--yes", "--name", "e2e", "--wordpress-source", str(debian_wordpress))
    assert result.returncode == 0, result.stderr
    return project


@pytest.fixture(scope="module")
def served(serve_project: Path) -> Iterator[Served]:
    server = start_serve(serve_project, free_port(), "--install", "--admin-password", ADMIN_PASSWORD,
                         "--workers", "2")
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.stop()
