"""Purge by what changed, through real parts: Debian's WordPress with the kit's wp-config.php and
wordpress/mu-plugins/wplambda-purge.php, MariaDB, php-fpm and the wp-cli phar, through the handler.

The mu-plugin's list is asserted where the runtime sends it: under serve (contract.LOCAL_ENV) to a
loopback stand-in for serve's purge endpoint, which records each POST (serve's own endpoint is
another branch's); deployed, to CloudFront's CreateInvalidation on moto's server (moto 5.2.6
implements CreateInvalidation and ListInvalidations). The tests run in file order on one site.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import boto3
import pytest

from tests.support.helpers import moto_server, real_wp_cli
from tests.support.lambda_events import Client, Context, Reply
from tests.support.wp_site import Site, install_fields, log_in, make_site
from wp_lambda.local.mariadb import MariaDB
from wp_lambda.runtime import contract, purge
from wp_lambda.runtime.handler import Runtime

MU_PLUGIN = Path(__file__).resolve().parents[3] / "wordpress" / "mu-plugins" / "wplambda-purge.php"
TOKEN = "local-purge-token-for-the-test"
ORIGIN_SECRET = "origin-secret-for-the-purge-test"
# A post type with an archive, as a plugin registers one (a shop's products, a library's books).
BOOKS = ("<?php add_action('init', static function (): void { register_post_type('book', "
         "['public' => true, 'has_archive' => true, 'rewrite' => ['slug' => 'books']]); });\n")
# A script that names paths the way the mu-plugin does, for the CloudFront leg.
HEADER_SCRIPT = "<?php header('X-Wplambda-Purge: /hello/* /'); echo 'changed';\n"
YEAR = dt.date.today().year
# The post the tests below publish, update and trash, in file order.
POST: dict[str, int] = {}


class Recorder(BaseHTTPRequestHandler):
    """serve's purge endpoint as the runtime sees it: records each POST, answers 204."""

    posts: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.posts.append({"path": self.path, "authorization": self.headers.get("Authorization"),
                           "type": self.headers.get("Content-Type"), "paths": json.loads(body)["paths"]})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}{contract.LOCAL_PURGE_PATH}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, mariadb: MariaDB, debian_wordpress: object) -> Site:
    site = make_site(tmp_path_factory.mktemp("purge-site"), mariadb, "wp_purge")
    mu_plugins = site.root / "wp-content" / "mu-plugins"
    mu_plugins.mkdir(parents=True, exist_ok=True)
    shutil.copy(MU_PLUGIN, mu_plugins / MU_PLUGIN.name)
    (mu_plugins / "books.php").write_text(BOOKS)
    (site.root / "wplambda-purge-header.php").write_text(HEADER_SCRIPT)
    site.environ.update({contract.PAGE_CACHE_ENV: "300,86400", contract.WP_CLI_ENV: real_wp_cli()})
    return site


@pytest.fixture(scope="module")
def runtime(site: Site, endpoint: str) -> Iterator[Runtime]:
    """The runtime as serve starts it: the purge goes to serve's endpoint with its token."""
    rt = Runtime(dict(site.environ, **{contract.LOCAL_ENV: "1", contract.LOCAL_PURGE_URL_ENV: endpoint,
                                       contract.LOCAL_PURGE_TOKEN_ENV: TOKEN}))
    try:
        yield rt
    finally:
        rt.stop()


@pytest.fixture(scope="module")
def editor(runtime: Runtime) -> Client:
    assert Client(runtime.handle).post_form("/wp-admin/install.php", install_fields(), query="step=2").status == 200
    assert wp(runtime, "rewrite", "structure", "/%postname%/")["exitCode"] == 0
    assert wp(runtime, "term", "create", "category", "News", "--slug=news")["exitCode"] == 0
    admin = Client(runtime.handle)
    assert log_in(admin).status == 302
    return admin


def wp(rt: Runtime, *args: str) -> dict[str, Any]:
    result = rt.handle({"wplambda": "wp", "args": list(args)}, Context(60.0))
    assert result["exitCode"] == 0, result
    return result


