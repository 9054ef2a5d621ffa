"""A deploy build from Debian's WordPress tree: what lands where, and what must never land."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.build import (
    AKISMET_VERSION,
    S3_UPLOADS_VERSION,
    SECRET_VALUES,
    THEME_VERSION,
    composer_repos,
    make_project,
)
from wp_lambda import bundle as build_mod
from wp_lambda.bundle import QuietReporter, tree
from wp_lambda.config import load


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, wp_source: Path, plugin_mirror: Path,
          composer_packages: Path, http_root: tuple[Path, str]) -> Iterator[tuple[Path, build_mod.BuildResult]]:
    """One deploy build: S3 Uploads from a path repository given in the env var, plugins from an
    HTTP mirror on 127.0.0.1, and secrets in the environment that must not reach any output."""
    served, base = http_root
    shutil.copytree(plugin_mirror, served / "mirror", dirs_exist_ok=True)
    root = make_project(tmp_path_factory.mktemp("proj") / "site", wp_source,
                        build={"plugin_mirror": f"{base}/mirror"},
                        plugins={"akismet": AKISMET_VERSION}, themes={"twentytwentythree": THEME_VERSION})
    env = {"WPLAMBDA_COMPOSER_REPOSITORIES": json.dumps(composer_repos(composer_packages)),
           "WORDPRESS_DB_PASSWORD": SECRET_VALUES[0], "WORDPRESS_SALT": SECRET_VALUES[1]}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield root, build_mod.build(load(root), progress=QuietReporter())
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_outputs_exist(built: tuple[Path, build_mod.BuildResult]) -> None:
    root, result = built
    assert result.rebuilt and result.root == root / ".wplambda" / "build"
    for path in (result.function, result.layer, result.assets, result.function_zip, result.layer_zip,
                 result.manifest_path):
        assert path.exists(), path
    assert (result.layer / "python" / "wp_lambda" / "__init__.py").is_file()
    assert (result.layer / "wplambda" / "php.ini").read_text() == (root / "php-layer" / "php.ini").read_text()
    assert (result.layer / "wplambda" / "php-fpm.conf").is_file()
    assert not (result.root / ".work").exists()


def test_function_has_every_php_file(built: tuple[Path, build_mod.BuildResult], wp_source: Path) -> None:
    root, result = built
    missing = [p.relative_to(wp_source).as_posix() for p in wp_source.rglob("*.php")
               if not (result.function / p.relative_to(wp_source)).is_file()]
    assert missing == []
    assert (result.function / "wp-config.php").read_text() == (root / "wordpress" / "wp-config.php").read_text()
    assert (result.function / "wp-content" / "mu-plugins" / "wplambda-s3-uploads.php").is_file()
    assert not (result.function / ".htaccess").exists()


def test_assets_are_static_only(built: tuple[Path, build_mod.BuildResult]) -> None:
    _, result = built
    files = [p.relative_to(result.assets).as_posix() for p in result.assets.rglob("*") if p.is_file()]
    assert "wp-includes/css/dashicons.min.css" in files
    assert "wp-content/themes/twentytwentythree/style.css" in files
    assert [f for f in files if f.endswith(".php")] == []
    assert [f for f in files if any(part.startswith(".") for part in f.split("/"))] == []
    assert "wp-includes/js/dist/vendor/react.min.js" in files  # the block editor needs it
    assert [f for f in files if "/vendor/composer/" in f or f.split("/")[-1].startswith("composer.")] == []
    assert all(f.startswith(("wp-admin/", "wp-includes/", "wp-content/")) for f in files)
    assert result.manifest["outputs"]["assets"]["files"] == len(files)


# Every type Debian's tree has under wp-admin, wp-includes and wp-content, decided one by one:
# what a page links to is served, the rest only PHP reads (languages, sources, readmes, the CA
# bundle). Written out rather than taken from STATIC_TYPES, so narrowing that list fails here.
SERVED_TYPES = {".css", ".js", ".json", ".png", ".gif", ".svg", ".woff", ".woff2", ".ttf", ".eot", ".xml", ".html"}
KEPT_IN_THE_FUNCTION = {".php", ".mo", ".scss", ".txt", ".md", ".crt", ""}


def test_assets_keep_every_static_type_wordpress_serves(built: tuple[Path, build_mod.BuildResult]) -> None:
    _, result = built
    roots = ("wp-admin/", "wp-includes/", "wp-content/")
    public = [rel for rel, _ in tree.walk(result.function) if rel.startswith(roots)]
    types = {os.path.splitext(rel)[1] for rel in public}
    assert types <= SERVED_TYPES | KEPT_IN_THE_FUNCTION, "a new type in the tree: decide whether it is served"
    not_shipped = [rel for rel in public if os.path.splitext(rel)[1] in SERVED_TYPES
                   and not (result.assets / rel).is_file()]
    # composer.json is the one file of a served type that is not: it describes a PHP package.
    assert not_shipped == ["wp-includes/sodium_compat/composer.json"]
    assert [rel for rel in public if os.path.splitext(rel)[1] in KEPT_IN_THE_FUNCTION
            and (result.assets / rel).exists()] == []
    for glob in ("wp-admin/css/*.css", "wp-admin/js/*.js", "wp-admin/images/*.svg", "wp-admin/images/*.png",
                 "wp-includes/js/*.js", "wp-includes/css/*.css", "wp-includes/fonts/*.woff2",
                 "wp-includes/fonts/*.ttf", "wp-includes/fonts/*.eot", "wp-includes/images/*.gif",
                 "wp-includes/blocks/*/block.json", "wp-content/themes/twentytwentythree/assets/fonts/*/*.woff2"):
        assert list(result.assets.glob(glob)), glob


def _all_output_bytes(result: build_mod.BuildResult) -> Iterator[tuple[str, bytes]]:
    for path in result.root.rglob("*"):
        if path.is_file():
            yield str(path), path.read_bytes()
    for name in (result.function_zip, result.layer_zip):
        with zipfile.ZipFile(name) as zf:
            for info in zf.infolist():
                yield f"{name.name}:{info.filename}", zf.read(info)


def test_no_secret_and_no_build_machine_path_in_any_output(built: tuple[Path, build_mod.BuildResult],
                                                            wp_source: Path, composer_packages: Path) -> None:
    root, result = built
    needles = [s.encode() for s in SECRET_VALUES]
    zip_only = [str(root).encode(), str(wp_source).encode(), str(composer_packages).encode()]
    leaks = []
    for name, data in _all_output_bytes(result):
        leaks += [f"{name}: {n.decode()}" for n in needles if n in data]
        if ".zip:" in name:
            leaks += [f"{name}: {n.decode()}" for n in zip_only if n in data]
    assert leaks == []


def test_zip_entries_are_normalised(built: tuple[Path, build_mod.BuildResult]) -> None:
    _, result = built
    for name in (result.function_zip, result.layer_zip):
        with zipfile.ZipFile(name) as zf:
            infos = zf.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {(i.external_attr >> 16) & 0o7777 for i in infos} <= {0o644, 0o755}
        assert not any(n.startswith("/") or ".." in n.split("/") for n in names)


def test_manifest_records_inputs_and_outputs(built: tuple[Path, build_mod.BuildResult], plugin_mirror: Path) -> None:
    _, result = built
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["inputs"]["wordpress"]["version"] == "6.1.9"
    plugins = {p["slug"]: p for p in manifest["inputs"]["plugins"]}
    akismet_zip = plugin_mirror / "plugin" / f"akismet.{AKISMET_VERSION}.zip"
    assert plugins["akismet"]["sha256"] == hashlib.sha256(akismet_zip.read_bytes()).hexdigest()
    assert plugins["akismet"]["header_version"] == AKISMET_VERSION
    assert plugins["twentytwentythree"]["kind"] == "theme"
    packages = {p["name"]: p["version"] for p in manifest["inputs"]["s3_uploads"]["packages"]}
    assert packages["humanmade/s3-uploads"] == S3_UPLOADS_VERSION
    assert manifest["inputs"]["php"]["layer_arn"].startswith("arn:aws:lambda:us-east-1:")
    for name in ("function.zip", "layer.zip"):
        data = (result.root / name).read_bytes()
        assert manifest["outputs"][name]["sha256"] == hashlib.sha256(data).hexdigest()
    assert set(manifest["sizes"]["parts"]) >= {"core", "languages", "plugins", "themes", "vendor", "kit", "layer"}
    # Bref's gd layer is attached by default (php.extensions = ["gd"]), so no image-library warning;
    # intl stays disabled in Bref's layer: named, with how to enable it.
    assert not [w for w in manifest["warnings"] if "gd or imagick" in w]
    assert any("intl" in w and 'extension = "intl"' in w for w in manifest["warnings"])


def test_composer_vendor_is_complete_and_lints(built: tuple[Path, build_mod.BuildResult]) -> None:
    _, result = built
    vendor = result.function / "vendor"
    assert (vendor / "autoload.php").is_file()
    assert (vendor / "humanmade" / "s3-uploads" / "s3-uploads.php").is_file()
    assert not (vendor / "composer" / "installed.json").exists()
    assert not (vendor / "humanmade" / "s3-uploads").is_symlink()
    for php_file in sorted(vendor.rglob("*.php")):
        lint = subprocess.run(["php", "-l", str(php_file)], capture_output=True, text=True, check=False)
        assert lint.returncode == 0, lint.stdout + lint.stderr
    # The kit's mu-plugin loads S3 Uploads through the optimised autoloader, as WordPress would.
    code = ("define('ABSPATH', getcwd() . '/'); define('S3_UPLOADS_BUCKET', 'b'); require 'vendor/autoload.php';"
            "require 'wp-content/mu-plugins/wplambda-s3-uploads.php'; echo WPLAMBDA_TEST_S3_UPLOADS_LOADED;")
    run = subprocess.run(["php", "-r", code], cwd=result.function, capture_output=True, text=True, check=False)
    assert run.stdout == "hello from the helper", run.stderr


def test_plugins_replace_the_trees_copy(built: tuple[Path, build_mod.BuildResult], plugin_mirror: Path) -> None:
    _, result = built
    with zipfile.ZipFile(plugin_mirror / "plugin" / f"akismet.{AKISMET_VERSION}.zip") as zf:
        expected = sorted(n.removeprefix("akismet/") for n in zf.namelist() if not n.endswith("/"))
    installed = sorted(p.relative_to(result.function / "wp-content/plugins/akismet").as_posix()
                       for p in (result.function / "wp-content/plugins/akismet").rglob("*") if p.is_file())
    assert installed == expected


def test_second_build_is_a_noop(built: tuple[Path, build_mod.BuildResult]) -> None:
    root, result = built
    config = load(root)
    assert not build_mod.is_stale(config)
    before = result.manifest_path.stat().st_mtime_ns
    again = build_mod.build(config)
    assert not again.rebuilt
    assert result.manifest_path.stat().st_mtime_ns == before
    assert build_mod.is_stale(config, target="serve")  # never built for serve
