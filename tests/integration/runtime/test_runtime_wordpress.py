"""Real WordPress through the handler: install, log in, permalinks, uploads, every event source.

One WordPress (Debian's, with the kit's wp-config.php), one MariaDB database and one php-fpm for
the session; the tests run in file order because each step builds on the site the previous left.
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from pathlib import Path

import pytest

from tests.support.lambda_events import SOURCES, Client, Reply, form_fields, multipart
from tests.support.wp_site import Site, log_in
from wp_lambda.runtime.handler import Runtime


def png(width: int, height: int, seed: int) -> bytes:
    """A valid PNG of noise (incompressible, so the file is as large as asked)."""
    rows = b"".join(b"\0" + bytes((x * 7 + y * 13 + seed * 31 + (x * y) % 251) % 256 for x in range(width * 3))
                    for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 0)) + chunk(b"IEND", b""))


def test_install_form_then_home_page(installed: Reply, client: Client) -> None:
    assert installed.status == 200, installed.text[:2000]
    assert "Success!" in installed.text and "WordPress has been installed" in installed.text
    home = client.get("/")
    assert home.status == 200
    assert "<title>Runtime Test Blog</title>" in home.text
    assert 'class="wp-site-blocks"' in home.text  # the block theme rendered the page
    assert "execute-api" not in home.text  # links use the site host, not the origin's


def test_login_keeps_every_cookie_and_opens_the_dashboard(client: Client) -> None:
    reply = log_in(client)
    assert reply.status == 302, reply.text[:500]
    assert reply.header("location") == "https://wp.test/wp-admin/"
    assert len(reply.cookies) >= 4, reply.cookies
    names = [c.split("=", 1)[0] for c in reply.cookies]
    assert any(n.startswith("wordpress_sec_") for n in names)
    assert any(n.startswith("wordpress_logged_in_") for n in names)
    dashboard = client.get("/wp-admin/")
    assert dashboard.status == 200, dashboard.header("location")
    assert "<title>Dashboard &lsaquo; Runtime Test Blog" in dashboard.text
    assert "Log Out" in dashboard.text


def test_pretty_permalinks_through_the_admin_form(client: Client, pretty_permalinks: tuple[Reply, Reply]) -> None:
    page, saved = pretty_permalinks
    assert page.status == 200
    # WordPress offers pretty permalinks only when it believes the server rewrites (SERVER_SOFTWARE).
    assert "/%postname%/" in page.text and "index.php/%year%" not in page.text
    assert form_fields(page.text).get("_wpnonce")
    assert saved.status == 302 and "settings-updated=true" in (saved.header("location") or "")

    api = client.get("/wp-json/")
    assert api.status == 200 and api.header("content-type").startswith("application/json")
    assert json.loads(api.body)["name"] == "Runtime Test Blog"
    post = client.get("/hello-world/")
    assert post.status == 200 and "Hello world!" in post.text
    missing = client.get("/no-such-page/")
    assert missing.status == 404
    assert "error404" in missing.text  # WordPress's own 404 template, not the runtime's


def test_media_upload_over_64k_is_stored_byte_identical_and_served_back(client: Client, site: Site) -> None:
    log_in(client)
    image = png(160, 160, seed=3)
    assert len(image) > 64 * 1024
    form = client.get("/wp-admin/media-new.php", query="browser-uploader")
    fields = form_fields(form.text, "file-form")
    body, ctype = multipart({"_wpnonce": fields["_wpnonce"], "_wp_http_referer": fields["_wp_http_referer"],
                             "post_id": "0", "html-upload": "Upload"},
                            {"async-upload": ("noise-upload.png", "image/png", image)})
    reply = client.request("POST", "/wp-admin/media-new.php", body=body, headers={"Content-Type": ctype})
    assert reply.status == 302, reply.text[:1000]
    stored = list((site.root / "wp-content" / "uploads").rglob("noise-upload.png"))
    assert len(stored) == 1
    assert stored[0].read_bytes() == image

    path = "/" + stored[0].relative_to(site.root).as_posix()
    served = client.get(path)
    assert served.status == 200
    assert served.raw["isBase64Encoded"] is True
    assert served.header("content-type") == "image/png"
    assert served.body == image


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_event_source_gets_the_same_page_and_cookies(runtime: Runtime, pretty_permalinks: object,
                                                           source: str) -> None:
    reference = Client(runtime.handle)
    other = Client(runtime.handle, SOURCES[source])
    assert other.get("/").body == reference.get("/").body
    ref_login, other_login = log_in(reference), log_in(other)
    assert other_login.status == ref_login.status == 302

    def names(reply: Reply) -> list[str]:
        return sorted(c.split("=", 1)[0] for c in reply.cookies)

    assert names(other_login) == names(ref_login) and len(other_login.cookies) >= 4
    dashboard = other.get("/wp-admin/")
    assert dashboard.status == 200 and "Dashboard" in dashboard.text
    # The REST API answers the same through every source (query string and JSON body intact).
    posts = other.get("/wp-json/wp/v2/posts", query="per_page=1&_fields=id,title")
    assert json.loads(posts.body) == json.loads(reference.get("/wp-json/wp/v2/posts",
                                                              query="per_page=1&_fields=id,title").body)


def test_static_file_from_the_tree_with_validators(client: Client, site: Site) -> None:
    css = client.get("/wp-includes/css/dashicons.min.css", query="ver=6.1.9")
    assert css.status == 200
    assert css.body == (site.root / "wp-includes/css/dashicons.min.css").read_bytes()
    assert css.header("content-type") == "text/css; charset=utf-8"
    assert css.header("cache-control") == "public, max-age=31536000, immutable"
    etag = css.header("etag")
    assert etag and css.header("last-modified")
    again = client.get("/wp-includes/css/dashicons.min.css", headers={"If-None-Match": etag})
    assert again.status == 304 and again.body == b""
    since = client.get("/wp-includes/css/dashicons.min.css",
                       headers={"If-Modified-Since": css.header("last-modified")})
    assert since.status == 304
    assert client.get("/wp-includes/css/dashicons.min.css").header("cache-control") == "public, max-age=3600"


def test_static_caching_follows_the_configured_max_ages(site: Site) -> None:
    """The template and serve pass [assets] max-ages; static files need no php-fpm, so none starts."""
    configured = Runtime({**site.environ, "WPLAMBDA_VERSIONED_MAX_AGE": "86400", "WPLAMBDA_DEFAULT_MAX_AGE": "60"})
    try:
        client = Client(configured.handle)
        versioned = client.get("/wp-includes/css/dashicons.min.css", query="ver=6.1.9")
        assert versioned.header("cache-control") == "public, max-age=86400, immutable"
        assert client.get("/wp-includes/css/dashicons.min.css").header("cache-control") == "public, max-age=60"
    finally:
        configured.stop()


def test_directory_without_slash_redirects_and_head_has_no_body(client: Client) -> None:
    redirect = client.get("/wp-admin", query="a=1")
    assert redirect.status == 301 and redirect.header("location") == "/wp-admin/?a=1"
    head = client.request("HEAD", "/")
    assert head.status == 200 and head.body == b""
    assert re.search(r"text/html", head.header("content-type") or "")


def test_uploaded_files_never_run_as_php(client: Client, site: Site) -> None:
    uploads = site.root / "wp-content" / "uploads"
    uploads.mkdir(exist_ok=True)
    (uploads / "evil.php").write_text("<?php echo 'ran';")
    reply = client.get("/wp-content/uploads/evil.php")
    assert reply.status == 404 and b"ran" not in reply.body and b"<?php" not in reply.body
    Path(uploads / "evil.php").unlink()
