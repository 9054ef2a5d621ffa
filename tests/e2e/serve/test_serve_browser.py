"""A person's path through the served site, in a real browser: Debian's Chromium driven by Playwright.

Screenshots of every step land in the test's temp dir (printed on failure by pytest's -ra).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.browser import png
from tests.support.serve import ADMIN_PASSWORD, Served, new_post_in_block_editor, publish_in_block_editor

if TYPE_CHECKING:
    from playwright.sync_api import Browser


def test_log_in_publish_a_post_and_upload_an_image(installed_site: Served, browser: Browser, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    shots = tmp_path / "screenshots"
    shots.mkdir()
    url = installed_site.url
    title = f"Written in Chromium {time.time_ns()}"
    image = tmp_path / "square.png"
    image.write_bytes(png(64, 48, (200, 30, 90)))

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(60_000)
    try:
        page.goto(f"{url}/")
        expect(page).to_have_title("My Blog")
        page.screenshot(path=shots / "1-home.png")

        page.goto(f"{url}/wp-login.php")
        page.fill("#user_login", "admin")
        page.fill("#user_pass", ADMIN_PASSWORD)
        page.click("#wp-submit")
        page.wait_for_url(f"{url}/wp-admin/")
        expect(page.locator("#wpbody-content h1")).to_contain_text("Dashboard")
        page.screenshot(path=shots / "2-dashboard.png")

        # The block editor: dismiss the welcome guide, type a title, publish twice (pre-publish panel).
        new_post_in_block_editor(page, url, title)
        publish_in_block_editor(page)
        page.screenshot(path=shots / "3-published.png")

        page.goto(f"{url}/")
        expect(page.locator("body")).to_contain_text(title)
        page.screenshot(path=shots / "4-front-end.png")

        # The media library's uploader (plupload with the browser's file input).
        page.goto(f"{url}/wp-admin/media-new.php?browser-uploader")
        page.set_input_files("#async-upload", str(image))
        page.click("#html-upload")
        page.wait_for_url(f"{url}/wp-admin/upload.php*")
        page.goto(f"{url}/wp-admin/upload.php?mode=list")
        thumbnail = page.locator("table.media img").first
        expect(thumbnail).to_be_visible()
        src = thumbnail.get_attribute("src") or ""
        assert "/wp-content/uploads/" in src
        rendered = page.evaluate("(img) => img.complete && img.naturalWidth", thumbnail.element_handle())
        assert rendered and rendered > 0, f"image {src} did not render"
        response = page.request.get(src)
        assert response.status == 200 and response.headers["content-type"] == "image/png"
        page.screenshot(path=shots / "5-media.png")
    except Exception:
        page.screenshot(path=shots / "failure.png")
        raise
    finally:
        page.close()
    assert sorted(p.name for p in shots.iterdir()) == [
        "1-home.png", "2-dashboard.png", "3-published.png", "4-front-end.png", "5-media.png"]