def last_purge() -> list[str]:
    post = Recorder.posts[-1]
    assert post["path"] == contract.LOCAL_PURGE_PATH
    assert post["authorization"] == f"Bearer {TOKEN}" and post["type"] == "application/json"
    return post["paths"]


def rest(client: Client, method: str, route: str, body: dict[str, Any] | None = None) -> Reply:
    nonce = client.get("/wp-admin/admin-ajax.php", query="action=rest-nonce").text.strip()
    return client.request(method, "/", query=f"rest_route={route}", body=json.dumps(body or {}).encode(),
                          headers={"Content-Type": "application/json", "X-WP-Nonce": nonce})


def test_publishing_with_wp_cli_purges_the_posts_pages(runtime: Runtime, editor: Client) -> None:
    """The CLI channel: the mu-plugin writes the command's file, the runtime sends it after the command."""
    before = len(Recorder.posts)
    created = wp(runtime, "post", "create", "--post_title=Hello Purge", "--post_status=publish",
                 "--post_category=news", "--tags_input=spike", "--post_author=1", "--porcelain")
    assert len(Recorder.posts) == before + 1
    paths = last_purge()
    # "/?*": the home page's ?query variants (the cache key holds the query string; "/*" would be all).
    assert sorted(paths) == sorted(["/hello-purge/*", "/", "/?*", "/page/*", "/feed/*", "/author/admin/*", f"/{YEAR}/*",
                                    "/category/news/*", "/tag/spike/*", "/wp-sitemap*", "/wp-json/*"]), paths
    # `wplambda cost` prices a change at this typical list's length.
    assert len(paths) == contract.PURGE_PATHS_PER_PUBLISH
    POST["id"] = int(created["stdout"].strip())


def test_an_update_on_the_web_purges_old_and_new_addresses_and_the_header_never_leaves(editor: Client) -> None:
    post_id = POST["id"]
    before = len(Recorder.posts)
    reply = rest(editor, "POST", f"/wp/v2/posts/{post_id}", {"title": "Hello Again", "slug": "hello-again",
                                                             "categories": [1]})
    assert reply.status == 200, reply.text[:300]
    assert reply.header(contract.PURGE_HEADER) is None, reply.headers
    assert len(Recorder.posts) == before + 1  # one batched purge for the request
    paths = last_purge()
    # The old slug and the category it left, then the new ones.
    assert {"/hello-purge/*", "/hello-again/*", "/category/news/*", "/category/uncategorized/*", "/"} <= set(paths)


def test_trashing_purges_the_address_it_had(editor: Client) -> None:
    post_id = POST["id"]
    reply = rest(editor, "DELETE", f"/wp/v2/posts/{post_id}")
    assert reply.status == 200, reply.text[:300]
    paths = last_purge()
    assert "/hello-again/*" in paths and "/" in paths
    assert not [path for path in paths if "__trashed" in path], paths


def test_approving_a_comment_purges_its_post_and_the_comment_feed(runtime: Runtime, editor: Client) -> None:
    post_id = wp(runtime, "post", "create", "--post_title=Discussed", "--post_status=publish", "--porcelain")
    comment = wp(runtime, "comment", "create", f"--comment_post_ID={post_id['stdout'].strip()}",
                 "--comment_content=First", "--comment_approved=0", "--porcelain")
    before = len(Recorder.posts)
    wp(runtime, "comment", "approve", comment["stdout"].strip())
    assert len(Recorder.posts) == before + 1
    assert last_purge() == ["/discussed/*", "/comments/feed/*", "/wp-json/*"]


