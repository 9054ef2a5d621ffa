"""What WordPress (with the kit's page cache mu-plugin) and the runtime tell CloudFront it may share.

A real WordPress (Debian's, the kit's wp-config.php and wordpress/mu-plugins/wplambda-page-cache.php),
MariaDB and php-fpm, through the handler. The invariant: no response made for one visitor, and no
response carrying Set-Cookie, ever says public. Only an anonymous GET/HEAD of a page that is the
same for everyone does. The tests run in file order: the site is installed once.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.lambda_events import Client, Reply
from tests.support.wp_site import Site, install_fields, log_in, make_site
from wp_lambda.local.mariadb import MariaDB
from wp_lambda.runtime import contract, page_cache
from wp_lambda.runtime.handler import Runtime

TTL, STALE = 300, 86400
MU_PLUGIN = Path(__file__).resolve().parents[3] / "wordpress" / "mu-plugins" / "wplambda-page-cache.php"
# A script that says public and sets a cookie: only the runtime stands between it and the cache.
SETS_COOKIE = "<?php header('Cache-Control: public, s-maxage=600'); setcookie('session', 'abc'); echo 'mine';\n"
SHARED_WITH_STALE = f"public, max-age=0, s-maxage={TTL}, stale-while-revalidate={STALE}, stale-if-error={STALE}"
# A test mu-plugin: ?nonce=MODE makes an anonymous nonce for action "x" while the page is routed
# and MODE says where it goes (nowhere, the footer, a header, api-fetch's inline script, with a
# cookie); two REST routes make one and answer it or not.
NONCE_PLUGIN = """<?php
add_action('template_redirect', static function () {
    $mode = $_GET['nonce'] ?? '';
    if ($mode === '') {
        return;
    }
    $nonce = wp_create_nonce('x');
    if ($mode === 'footer') {
        add_action('wp_footer', static function () use ($nonce) { echo '<p data-nonce="' . $nonce . '"></p>'; });
    } elseif ($mode === 'header') {
        header('X-WP-Nonce: ' . $nonce);
    } elseif ($mode === 'api-fetch') {
        add_action('wp_enqueue_scripts', static function () { wp_enqueue_script('wp-api-fetch'); });
    } elseif ($mode === 'cookie') {
        setcookie('visitor', 'v1');
        add_action('wp_footer', static function () use ($nonce) { echo $nonce; });
    }
});
add_action('rest_api_init', static function () {
    register_rest_route('wplambda-test/v1', '/nonce', ['methods' => 'GET', 'permission_callback' => '__return_true',
        'callback' => static fn () => ['nonce' => wp_create_nonce('x')]]);
    register_rest_route('wplambda-test/v1', '/quiet', ['methods' => 'GET', 'permission_callback' => '__return_true',
        'callback' => static fn () => ['made' => strlen(wp_create_nonce('x'))]]);
});
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, mariadb: MariaDB, debian_wordpress: object) -> Site:
    site = make_site(tmp_path_factory.mktemp("page-cache-site"), mariadb, "wp_page_cache")
    mu_plugins = site.root / "wp-content" / "mu-plugins"
    mu_plugins.mkdir(parents=True, exist_ok=True)
    shutil.copy(MU_PLUGIN, mu_plugins / MU_PLUGIN.name)
    (site.root / "wplambda-sets-cookie.php").write_text(SETS_COOKIE)
    (mu_plugins / "wplambda-test-nonce.php").write_text(NONCE_PLUGIN)
    site.environ[contract.PAGE_CACHE_ENV] = f"{TTL},{STALE}"
    return site


@pytest.fixture(scope="module")
def runtime(site: Site) -> Iterator[Runtime]:
    rt = Runtime(site.environ)
    try:
        yield rt
    finally:
        rt.stop()


@pytest.fixture(scope="module")
def installed(runtime: Runtime) -> Reply:
    return Client(runtime.handle).post_form("/wp-admin/install.php", install_fields(), query="step=2")


@pytest.fixture(scope="module")
def editor(runtime: Runtime, installed: Reply) -> Client:
    """The administrator, logged in (cookies in its jar)."""
    admin = Client(runtime.handle)
    assert log_in(admin).status == 302
    return admin


@pytest.fixture
def anonymous(runtime: Runtime, installed: Reply) -> Client:
    return Client(runtime.handle)


def _shared(reply: Reply) -> bool:
    value = reply.header("cache-control") or ""
    return "public" in value or "s-maxage" in value


def _assert_private(reply: Reply) -> None:
    assert reply.header("cache-control") == contract.NOT_SHARED, (reply.status, reply.headers)


