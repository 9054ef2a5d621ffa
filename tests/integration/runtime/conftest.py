"""Runtime fixtures: one WordPress, one MariaDB database and one php-fpm for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.lambda_events import Client, Reply, form_fields
from tests.support.wp_site import Site, install_fields, log_in, make_site
from wp_lambda.local.mariadb import MariaDB
from wp_lambda.runtime.handler import Runtime


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, mariadb: MariaDB, debian_wordpress: object) -> Site:
    return make_site(tmp_path_factory.mktemp("runtime-site"), mariadb, "wp_runtime")


@pytest.fixture(scope="session")
def runtime(site: Site) -> Iterator[Runtime]:
    """The handler's runtime on the site, with Debian's php-fpm; stopped by PID at the end."""
    rt = Runtime(site.environ)
    try:
        yield rt
    finally:
        rt.stop()


@pytest.fixture(scope="session")
def installed(runtime: Runtime) -> Reply:
    """WordPress installed through the handler (the install form's step 2); the reply is tested."""
    return Client(runtime.handle).post_form("/wp-admin/install.php", install_fields(), query="step=2")


@pytest.fixture(scope="session")
def pretty_permalinks(runtime: Runtime, installed: Reply) -> tuple[Reply, Reply]:
    """/%postname%/ permalinks switched on through the admin form (with its nonce), as an
    administrator would; returns the form page and the reply to saving it, for the test."""
    admin = Client(runtime.handle)
    log_in(admin)
    page = admin.get("/wp-admin/options-permalink.php")
    fields = form_fields(page.text)
    fields.update(selection="/%postname%/", permalink_structure="/%postname%/", category_base="", tag_base="")
    return page, admin.post_form("/wp-admin/options-permalink.php", fields)


@pytest.fixture
def client(runtime: Runtime, installed: Reply) -> Client:
    return Client(runtime.handle)
