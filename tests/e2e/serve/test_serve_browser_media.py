"""Media in a real browser (Debian's Chromium through Playwright) under `serve --s3-endpoint`.

moto's S3 server holds the uploads bucket, the real S3 Uploads 3.0.12 (from ../shared) writes to
it, and the gateway reads it back, as CloudFront does deployed. Three things a WordPress user does:
upload a 20 MB file in the media library (it must go straight to the bucket: no request body over
6 MB reaches the handler), upload a big JPEG in the block editor (its sizes are made and render on
the published post), and crop an image in "Edit image" (the edited file lands in the bucket).
Screenshots of each step land in the test's temp dir.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import CHROMIUM
from tests.support.helpers import REPO, real_s3_uploads_repositories
from tests.support.serve import (
    ADMIN_PASSWORD,
    Served,
    fetch,
    init_site,
    jpeg,
    jpeg_dimensions,
    login,
    mp4,
    new_post_in_block_editor,
    publish_in_block_editor,
    s3_client,
    serving,
)

BUCKET = "browser-media"
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024
# One line per request from serve: method, path, status, time, origin or cold/warm, body size.
LOG_LINE = re.compile(r"^(?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) \d+ms (?P<kind>\w+) in=(?P<size>\d+)B$")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: tuple[str, str],
         debian_wordpress: Path) -> Iterator[Served]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is missing: run `make setup`")
    endpoint, _ = s3_endpoint
    project = init_site(tmp_path_factory.mktemp("browser-media") / "site", "media")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WPLAMBDA_COMPOSER_REPOSITORIES", real_s3_uploads_repositories())
        with serving(project, "--install", "--admin-password", ADMIN_PASSWORD, "--workers", "3",
                     "--s3-endpoint", endpoint, "--s3-bucket", BUCKET) as server:
            yield server


@pytest.fixture
def page(site: Served, browser: Any, tmp_path: Path) -> Iterator[Any]:
    """A logged-in admin's tab; a screenshot of where it stood when a test fails."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(90_000)
    tab.goto(f"{site.url}/wp-login.php")
    tab.fill("#user_login", "admin")
    tab.fill("#user_pass", ADMIN_PASSWORD)
    tab.click("#wp-submit")
    tab.wait_for_url(f"{site.url}/wp-admin/")
    try:
        yield tab
    except Exception:
        tab.screenshot(path=tmp_path / "failure.png")
        raise
    finally:
        context.close()


def requests_to_the_handler(site: Served, since: int = 0) -> list[dict[str, str]]:
    """serve's request log from line ``since`` on, the requests that became Lambda events."""
    lines = [LOG_LINE.match(line.strip()) for line in site.output[since:]]
    return [m.groupdict() for m in lines if m and m["kind"] in ("warm", "cold")]


def media_by_name(site: Served, name: str) -> dict[str, Any]:
    status, _, body = fetch(f"{site.url}/?rest_route=/wp/v2/media&search={name}")
    assert status == 200
    found = [m for m in json.loads(body) if m["source_url"].rsplit("/", 1)[-1].startswith(name)]
    assert len(found) == 1, found
    return found[0]


def key_of(site: Served, url: str) -> str:
    assert url.startswith(f"{site.url}/wp-content/uploads/"), url
    return url.removeprefix(f"{site.url}/")