def test_a_visitors_comment_approved_at_once_purges_nothing(runtime: Runtime, editor: Client) -> None:
    """WordPress approves a returning commenter's comment at once (comment_previously_approved): that
    must not let anyone send billed invalidations. A moderator's own comment still purges."""
    post_id = wp(runtime, "post", "create", "--post_title=Open thread", "--post_status=publish",
                 "--porcelain")["stdout"].strip()
    reader = ["--comment_author=Reader", "--comment_author_email=reader@example.com"]
    # Approved long ago (WordPress's flood check looks at the last 15 s), so the reader is "returning".
    wp(runtime, "comment", "create", f"--comment_post_ID={post_id}", "--comment_content=Earlier", *reader,
       "--comment_approved=1", "--comment_date=2020-01-01 00:00:00", "--comment_date_gmt=2020-01-01 00:00:00")
    before = len(Recorder.posts)
    visitor = Client(runtime.handle)
    posted = visitor.post_form("/wp-comments-post.php", {
        "comment": "Nice post, again", "author": "Reader", "email": "reader@example.com", "url": "",
        "comment_post_ID": post_id, "comment_parent": "0"})
    assert posted.status == 302, posted.text[:300]
    approved = wp(runtime, "comment", "list", f"--post_id={post_id}", "--status=approve", "--format=count")
    assert approved["stdout"].strip() == "2"  # it was approved at once: the case that used to purge
    assert len(Recorder.posts) == before
    mine = editor.post_form("/wp-comments-post.php", {"comment": "Thanks", "comment_post_ID": post_id,
                                                      "comment_parent": "0"})
    assert mine.status == 302, mine.text[:300]
    assert len(Recorder.posts) == before + 1
    assert last_purge() == ["/open-thread/*", "/comments/feed/*", "/wp-json/*"]


def test_the_mu_plugin_encodes_a_path_as_the_runtime_checks_it(runtime: Runtime, editor: Client) -> None:
    """Non-ASCII, RFC 1738's unsafe characters and a bare "%" are encoded by PHP exactly as
    purge.encoded() does, so the runtime never drops a path the mu-plugin made."""
    raw = "/~user/a{b}|c/50%/caf\u00e9/%e2%9c%93/"
    made = wp(runtime, "eval", f"echo wplambda_purge_path('https://wp.test{raw}');")["stdout"].strip()
    assert made == purge.encoded(raw) == "/%7Euser/a%7Bb%7D%7Cc/50%25/caf%C3%A9/%e2%9c%93/"
    assert purge.path_problem(made) is None


def test_a_post_type_archive_and_both_cases_of_an_escape_are_purged(runtime: Runtime, editor: Client) -> None:
    """A custom post type's archive (with its pages and feed under it), and a non-ASCII slug in the
    lower-case escapes WordPress writes and the upper-case ones a browser sends."""
    before = len(Recorder.posts)
    wp(runtime, "post", "create", "--post_type=book", "--post_title=Dune", "--post_status=publish")
    assert len(Recorder.posts) == before + 1
    # "/books/dune/*" is under "/books/*", so the runtime sends the archive's wildcard alone.
    assert last_purge() == ["/", "/?*", "/books/*", "/wp-sitemap*", "/wp-json/*"]
    wp(runtime, "post", "create", "--post_title=\u65e5\u672c", "--post_status=publish", "--post_author=1")
    paths = last_purge()
    assert {"/%e6%97%a5%e6%9c%ac/*", "/%E6%97%A5%E6%9C%AC/*"} <= set(paths), paths


def test_a_draft_changes_nothing_public(runtime: Runtime, editor: Client) -> None:
    before = len(Recorder.posts)
    wp(runtime, "post", "create", "--post_title=Not yet", "--post_status=draft")
    assert len(Recorder.posts) == before


