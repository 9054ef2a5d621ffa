"""Fixtures for the serve tests: a project from Debian's WordPress and a running `wplambda serve`."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import moto_server
from servehelpers import ADMIN_PASSWORD, Served, init_site, serving


@pytest.fixture(scope="module")
def serve_project(tmp_path_factory: pytest.TempPathFactory, debian_wordpress: Path) -> Path:
    return init_site(tmp_path_factory.mktemp("serve") / "site", "e2e")


@pytest.fixture(scope="module")
def served(serve_project: Path) -> Iterator[Served]:
    with serving(serve_project, "--install", "--admin-password", ADMIN_PASSWORD, "--workers", "2") as server:
        yield server


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(moto's endpoint, the secret key): credentials in the environment, no ~/.aws in reach."""
    home = tmp_path_factory.mktemp("aws-home")
    secret = secrets.token_urlsafe(30)
    with moto_server() as endpoint, pytest.MonkeyPatch.context() as mp:
        for key, value in {"AWS_ACCESS_KEY_ID": "serve-test-key", "AWS_SECRET_ACCESS_KEY": secret,
                           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(home / "config"),
                           "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials")}.items():
            mp.setenv(key, value)
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            mp.delenv(key, raising=False)
        yield endpoint, secret