def test_a_20_mb_file_goes_from_the_media_library_straight_to_the_bucket(
        site: Served, page: Any, s3_endpoint: tuple[str, str], tmp_path: Path) -> None:
    from playwright.sync_api import expect

    name = f"clip-{time.time_ns()}"
    video = tmp_path / f"{name}.mp4"
    mp4(video, 20 * 1024 * 1024)
    log_start = len(site.output)

    page.goto(f"{site.url}/wp-admin/media-new.php")
    page.set_input_files("#plupload-upload-ui input[type=file]", str(video))
    item = page.locator("#media-items .media-item").first
    expect(item.locator("a.edit-attachment")).to_be_visible(timeout=180_000)
    page.screenshot(path=tmp_path / "1-media-new.png")

    media = media_by_name(site, name)
    assert media["mime_type"] == "video/mp4"
    stored = s3_client(s3_endpoint[0]).get_object(Bucket=BUCKET, Key=key_of(site, media["source_url"]))
    assert stored["Body"].read() == video.read_bytes()
    assert stored["ContentType"] == "video/mp4"

    handled = requests_to_the_handler(site, log_start)
    assert handled, "serve logged no request"
    biggest = max(int(r["size"]) for r in handled)
    assert biggest < LAMBDA_PAYLOAD_LIMIT, [r for r in handled if int(r["size"]) >= LAMBDA_PAYLOAD_LIMIT]
    posts = [r["path"] for r in handled if r["method"] == "POST"]
    assert "/wp-json/wplambda/v1/uploads" in posts and "/wp-json/wplambda/v1/uploads/complete" in posts, posts
    # async-upload.php is only asked for the new item's HTML (handlers.js), never sent the file.
    assert all(int(r["size"]) < 4096 for r in handled if "async-upload.php" in r["path"])

    # It shows in the library like any upload, and the video seeks through the gateway.
    page.goto(f"{site.url}/wp-admin/upload.php?mode=list")
    expect(page.locator("table.media")).to_contain_text(name)
    status, _, body = fetch(media["source_url"], headers={"Range": "bytes=1000-1999"})
    assert status == 206 and body == video.read_bytes()[1000:2000]


def test_the_media_library_grid_sends_big_files_to_the_bucket_and_small_ones_through_wordpress(
        site: Served, page: Any, s3_endpoint: tuple[str, str], tmp_path: Path) -> None:
    """upload.php's grid uploads through wp.Uploader, which expects WordPress's JSON answer."""
    from playwright.sync_api import expect

    stamp = time.time_ns()
    big = tmp_path / f"talk-{stamp}.mp4"
    mp4(big, 9 * 1024 * 1024)
    small = jpeg(tmp_path / f"small-{stamp}.jpg", 400, 300)
    log_start = len(site.output)

    page.goto(f"{site.url}/wp-admin/upload.php?mode=grid")
    script = page.locator("script[src*='direct-uploads.js']").get_attribute("src") or ""
    digest = hashlib.md5((REPO / "wordpress" / "mu-plugins" / "wplambda-direct-uploads" / "direct-uploads.js")
                         .read_bytes(), usedforsecurity=False).hexdigest()
    assert script.endswith(f"?ver={digest[:12]}"), script  # a changed script gets a new URL past year-long caches
    page.click(".page-title-action")
    with page.expect_file_chooser() as chooser:
        page.click(".uploader-inline .browser")
    chooser.value.set_files([str(big), str(small)])
    for name in (big.stem, small.stem):
        tile = page.locator(f".attachments .attachment[aria-label='{name}']")
        expect(tile).to_be_visible(timeout=180_000)
        expect(tile).not_to_have_class(re.compile(r"\buploading\b"), timeout=180_000)
    page.screenshot(path=tmp_path / "grid.png")

    client = s3_client(s3_endpoint[0])
    for file in (big, small):
        media = media_by_name(site, file.stem)
        assert client.get_object(Bucket=BUCKET, Key=key_of(site, media["source_url"]))["Body"].read() == \
            file.read_bytes()
    handled = requests_to_the_handler(site, log_start)
    assert max(int(r["size"]) for r in handled) < LAMBDA_PAYLOAD_LIMIT
    completes = [r for r in handled if r["path"] == "/wp-json/wplambda/v1/uploads/complete"]
    through_wordpress = [r for r in handled if r["path"] == "/wp-admin/async-upload.php"]
    assert len(completes) == 1  # only the big file took the direct path
    assert len(through_wordpress) == 1 and int(through_wordpress[0]["size"]) > small.stat().st_size


