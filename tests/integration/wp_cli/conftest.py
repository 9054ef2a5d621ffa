"""Fixtures for wp-cli in the site: one project on Debian's WordPress with the real wp-cli phar.

The project is built for `serve` (its layer carries ../shared's wp-cli) and installed through
`wplambda wp --local -- core install`, i.e. through the kit itself, once per session. Its
console timeout is short so the deadline test runs in seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.helpers import real_wp_cli, run_wplambda
from tests.support.serve import init_site
from tests.support.wp_cli import ADMIN_PASSWORD, CONSOLE_TIMEOUT, set_key


@pytest.fixture(scope="session")
def wp_project(tmp_path_factory: pytest.TempPathFactory, debian_wordpress: Path) -> Path:
    project = init_site(tmp_path_factory.mktemp("wp-cli") / "site", "wpsite")
    set_key(project, "build", "wp_cli", f'"{real_wp_cli()}"')
    set_key(project, "console", "timeout", str(CONSOLE_TIMEOUT))
    result = run_wplambda("wp", "--local", "--project", str(project), "--", "core", "install",
                          "--url=http://127.0.0.1:8080", "--title=wp-cli site", "--admin_user=admin",
                          f"--admin_password={ADMIN_PASSWORD}", "--admin_email=admin@example.com", "--skip-email")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WordPress installed successfully" in result.stdout
    return project