def test_anonymous_home_page_is_shared_for_ttl_without_cookies(anonymous: Client, installed: Reply) -> None:
    assert installed.status == 200
    home = anonymous.get("/")
    assert home.status == 200 and "wp-site-blocks" in home.text
    assert home.cookies == []
    value = home.header("cache-control") or ""
    assert value.startswith(f"public, max-age=0, s-maxage={TTL}"), value
    assert home.header("expires") is None and home.header("pragma") is None
    head = anonymous.request("HEAD", "/")
    assert (head.header("cache-control") or "").startswith("public, max-age=0, s-maxage=")
    feed = anonymous.get("/", query="feed=rss2")
    assert feed.status == 200 and _shared(feed)


def test_public_rest_get_is_shared(anonymous: Client) -> None:
    posts = anonymous.get("/", query="rest_route=/wp/v2/posts")
    assert posts.status == 200 and json.loads(posts.body)
    assert _shared(posts), posts.headers


def test_default_pages_get_the_stale_directives(anonymous: Client) -> None:
    """WordPress makes a wp_rest nonce on every front-end request (for api-fetch's inline script),
    printed or not: only a printed one may keep stale-while-revalidate and stale-if-error off, or no
    page would ever get them and the database's resume and throttling would reach visitors."""
    for query in ("", "p=1", "nonce=made", "rest_route=/wp/v2/posts", "rest_route=/wplambda-test/v1/quiet"):
        reply = anonymous.get("/", query=query)
        assert reply.status == 200 and reply.cookies == [], (query, reply.status)
        assert reply.header("cache-control") == SHARED_WITH_STALE, (query, reply.headers)
    home = anonymous.get("/")
    assert "wp-site-blocks" in home.text and "createNonceMiddleware" not in home.text


@pytest.mark.parametrize(("query", "printed"), [("nonce=footer", 'data-nonce="'), ("nonce=header", "X-WP-Nonce: "),
                                               ("nonce=api-fetch", "createNonceMiddleware"),
                                               ("rest_route=/wplambda-test/v1/nonce", '"nonce":"')])
def test_a_page_that_prints_an_anonymous_nonce_is_shared_without_stale(anonymous: Client, query: str,
                                                                       printed: str) -> None:
    """A cached nonce must not outlive its 24 h: no stale directives, and ttl is at most 12 h."""
    reply = anonymous.get("/", query=query)
    assert reply.status == 200 and reply.cookies == []
    assert printed in f"X-WP-Nonce: {reply.header('x-wp-nonce')}\n{reply.text}", reply.text[-2000:]
    assert reply.header("cache-control") == f"public, max-age=0, s-maxage={TTL}", (query, reply.headers)


def test_head_of_a_page_that_made_a_nonce_is_shared_without_stale(anonymous: Client) -> None:
    """HEAD has no page to search (WordPress exits before the template): a nonce made counts."""
    head = anonymous.request("HEAD", "/", query="nonce=made")
    assert head.status == 200 and head.body == b""
    assert head.header("cache-control") == f"public, max-age=0, s-maxage={TTL}", head.headers


def test_a_nonce_page_that_sets_a_cookie_is_private(anonymous: Client, editor: Client) -> None:
    reply = anonymous.get("/", query="nonce=cookie")
    assert reply.status == 200 and reply.cookies
    _assert_private(reply)
    _assert_private(editor.get("/", query="nonce=footer"))


def test_logged_in_editor_is_never_shared_and_sees_the_admin_bar(editor: Client) -> None:
    home = editor.get("/")
    assert home.status == 200 and "wpadminbar" in home.text
    _assert_private(home)
    dashboard = editor.get("/wp-admin/")
    assert dashboard.status == 200
    _assert_private(dashboard)


def test_logged_in_rest_with_its_nonce_is_never_shared(editor: Client) -> None:
    nonce = editor.get("/wp-admin/admin-ajax.php", query="action=rest-nonce")
    assert nonce.status == 200 and nonce.text.strip()
    me = editor.get("/", query="rest_route=/wp/v2/users/me", headers={"X-WP-Nonce": nonce.text.strip()})
    assert me.status == 200 and json.loads(me.body)["id"] == 1
    _assert_private(me)


def test_a_commenters_cookie_goes_around_the_cache(anonymous: Client) -> None:
    anonymous.jar["comment_author_0123abcd"] = "Ann"
    _assert_private(anonymous.get("/"))


def test_post_is_never_shared(anonymous: Client) -> None:
    _assert_private(anonymous.post_form("/", {"s": "hello"}))


