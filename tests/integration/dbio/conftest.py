"""dbio fixtures: two WordPress databases on the session's MariaDB, each driven by the handler's runtime."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.lambda_events import Client
from tests.support.wp_site import install_fields, make_site
from wp_lambda.local.mariadb import MariaDB
from wp_lambda.runtime.handler import Runtime


@pytest.fixture(scope="module")
def runtimes(tmp_path_factory: pytest.TempPathFactory, mariadb: MariaDB,
             debian_wordpress: object) -> Iterator[dict[str, Runtime]]:
    """``source`` and ``target``: two installed sites (each its own database and php-fpm), local mode
    so that the dbio invocations accept file:// URLs as under serve."""
    made: dict[str, Runtime] = {}
    try:
        for name in ("source", "target"):
            database = f"dbio_{name}_{tmp_path_factory.getbasetemp().name[-6:].replace('-', '_')}"
            site = make_site(tmp_path_factory.mktemp(f"dbio-{name}"), mariadb, database)
            site.environ["WPLAMBDA_LOCAL"] = "1"
            site.environ["WPLAMBDA_TEST_DATABASE"] = database
            runtime = Runtime(site.environ)
            made[name] = runtime
            reply = Client(runtime.handle).post_form("/wp-admin/install.php", install_fields(f"{name} blog"),
                                                     query="step=2")
            assert reply.status == 200, reply.text[:500]
        yield made
    finally:
        for runtime in made.values():
            runtime.stop()
