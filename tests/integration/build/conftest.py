"""Fixtures for the build tests: a project on a copy of Debian's WordPress, a stand-in S3 Uploads
Composer package, a plugin mirror made from Debian's own plugin and theme, an HTTP server on
127.0.0.1. All offline; each is made once per module or session because a build copies ~90 MB.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.build import AKISMET_VERSION, S3_UPLOADS_VERSION, THEME_VERSION, zip_dir
from tests.support.helpers import copy_wordpress


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Downloads are cached under a temp dir, never the developer's real cache."""
    old = os.environ.get("WPLAMBDA_CACHE_DIR")
    os.environ["WPLAMBDA_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("WPLAMBDA_CACHE_DIR", None)
    else:
        os.environ["WPLAMBDA_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def wp_source(tmp_path_factory: pytest.TempPathFactory, debian_wordpress: Path) -> Path:
    """A private copy of Debian's tree (dereferenced), so tests may touch and edit it."""
    return copy_wordpress(tmp_path_factory.mktemp("wpsrc") / "wordpress")


@pytest.fixture(scope="session")
def plugin_mirror(tmp_path_factory: pytest.TempPathFactory, debian_wordpress: Path) -> Path:
    """plugin/akismet.5.0.2.zip and theme/twentytwentythree.1.0.zip, zipped from Debian's tree."""
    root = tmp_path_factory.mktemp("mirror")
    content = debian_wordpress / "wp-content"
    if not (content / "plugins" / "akismet" / "akismet.php").is_file():
        pytest.fail("Debian's wordpress package has no akismet plugin to build the mirror from")
    zip_dir(content / "plugins" / "akismet", root / "plugin" / f"akismet.{AKISMET_VERSION}.zip", "akismet")
    zip_dir(content / "themes" / "twentytwentythree", root / "theme" / f"twentytwentythree.{THEME_VERSION}.zip",
            "twentytwentythree")
    return root


@pytest.fixture(scope="session")
def composer_packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fake ``humanmade/s3-uploads`` and a dependency of it, as Composer path packages."""
    # Kept for tests that need only some package (seconds, not the SDK's 40 MB); the real one is in test_build_composer.
    root = tmp_path_factory.mktemp("composer-packages")
    s3 = root / "s3-uploads"
    (s3 / "inc").mkdir(parents=True)
    (s3 / "composer.json").write_text(json.dumps({
        "name": "humanmade/s3-uploads", "version": S3_UPLOADS_VERSION, "type": "wordpress-plugin",
        "require": {"wplambda-test/helper": "*"}, "autoload": {"files": ["inc/namespace.php"]},
    }))
    (s3 / "inc" / "namespace.php").write_text(
        "<?php\nnamespace S3_Uploads;\nfunction init(): string { return \\WplambdaTest\\Helper::hello(); }\n")
    (s3 / "s3-uploads.php").write_text(
        "<?php\n/* Plugin Name: S3 Uploads (test double) */\n"
        "define('WPLAMBDA_TEST_S3_UPLOADS_LOADED', \\S3_Uploads\\init());\n")
    helper = root / "helper"
    (helper / "src").mkdir(parents=True)
    (helper / "composer.json").write_text(json.dumps({
        "name": "wplambda-test/helper", "version": "1.2.3", "autoload": {"psr-4": {"WplambdaTest\\": "src/"}},
    }))
    (helper / "src" / "Helper.php").write_text(
        "<?php\nnamespace WplambdaTest;\nfinal class Helper { public static function hello(): string "
        "{ return 'hello from the helper'; } }\n")
    return root


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def http_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """(directory, base URL) of a static HTTP server on 127.0.0.1; tests drop files into the directory."""
    root = tmp_path_factory.mktemp("http")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
