"""The small rules the build applies to every file: which are public assets, which are private
(refused unless excluded) and what ``build.exclude`` globs match, which part a file is charged to,
and the size warnings against Lambda's limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from wp_lambda.bundle import sizes as report
from wp_lambda.bundle.assets import is_asset
from wp_lambda.bundle.private import excluder
from wp_lambda.runtime import private


@pytest.mark.parametrize(("rel", "public"), [
    ("wp-includes/css/dashicons.min.css", True),
    ("wp-admin/images/wordpress-logo.svg", True),
    ("wp-content/themes/twentytwentythree/style.css", True),
    ("wp-content/plugins/akismet/_inc/akismet.js", True),
    ("wp-includes/version.php", False),
    ("wp-content/plugins/x/lib.phtml", False),
    ("wp-content/plugins/x/.env", False),
    ("wp-content/plugins/x/.git/config", False),
    ("wp-content/plugins/x/composer.json", False),
    ("wp-content/plugins/x/vendor/composer/installed.json", False),
    ("wp-content/plugins/x/vendor/bin/tool.css", False),
    ("wp-content/plugins/x/vendor/pkg/style.css", True),
    ("wp-includes/js/dist/vendor/react.min.js", True),
    ("wp-content/languages/de_DE.mo", False),
    ("wp-content/uploads/2024/01/a.jpg", False),
    ("readme.html", False),
    ("vendor/humanmade/s3-uploads/readme.md", False),
    # The allow-list: what wp-admin and wp-includes link to is kept...
    ("wp-admin/css/colors/blue/colors.min.css", True),
    ("wp-includes/fonts/dashicons.woff2", True),
    ("wp-includes/fonts/dashicons.eot", True),
    ("wp-content/themes/t/assets/fonts/x.ttf", True),
    ("wp-includes/images/w-logo-blue.png", True),
    ("wp-includes/images/smilies/icon_smile.gif", True),
    ("wp-content/themes/t/screenshot.webp", True),
    ("wp-content/themes/t/favicon.ico", True),
    ("wp-content/plugins/x/img/a.avif", True),
    ("wp-includes/blocks/paragraph/block.json", True),
    ("wp-includes/js/dist/blocks.min.js.map", True),
    ("wp-includes/wlwmanifest.xml", True),
    # ...and any other type is not: PHP reads these, or nobody does.
    ("wp-admin/css/colors/_admin.scss", False),
    ("wp-includes/certificates/ca-bundle.crt", False),
    ("wp-includes/ID3/readme.txt", False),
    ("wp-includes/sodium_compat/src/Core/Curve25519/README.md", False),
    ("wp-content/plugins/x/data.unknowntype", False),
    ("wp-content/plugins/x/LICENSE", False),
    ("wp-content/plugins/x/export.csv", False),
    ("wp-content/plugins/x/package.json", False),
    # Private files are never assets, whatever their type.
    ("wp-content/plugins/x/wp-config.json", False),
    ("wp-content/updraft/index.html", False),
    ("wp-content/ai1wm-backups/site.wpress", False),
])
def test_is_asset(rel: str, public: bool) -> None:
    assert is_asset(rel) is public


@pytest.mark.parametrize(("rel", "part"), [
    ("wp-includes/js/jquery/jquery.js", "core"),
    ("wp-content/languages/admin-de_DE.mo", "languages"),
    ("wp-content/plugins/akismet/akismet.php", "plugins"),
    ("wp-content/themes/twentytwentythree/style.css", "themes"),
    ("wp-content/mu-plugins/wplambda-s3-uploads.php", "kit"),
    ("vendor/autoload.php", "vendor"),
])
def test_part_of(rel: str, part: str) -> None:
    assert report.part_of(rel) == part


def test_size_warning_names_the_biggest_contributors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    function, layer = tmp_path / "function", tmp_path / "layer"
    (function / "wp-content/languages").mkdir(parents=True)
    (function / "wp-content/languages/big.mo").write_bytes(b"x" * 3000)
    (function / "index.php").write_bytes(b"<?php\n")
    (layer / "bin").mkdir(parents=True)
    (layer / "bin/php-fpm").write_bytes(b"y" * 1000)
    monkeypatch.setattr(report, "UNZIPPED_LIMIT", 2048)
    result = report.sizes(function, layer, {"function.zip": 10})
    assert result["parts"] == {"core": 6, "languages": 3000, "layer": 1000}
    assert result["biggest"][0] == {"path": "wp-content/languages", "bytes": 3000}
    assert len(result["warnings"]) == 1
    assert "over Lambda's" in result["warnings"][0] and "wp-content/languages" in result["warnings"][0]


@pytest.mark.parametrize(("rel", "kind"), [
    ("backup.sql", private.DUMP),
    ("wp-content/backup-db.sql.gz", private.DUMP),
    ("db/SITE.SQL.BZ2", private.DUMP),
    ("wp-content/database/site.sqlite", private.DUMP),
    ("site.zip", private.ARCHIVE),
    ("site.tar", private.ARCHIVE),
    ("site.tar.gz", private.ARCHIVE),
    ("site.tgz", private.ARCHIVE),
    ("wp-content/plugins/x/site.7z", private.ARCHIVE),
    ("migration.wpress", private.ARCHIVE),
    ("index.php.bak", private.BACKUP),
    ("wp-content/themes/t/functions.php~", private.BACKUP),
    ("style.css.orig", private.BACKUP),
    ("wp-config.php.txt", private.WP_CONFIG_COPY),
    ("wp-config.txt", private.WP_CONFIG_COPY),
    ("old/WP-CONFIG.PHP", private.WP_CONFIG_COPY),
    ("wp-config-old.php", private.WP_CONFIG_COPY),
    (".wp-config.php.swp", private.WP_CONFIG_COPY),
    ("wp-content/updraft/log.txt", private.BACKUP_FOLDER),
    ("wp-content/ai1wm-backups/index.php", private.BACKUP_FOLDER),
    ("wp-content/backup-db-a1b2c3/notes.html", private.BACKUP_FOLDER),
    ("wp-content/backups-dup-lite/installer.php", private.BACKUP_FOLDER),
    ("wp-includes/js/jquery/jquery.min.js", None),
    ("wp-content/plugins/updraftplus/updraftplus.php", None),
    ("wp-content/plugins/backup-plugin/backup.php", None),
    ("wp-includes/js/tinymce/wp-tinymce.js", None),
    ("wp-content/updraft", None),  # the folder itself is no file
    ("sitemap.xml", None),
])
def test_private_kind(rel: str, kind: str | None) -> None:
    assert private.kind(rel) == kind


@pytest.mark.parametrize(("globs", "rel", "matched"), [
    (["wp-content/updraft"], "wp-content/updraft/backup_2024-db.gz", True),
    (["wp-content/updraft/"], "wp-content/updraft/a/b.zip", True),
    (["wp-content/updraft/**"], "wp-content/updraft/a/b.zip", True),
    (["wp-content/updraft"], "wp-content/updraftplus/x.php", False),
    (["*.zip"], "site.zip", True),
    (["*.zip"], "wp-content/plugins/x/site.zip", False),
    (["**/*.zip"], "wp-content/plugins/x/site.zip", True),
    (["**/*.zip"], "site.zip", True),
    (["wp-content/plugins/*/tests/*.zip"], "wp-content/plugins/x/tests/data.zip", True),
    (["wp-content/plugins/*/tests/*.zip"], "wp-content/plugins/x/y/tests/data.zip", False),
    (["backup-?.sql"], "backup-1.sql", True),
    (["backup-?.sql"], "backup-10.sql", False),
    (["Backup.sql"], "backup.sql", False),
    (["a+b(1).sql"], "a+b(1).sql", True),
    ([], "site.zip", False),
])
def test_exclude_globs(globs: list[str], rel: str, matched: bool) -> None:
    assert excluder(globs)(rel) is matched
