"""The hardening walls the runtime enforces itself: [security] becomes WPLAMBDA_HARDENING, and the
handler refuses xmlrpc.php, wp-cron.php and readme.html on the routed target (every
spelling routing accepts), before PHP or the static file is reached; SameSite=Lax is added to
WordPress's cookies. The routing decisions only: a document root of empty files, no php-fpm (a
request that reached PHP would fail with 502, which the tests would see)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.lambda_events import v2
from wp_lambda.bundle.assets import is_asset
from wp_lambda.config.schema import Config
from wp_lambda.function_env import function_environment, hardening
from wp_lambda.runtime import contract, routing
from wp_lambda.runtime.handler import Runtime
from wp_lambda.runtime.hardening import Walls

DEFAULT_WALLS = "xmlrpc,user-enumeration,http-cron,core-files,login-throttle:5,same-site-cookies"


def _config(**security: object) -> Config:
    return Config.model_validate({"security": security})


def test_the_defaults_put_every_wall_up_and_each_key_takes_its_own_down() -> None:
    assert hardening(_config()) == DEFAULT_WALLS
    assert hardening(_config(xmlrpc=True)) == DEFAULT_WALLS.replace("xmlrpc,", "")
    assert hardening(_config(http_cron=True, core_files=True)) == \
        "xmlrpc,user-enumeration,login-throttle:5,same-site-cookies"
    assert hardening(_config(login_attempts=12)).split(",")[4] == "login-throttle:12"
    assert hardening(_config(login_throttle=False, same_site_cookies=False, user_enumeration=True)) == \
        "xmlrpc,http-cron,core-files"
    deployed = {v.name: v for v in function_environment(_config())}
    assert deployed[contract.HARDENING_ENV].value == DEFAULT_WALLS


def test_login_attempts_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="login_attempts"):
        _config(login_attempts=0)
    with pytest.raises(ValueError, match="login_attempts"):
        _config(login_attempts="5")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for rel in ("index.php", "xmlrpc.php", "wp-cron.php", "wp-login.php", "readme.html", "license.txt",
                "about/readme.html"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    return tmp_path.resolve()


def _status(root: Path, walls: str, path: str, query: str = "") -> int:
    """What the handler answers; 502 means the request went on to PHP (there is no php-fpm here)."""
    rt = Runtime({contract.DOCUMENT_ROOT_ENV: str(root), contract.HARDENING_ENV: walls,
                  contract.PHP_FPM_ENV: str(root / "no-php-fpm")})
    try:
        return int(rt.handle(v2("GET", path, query), None)["statusCode"])
    finally:
        rt.stop()


@pytest.mark.parametrize(("path", "status"), [
    ("/xmlrpc.php", 403), ("/xmlrpc%2ephp", 403), ("/xmlrpc.php/extra", 403), ("/wp-cron.php", 403),
    ("/wp-cron%2Ephp", 403), ("/readme.html", 404), ("/readme%2ehtml", 404), ("/README.html", 502),
    # Another readme.html is not the core file, and wp-login.php is the throttle's, in PHP.
    ("/about/readme.html", 200), ("/wp-login.php", 502),
])
def test_walls_up_refuse_before_php(root: Path, path: str, status: int) -> None:
    assert _status(root, DEFAULT_WALLS, path, "doing_wp_cron") == status


@pytest.mark.parametrize("path", ["/xmlrpc.php", "/wp-cron.php"])
def test_a_wall_down_lets_php_answer(root: Path, path: str) -> None:
    assert _status(root, "", path) == 502
    assert _status(root, DEFAULT_WALLS.replace("xmlrpc,", "").replace("http-cron,", ""), path) == 502


def test_core_files_down_serves_readme_but_never_license(root: Path) -> None:
    """license.txt is not the wall's: .txt is off the allow-list of static types, so it is never served."""
    walls = DEFAULT_WALLS.replace("core-files,", "")
    assert _status(root, walls, "/readme.html") == 200
    assert _status(root, walls, "/license.txt") == _status(root, DEFAULT_WALLS, "/license.txt") == 404


def test_refusal_is_decided_on_the_routed_target(root: Path) -> None:
    walls = Walls.from_env({contract.HARDENING_ENV: DEFAULT_WALLS})
    assert walls.refusal(str(root), routing.route(str(root), "/index.php", "")) is None
    assert walls.refusal(str(root), routing.route(str(root), "/xmlrpc.php", "")) == routing.Route("deny", status=403)
    assert Walls.from_env({}).up == frozenset()


def test_the_core_files_never_reach_the_assets_bucket() -> None:
    assert not is_asset("readme.html") and not is_asset("license.txt")


COOKIE = "wordpress_logged_in_0123abcd=admin%7C1; path=/; HttpOnly"


@pytest.mark.parametrize(("header", "expected"), [
    (COOKIE, COOKIE + "; SameSite=Lax"),
    ("wordpress_sec_0123abcd=x; path=/wp-admin; secure; HttpOnly", "wordpress_sec_0123abcd=x; path=/wp-admin; "
     "secure; HttpOnly; SameSite=Lax"),
    ("wordpress_test_cookie=WP%20Cookie%20check; path=/", "wordpress_test_cookie=WP%20Cookie%20check; path=/; "
     "SameSite=Lax"),
    # A cookie that already says, or one that is not WordPress's, is left alone.
    ("wordpress_0123=x; path=/; samesite=Strict", "wordpress_0123=x; path=/; samesite=Strict"),
    ("comment_author_0123=bob; path=/", "comment_author_0123=bob; path=/"),
])
def test_same_site_on_wordpress_cookies(header: str, expected: str) -> None:
    headers = [("Content-Type", "text/html"), ("Set-Cookie", header)]
    up, down = (Walls.from_env({contract.HARDENING_ENV: walls}) for walls in (DEFAULT_WALLS, "xmlrpc"))
    assert up.cookie_headers(headers)[1] == ("Set-Cookie", expected)
    assert down.cookie_headers(headers)[1] == ("Set-Cookie", header)