def _distribution(cloudfront: Any) -> str:
    origin = {"Id": "function", "DomainName": "example.execute-api.us-east-1.amazonaws.com",
              "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}
    config = {"CallerReference": "purge-test", "Comment": "", "Enabled": True,
              "Origins": {"Quantity": 1, "Items": [origin]},
              "DefaultCacheBehavior": {"TargetOriginId": "function", "ViewerProtocolPolicy": "redirect-to-https",
                                       "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"}}
    return str(cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"])


def _paths(cloudfront: Any, distribution: str) -> list[list[str]]:
    listed = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"].get("Items", [])
    return [cloudfront.get_invalidation(DistributionId=distribution, Id=item["Id"])["Invalidation"][
        "InvalidationBatch"]["Paths"]["Items"] for item in listed]


def test_deployed_the_invalidation_reaches_cloudfront_only_from_cloudfront(site: Site, editor: Client) -> None:
    """The site function's leg: the distribution comes from the viewer-request function's header,
    believed only on a request with the origin secret; the console function's from its variable."""
    with moto_server() as aws, pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ENDPOINT_URL", aws)
        for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                            ("AWS_DEFAULT_REGION", "us-east-1")):
            mp.setenv(name, value)
        cloudfront = boto3.client("cloudfront")
        distribution = _distribution(cloudfront)
        environ = {k: v for k, v in site.environ.items() if k != contract.LOCAL_ENV}
        rt = Runtime(dict(environ, **{contract.ORIGIN_SECRET_ENV: ORIGIN_SECRET}))
        try:
            via_cloudfront = {contract.ORIGIN_SECRET_HEADER: ORIGIN_SECRET, contract.DISTRIBUTION_HEADER: distribution}
            # Too little time left for a call (CALL_TIME) once PHP answered: the purge is skipped,
            # the page is still answered, and nothing pushes the invocation past its timeout.
            hurried = Client(rt.handle, timeout=purge.CALL_TIME + rt.margin - 0.5).get(
                "/wplambda-purge-header.php", headers=via_cloudfront)
            assert hurried.status == 200 and hurried.text == "changed"
            assert _paths(cloudfront, distribution) == []
            reply = Client(rt.handle).get("/wplambda-purge-header.php", headers=via_cloudfront)
            assert reply.status == 200 and reply.text == "changed"
            assert reply.header(contract.PURGE_HEADER) is None
            assert _paths(cloudfront, distribution) == [["/hello/*", "/"]]
            # The same paths again at once (the block editor's second save, post.php?meta-box-loader):
            # already on their way, not sent again (contract.PURGE_REPEAT_SECONDS).
            again = Client(rt.handle).get("/wplambda-purge-header.php", headers=via_cloudfront)
            assert again.status == 200 and again.header(contract.PURGE_HEADER) is None
            assert len(_paths(cloudfront, distribution)) == 1
            # A distribution id of the wrong shape, even from CloudFront, is never used.
            odd = dict(via_cloudfront, **{contract.DISTRIBUTION_HEADER: f"{distribution}/x"})
            refused = Client(rt.handle).get("/wplambda-purge-header.php", headers=odd)
            assert refused.status == 200 and refused.header(contract.PURGE_HEADER) is None
            assert len(_paths(cloudfront, distribution)) == 1
        finally:
            rt.stop()
        # Without an origin secret (a function reached some other way), the header is the viewer's
        # own and is not believed: the header still never leaves, and nothing is sent.
        bare = Runtime(environ)
        try:
            forged = Client(bare.handle).get("/wplambda-purge-header.php",
                                             headers={contract.DISTRIBUTION_HEADER: distribution})
            assert forged.status == 200 and forged.header(contract.PURGE_HEADER) is None
            assert len(_paths(cloudfront, distribution)) == 1
        finally:
            bare.stop()
        console = Runtime(dict(environ, **{contract.ROLE_ENV: contract.CONSOLE_ROLE,
                                           contract.DISTRIBUTION_ID_ENV: distribution}))
        try:
            wp(console, "post", "create", "--post_title=From the console", "--post_status=publish")
        finally:
            console.stop()
        sent = _paths(cloudfront, distribution)
        assert len(sent) == 2 and any("/from-the-console/*" in paths for paths in sent), sent


def test_serves_purge_endpoint_is_reached_directly_never_through_a_proxy(
        endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's http_proxy would otherwise receive the bearer token (urlopen honours it)."""
    proxied: list[str | None] = []

    class Proxy(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            proxied.append(self.headers.get("Authorization"))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        for name in ("no_proxy", "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.server_port}")
        urllib.request.install_opener(None)  # urlopen's opener reads the proxy settings when first made
        before = len(Recorder.posts)
        purger = purge.Purger({contract.PAGE_CACHE_ENV: "300,60", contract.LOCAL_ENV: "1",
                               contract.LOCAL_PURGE_URL_ENV: endpoint, contract.LOCAL_PURGE_TOKEN_ENV: TOKEN})
        assert purger.send(["/through-no-proxy/"], None) == "local"
        assert proxied == []
        assert Recorder.posts[before:][0]["paths"] == ["/through-no-proxy/"]
    finally:
        proxy.shutdown()
        proxy.server_close()
