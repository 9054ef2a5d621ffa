"""The small rules the build applies to every file: which are public assets, which part a file
is charged to, and the size warnings against Lambda's limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from wp_lambda.bundle import sizes as report
from wp_lambda.bundle.assets import is_asset


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
