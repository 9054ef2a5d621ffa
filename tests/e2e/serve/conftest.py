"""Fixtures for the serve tests: a project from Debian's WordPress, a running `wplambda serve`, Chromium.

A serve build and a Chromium cost seconds each, so the ones that can be shared are made once per
session (so once per xdist worker that runs a module using them):
``installed_site`` for the modules that only read the site or add content no other test looks
at, and ``chromium``, of which each test gets fresh contexts. A module that stops, restarts or
resets its serve (test_serve_e2e) or needs other settings (S3, EFS, an external database) starts
its own.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.helpers import moto_server
from tests.support.serve import ADMIN_PASSWORD, Served, init_site, serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser


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


@pytest.fixture(scope="session")
def installed_site(tmp_path_factory: pytest.TempPathFactory, debian_wordpress: Path) -> Iterator[Served]:
    """`serve --install` of a default project, shared by the modules that do not change its settings."""
    project = init_site(tmp_path_factory.mktemp("installed") / "site", "installed")
    with serving(project, "--install", "--admin-password", ADMIN_PASSWORD, "--workers", "3") as server:
        yield server


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, launched once per session through Playwright."""
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is missing: run `make setup`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def browser(chromium: Browser) -> Iterator[Browser]:
    """The session's Chromium; the contexts (with their pages and cookies) a test opens are closed
    after it, so no test sees another's session and no page keeps polling a stopped serve."""
    before = set(chromium.contexts)
    yield chromium
    for context in chromium.contexts:
        if context not in before:
            context.close()
