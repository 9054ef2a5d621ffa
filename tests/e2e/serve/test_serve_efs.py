"""``storage.mode = "efs"`` under ``wplambda serve``, in a real browser (Debian's Chromium, Playwright).

A plugin zip made here is uploaded through wp-admin's "Add New Plugin -> Upload Plugin" and
activated; its marker shows on the front page and its own stylesheet loads through serve's
gateway, routed as the EFS template routes it (the assets bucket first, then the function, which
reads EFS). It survives a restart, and a rebuild that pins another plugin from a local mirror adds
that one without touching it. In the default package mode, wp-admin refuses installs with
WordPress's own message.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import tomlkit

from tests.support.helpers import run_wplambda
from tests.support.serve import ADMIN_PASSWORD, Served, fetch, init_site, login, serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

MARKER = "Installed from wp-admin, running from EFS"
HAND = "efs-marker"
PINNED = "pinned-extra"


def plugin_zip(path: Path, slug: str, version: str, body: str, css: str) -> Path:
    """A plugin zip as wordpress.org ships them: one top folder named after the slug."""
    header = f"<?php\n/**\n * Plugin Name: {slug}\n * Version: {version}\n */\n"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{slug}/{slug}.php", header + body)
        archive.writestr(f"{slug}/style.css", css)
    return path


def marker_plugin(path: Path) -> Path:
    body = (f"add_action('wp_enqueue_scripts', function () {{\n"
            f"    wp_enqueue_style('{HAND}', plugins_url('style.css', __FILE__), [], '1.2.3');\n}});\n"
            f"add_action('wp_footer', function () {{ echo '<p id=\"{HAND}\">{MARKER}</p>'; }});\n")
    return plugin_zip(path, HAND, "1.2.3", body, f"#{HAND} {{ color: rgb(1, 2, 3); }}\n")


@pytest.fixture(scope="module")
def efs_project(tmp_path_factory: pytest.TempPathFactory, debian_wordpress: Path) -> Path:
    root = tmp_path_factory.mktemp("efs")
    project = init_site(root / "site", "efs", "--storage", "efs")
    mirror = root / "mirror" / "plugin"
    mirror.mkdir(parents=True)
    body = "add_action('wp_enqueue_scripts', function () {\n" \
           f"    wp_enqueue_style('{PINNED}', plugins_url('style.css', __FILE__), [], '1.0.0');\n}});\n"
    plugin_zip(mirror / f"{PINNED}.1.0.0.zip", PINNED, "1.0.0", body, "body { margin: 0; }\n")
    config = project / "wplambda.toml"
    doc = tomlkit.parse(config.read_text())
    doc["build"]["plugin_mirror"] = str(root / "mirror")  # type: ignore[index]
    config.write_text(tomlkit.dumps(doc))
    return project


def _front_page_marker(page: Page, url: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{url}/")
    marker = page.locator(f"#{HAND}")
    expect(marker).to_have_text(MARKER)
    # The plugin's stylesheet (on EFS only) was loaded and applied.
    expect(marker).to_have_css("color", "rgb(1, 2, 3)")


def test_install_a_plugin_from_wp_admin_keep_it_across_restart_and_rebuild(
        efs_project: Path, browser: Browser, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    shots = tmp_path / "screenshots"
    shots.mkdir()
    efs = efs_project / ".wplambda" / "local" / "efs"
    upload = marker_plugin(tmp_path / f"{HAND}.zip")

    with serving(efs_project, "--install", "--admin-password", ADMIN_PASSWORD) as server:
        banner = "".join(server.output)
        assert "wp-content (EFS mode):" in banner and "a plain directory standing in for EFS" in banner
        assert "wp-content seeded on EFS from the package" in banner
        assert (efs / "themes" / "twentytwentythree" / "style.css").is_file()
        url = server.url
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(60_000)
        try:
            page.goto(f"{url}/wp-login.php")
            page.fill("#user_login", "admin")
            page.fill("#user_pass", ADMIN_PASSWORD)
            page.click("#wp-submit")
            page.wait_for_url(f"{url}/wp-admin/")

            page.goto(f"{url}/wp-admin/plugin-install.php")
            page.click("a.upload-view-toggle")  # "Upload Plugin"
            page.set_input_files("#pluginzip", str(upload))
            page.click("#install-plugin-submit")
            expect(page.locator("#wpbody-content")).to_contain_text("Plugin installed successfully.")
            page.screenshot(path=shots / "1-installed.png")
            page.locator("#wpbody-content a", has_text="Activate Plugin").click()
            expect(page.locator("#wpbody-content")).to_contain_text("Plugin activated.")
            page.screenshot(path=shots / "2-activated.png")

            _front_page_marker(page, url)
            page.screenshot(path=shots / "3-front-page.png")
            css = page.request.get(f"{url}/wp-content/plugins/{HAND}/style.css?ver=1.2.3")
            assert css.status == 200 and css.headers["content-type"].startswith("text/css")
            # Not in the assets bucket, so the origin group failed over to the function, which
            # answers with its own headers: no Accept-Ranges, which S3 (and its stand-in) sends.
            assert "accept-ranges" not in css.headers
            assert "immutable" in css.headers["cache-control"]  # cached on ?ver= like the bucket's files
        except Exception:
            page.screenshot(path=shots / "failure.png")
            raise
    printed = ["".join(server.output)]  # everything serve printed, for the secrets check
    installed = efs / "plugins" / HAND / f"{HAND}.php"
    assert installed.is_file()
    before = installed.read_bytes()

    # Restart: still there, still active.
    with serving(efs_project) as server:
        page = browser.new_page()
        page.set_default_timeout(60_000)
        _front_page_marker(page, server.url)
        page.screenshot(path=shots / "4-after-restart.png")
    printed.append("".join(server.output))

    # Pin another plugin from the mirror; serve rebuilds and the sync adds it.
    pinned = run_wplambda("plugin", "add", PINNED, "--version", "1.0.0", "--no-build", "--project", str(efs_project))
    assert pinned.returncode == 0, pinned.stderr
    with serving(efs_project) as server:
        banner = "".join(server.output)
        assert f"added plugin {PINNED} 1.0.0" in banner
        assert f"installed from wp-admin, not in wplambda.toml: plugin {HAND} 1.2.3" in banner
        assert f"wplambda plugin adopt {HAND}" in banner
        page = browser.new_page()
        page.set_default_timeout(60_000)
        _front_page_marker(page, server.url)
        assert f"/wp-content/plugins/{PINNED}/style.css" not in page.content()  # not active, only installed
        opener = login(server)
        status, _, html = fetch(f"{server.url}/wp-admin/plugins.php", opener=opener)
        assert status == 200
        assert b'data-slug="efs-marker"' in html and b'data-slug="pinned-extra"' in html
        # The pinned plugin's files come from the assets bucket, the hand-installed one's from EFS.
        status, headers, _ = fetch(f"{server.url}/wp-content/plugins/{PINNED}/style.css?ver=1.0.0")
        assert status == 200 and headers["content-type"].startswith("text/css")
        assert headers.get("accept-ranges") == "bytes"  # S3's answer, not the function's
        page.screenshot(path=shots / "5-after-rebuild.png")
    printed.append("".join(server.output))
    assert installed.read_bytes() == before  # the hand-installed plugin is untouched
    assert (efs / "plugins" / PINNED / f"{PINNED}.php").is_file()

    # Adopt: pin the hand-installed plugin at the version on (local) EFS.
    adopted = run_wplambda("plugin", "adopt", HAND, "--local", "--project", str(efs_project))
    assert adopted.returncode == 0, adopted.stderr
    assert f'pinned plugin {HAND} = "1.2.3"' in " ".join(adopted.stdout.split())
    assert tomlkit.parse((efs_project / "wplambda.toml").read_text())["plugins"][HAND] == "1.2.3"  # type: ignore[index]
    # From now on the build installs it from the mirror (the local console session rebuilds first).
    shutil.copyfile(upload, efs_project.parent / "mirror" / "plugin" / f"{HAND}.1.2.3.zip")
    again = run_wplambda("plugin", "adopt", HAND, "--local", "--project", str(efs_project))
    assert again.returncode == 2 and "is already pinned at 1.2.3" in " ".join(again.stderr.split())
    missing = run_wplambda("plugin", "adopt", "no-such-plugin", "--local", "--project", str(efs_project))
    assert missing.returncode == 2 and "no plugin 'no-such-plugin' on EFS" in " ".join(missing.stderr.split())

    # No secret in what EFS mode adds: serve's output, adopt's output, the files on the "mount".
    local = json.loads((efs_project / ".wplambda" / "local" / "secrets.json").read_text())
    said = "".join(printed) + adopted.stdout + adopted.stderr + missing.stderr
    on_efs = b"".join(p.read_bytes() for p in efs.rglob("*") if p.is_file())
    for secret in local.values():
        assert secret not in said and secret.encode() not in on_efs


@pytest.fixture(scope="module")
def package_site(installed_site: Served) -> Served:
    """The session's installed site: package mode is the default, and nothing here changes it."""
    return installed_site


