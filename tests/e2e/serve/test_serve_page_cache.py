"""The page cache's headers through real serve: the build carries the kit's page cache mu-plugin and
the function's environment its [cache] settings, so an anonymous page says public, s-maxage, and a
logged-in one private, no-store (what CloudFront, deployed, stores or not; serve's gateway caches
them the same way: test_serve_edge_cache). Real serve, php-fpm, MariaDB and WordPress."""

from __future__ import annotations

from tests.support.serve import Served, fetch, login
from wp_lambda.config import Config
from wp_lambda.runtime import contract


def test_anonymous_home_page_is_public_and_sets_no_cookie(installed_site: Served) -> None:
    status, headers, body = fetch(f"{installed_site.url}/")
    assert status == 200 and b"wpadminbar" not in body
    assert "set-cookie" not in {name.lower() for name in headers}
    defaults = Config().cache
    # With the stale directives: WordPress made a wp_rest nonce for api-fetch but printed none.
    shared = (f"public, max-age=0, s-maxage={defaults.ttl}, stale-while-revalidate={defaults.stale_ttl}, "
              f"stale-if-error={defaults.stale_ttl}")
    for path in ("/", "/?p=1"):
        status, headers, _ = fetch(f"{installed_site.url}{path}")
        assert status == 200, path
        assert {k.lower(): v for k, v in headers.items()}["cache-control"] == shared, (path, headers)


def test_logged_in_pages_are_private_no_store(installed_site: Served) -> None:
    opener = login(installed_site)
    status, headers, body = fetch(f"{installed_site.url}/", opener=opener)
    assert status == 200 and b"wpadminbar" in body
    assert {k.lower(): v for k, v in headers.items()}["cache-control"] == contract.NOT_SHARED
    status, headers, _ = fetch(f"{installed_site.url}/", method="POST", data=b"s=x",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert {k.lower(): v for k, v in headers.items()}["cache-control"] == contract.NOT_SHARED