def test_a_big_jpeg_in_the_block_editor_gets_its_sizes_and_renders_on_the_post(
        site: Served, page: Any, s3_endpoint: tuple[str, str], tmp_path: Path) -> None:
    from playwright.sync_api import expect

    name = f"photo-{time.time_ns()}"
    photo = jpeg(tmp_path / f"{name}.jpg", 1900, 1300, block=1)
    assert photo.stat().st_size > 4 * 1024 * 1024  # over php.ini's limit: the direct path
    title = f"A photo {time.time_ns()}"

    new_post_in_block_editor(page, site.url, title)
    page.keyboard.press("Enter")
    page.keyboard.type("/image")
    page.locator(".components-autocomplete__result", has_text="Image").first.click()
    block = page.locator(".wp-block-image").first
    block.locator("input[type=file]").set_input_files(str(photo))
    uploaded = block.locator("img[src*='/wp-content/uploads/']")
    expect(uploaded).to_be_visible(timeout=180_000)
    page.screenshot(path=tmp_path / "2-editor.png")
    publish_in_block_editor(page)
    post_url = page.locator(".post-publish-panel__postpublish-header a").first.get_attribute("href")

    media = media_by_name(site, name)
    editing = re.search(r"[?&]post=(\d+)", page.url)  # the editor moves to post.php?post=ID once saved
    assert editing, page.url
    assert media["post"] == int(editing.group(1))  # attached to the post it was uploaded in, as WordPress does
    client = s3_client(s3_endpoint[0])
    folder = key_of(site, media["source_url"]).rsplit("/", 1)[0]
    sizes = media["media_details"]["sizes"]
    for size in ("thumbnail", "medium", "large"):
        stored = client.get_object(Bucket=BUCKET, Key=f"{folder}/{sizes[size]['file']}")["Body"].read()
        assert jpeg_dimensions(stored) == (sizes[size]["width"], sizes[size]["height"])

    assert post_url
    page.goto(post_url)
    image = page.locator(f"main img[src*='{name}']").first
    expect(image).to_be_visible()
    page.screenshot(path=tmp_path / "3-post.png")
    assert page.evaluate("(img) => img.complete && img.naturalWidth", image.element_handle()) > 0
    srcset = image.get_attribute("srcset") or ""
    candidates = [part.split()[0] for part in srcset.split(",") if part.strip()]
    assert any(sizes["medium"]["file"] in c for c in candidates), srcset
    for candidate in candidates:  # every size the browser may pick comes back from the bucket
        response = page.request.get(candidate)
        assert response.status == 200 and response.headers["content-type"] == "image/jpeg", candidate


def test_cropping_in_edit_image_writes_the_edited_file_to_the_bucket(
        site: Served, page: Any, s3_endpoint: tuple[str, str], tmp_path: Path) -> None:
    from playwright.sync_api import expect

    name = f"crop-{time.time_ns()}"
    picture = jpeg(tmp_path / f"{name}.jpg", 800, 600)
    opener = login(site)
    _, _, nonce = fetch(f"{site.url}/wp-admin/admin-ajax.php?action=rest-nonce", opener=opener)
    status, _, created = fetch(f"{site.url}/?rest_route=/wp/v2/media", data=picture.read_bytes(), opener=opener,
                               headers={"Content-Type": "image/jpeg", "X-WP-Nonce": nonce.decode(),
                                        "Content-Disposition": f'attachment; filename="{name}.jpg"'})
    assert status == 201, created[:300]
    attachment = json.loads(created)["id"]

    page.goto(f"{site.url}/wp-admin/post.php?post={attachment}&action=edit")
    page.click(f"#imgedit-open-btn-{attachment}")
    preview = page.locator(f"#image-preview-{attachment}")
    expect(preview).to_be_visible()
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=preview.element_handle())
    box = preview.bounding_box()
    assert box
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.7, steps=12)
    page.mouse.up()
    page.click(f"#imgedit-crop-sel-{attachment} ~ * .imgedit-crop, .imgedit-crop")
    page.screenshot(path=tmp_path / "4-cropped.png")
    page.click(f"#imgedit-panel-{attachment} .imgedit-submit-btn")
    expect(page.locator(f"#imgedit-response-{attachment}, .imgedit-response")).to_contain_text("saved",
                                                                                                  timeout=60_000)
    page.screenshot(path=tmp_path / "5-saved.png")

    status, _, body = fetch(f"{site.url}/?rest_route=/wp/v2/media/{attachment}")
    edited = json.loads(body)
    key = key_of(site, edited["source_url"])
    assert re.search(rf"{name}-e\d+\.jpg$", key), key
    stored = s3_client(s3_endpoint[0]).get_object(Bucket=BUCKET, Key=key)["Body"].read()
    width, height = jpeg_dimensions(stored)
    assert (width, height) == (edited["media_details"]["width"], edited["media_details"]["height"])
    assert width < 800 and height < 600
    status, _, served = fetch(edited["source_url"])
    assert status == 200 and served == stored