def test_package_mode_refuses_installs_with_wordpress_message(package_site: Served, tmp_path: Path) -> None:
    opener = login(package_site)
    # With DISALLOW_FILE_MODS WordPress drops the install capabilities: no "Add New Plugin" screen,
    # and the upload handler itself refuses.
    status, _, html = fetch(f"{package_site.url}/wp-admin/plugin-install.php?tab=upload", opener=opener)
    assert status == 403 and b"Sorry, you are not allowed to access this page." in html
    status, _, html = fetch(f"{package_site.url}/wp-admin/update.php?action=upload-plugin", opener=opener)
    assert status == 500  # wp_die()'s default status
    assert b"Sorry, you are not allowed to install plugins on this site." in html
    adopt = run_wplambda("plugin", "adopt", HAND, "--local", "--project", str(package_site.project))
    assert adopt.returncode == 2 and 'storage.mode is \'package\'' in " ".join(adopt.stderr.split())


def test_gateway_routes_plugin_and_theme_paths_like_the_origin_group() -> None:
    """The local gateway's copy of the template's behaviours (tests/integration/template/test_template_efs.py
    checks the template's own): only EFS mode sends plugin and theme files to the origin group."""
    from wp_lambda.local.gateway import route

    for path in ("/wp-content/plugins/x/style.css", "/wp-content/themes/t/style.css"):
        assert route(path, efs=True) == "assets-then-function"
        assert route(path) == "assets"
    assert route("/wp-content/plugins/x/ajax.php", efs=True) == "function"  # *.php comes first
    assert route("/wp-content/uploads/2026/12/a.png", efs=True) == "uploads"
    assert route("/wp-content/mu-plugins/kit.css", efs=True) == "assets"
    assert route("/wp-includes/css/dashicons.css", efs=True) == "assets"