def test_errors_and_redirects_are_never_shared(anonymous: Client) -> None:
    missing = anonymous.get("/", query="p=999999")
    assert missing.status == 404
    _assert_private(missing)
    login = anonymous.get("/wp-login.php")
    assert login.status == 200 and login.cookies  # the test cookie
    _assert_private(login)


def test_a_preview_is_never_shared(anonymous: Client) -> None:
    _assert_private(anonymous.get("/", query="p=1&preview=true"))


def test_a_password_protected_post_is_never_shared(editor: Client, anonymous: Client) -> None:
    nonce = editor.get("/wp-admin/admin-ajax.php", query="action=rest-nonce").text.strip()
    created = editor.request("POST", "/", query="rest_route=/wp/v2/posts",
                             body=json.dumps({"title": "Members", "content": "the secret is 42", "status": "publish",
                                              "password": "letmein"}).encode(),
                             headers={"Content-Type": "application/json", "X-WP-Nonce": nonce})
    assert created.status == 201, created.text[:500]
    post_id = json.loads(created.body)["id"]
    form = anonymous.get("/", query=f"p={post_id}")
    assert form.status == 200 and "post-password-form" in form.text and "the secret is 42" not in form.text
    _assert_private(form)
    # Whoever typed the password sees the content; that page is theirs alone.
    anonymous.jar["wp-postpass_0123abcd"] = "$P$Bnotreal"
    _assert_private(anonymous.get("/", query=f"p={post_id}"))


def test_a_response_that_sets_a_cookie_is_never_shared(anonymous: Client) -> None:
    reply = anonymous.get("/wplambda-sets-cookie.php")
    assert reply.status == 200 and reply.cookies
    _assert_private(reply)


def test_pages_off_means_nothing_is_shared(site: Site, installed: Reply) -> None:
    rt = Runtime({**site.environ, contract.PAGE_CACHE_ENV: ""})
    try:
        home = Client(rt.handle).get("/")
        assert home.status == 200
        _assert_private(home)
    finally:
        rt.stop()


@pytest.fixture
def wordpress_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runtime's enforcement off for Cache-Control's request side: only the mu-plugin judges."""
    monkeypatch.setattr(page_cache, "bypass_reason", lambda request: None)


@pytest.mark.parametrize("name", ["wp-postpass.0123abcd", "wordpress.logged_in_0123", "wp_woocommerce_session[x",
                                  "PHPSESSID"])
def test_a_cookie_named_as_php_reads_it_keeps_the_page_private(anonymous: Client, name: str) -> None:
    """PHP turns "." and "[" in a cookie name into "_": "wp-postpass.H" is a typed post password to
    WordPress (the home page then shows a protected post's content) while the edge sees another name."""
    anonymous.jar[name] = "x"
    _assert_private(anonymous.get("/"))


@pytest.mark.usefixtures("wordpress_alone")
def test_the_mu_plugin_alone_reads_the_cookie_names_as_php_does(anonymous: Client, site: Site) -> None:
    anonymous.jar["wp-postpass.0123abcd"] = "x"
    _assert_private(anonymous.get("/"))
    # Without the runtime's list of cookies, any cookie keeps a page private (fail safe).
    del anonymous.jar["wp-postpass.0123abcd"]
    anonymous.jar["_ga"] = "GA1"
    assert site.environ.get(contract.PAGE_CACHE_COOKIES_ENV) is None
    _assert_private(anonymous.get("/"))


@pytest.mark.parametrize("header", ["X-HTTP-Method-Override", "X-Method-Override"])
def test_a_rest_method_override_is_never_shared(anonymous: Client, header: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """GET with X-HTTP-Method-Override: HEAD answers an empty 200 under the GET's cache key."""
    reply = anonymous.get("/", query="rest_route=/wp/v2/posts", headers={header: "HEAD"})
    assert reply.status == 200
    _assert_private(reply)
    monkeypatch.setattr(page_cache, "bypass_reason", lambda request: None)  # the mu-plugin alone
    _assert_private(anonymous.get("/", query="rest_route=/wp/v2/posts", headers={header: "HEAD"}))


def test_a_cors_answer_is_never_shared(anonymous: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """The REST API reflects any Origin with credentials allowed; stored, that answer would reach
    every later caller, whose Origin CloudFront does not key on."""
    monkeypatch.setattr(page_cache, "bypass_reason", lambda request: None)  # the mu-plugin alone
    reply = anonymous.get("/", query="rest_route=/wp/v2/posts", headers={"Origin": "https://evil.example"})
    assert reply.status == 200 and reply.header("access-control-allow-origin") == "https://evil.example"
    _assert_private(reply)
