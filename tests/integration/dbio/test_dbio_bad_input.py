"""`wplambda import` refuses bad input with exit code 2 and one message naming the file and the fix,
before it builds, starts or uploads anything: the project's .wplambda/ is never even created."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tests.support.helpers import run_wplambda
from tests.support.serve import init_site
from tests.support.wp_cli import set_key
from wp_lambda.dbio import checks

WORDPRESS_DUMP = b"""-- MySQL dump 10.13  Distrib 8.0.36
/*!40101 SET NAMES utf8mb4 */;
DROP TABLE IF EXISTS `blog_options`;
CREATE TABLE `blog_options` (`option_id` bigint unsigned NOT NULL AUTO_INCREMENT, `option_name` varchar(191)
  NOT NULL DEFAULT '', PRIMARY KEY (`option_id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;
INSERT INTO `blog_options` VALUES (1,'siteurl');
CREATE TABLE `blog_posts` (`ID` bigint unsigned NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE `blog_users` (`ID` bigint unsigned NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE `blog_usermeta` (`umeta_id` bigint unsigned NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
  COLLATE=utf8mb4_0900_bin;
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, debian_wordpress: Path) -> Path:
    return init_site(tmp_path_factory.mktemp("dbio-bad") / "site", "badinput")


def refused(project: Path, *args: str) -> str:
    """Run the import; it must exit 2 without touching the project. Returns its message."""
    result = run_wplambda("import", "--local", "--project", str(project), "--yes", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert not (project / ".wplambda").exists(), "a refused import started or wrote something"
    return result.stderr


def test_a_file_that_is_not_sql(project: Path, tmp_path: Path) -> None:
    png = tmp_path / "photo.sql"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    message = refused(project, "--sql", str(png))
    assert f"{png} is not an SQL dump" in message and "binary data" in message and "fix:" in message
    text = tmp_path / "notes.sql"
    text.write_text("Dear diary,\ntoday I backed up nothing.\n")
    message = refused(project, "--sql", str(text))
    assert "is not an SQL dump: it starts with 'Dear diary,'" in message


def test_a_dump_without_wordpress_tables(project: Path, tmp_path: Path) -> None:
    dump = tmp_path / "shop.sql"
    dump.write_text("CREATE TABLE `orders` (`id` int);\nINSERT INTO `orders` VALUES (1);\n")
    message = refused(project, "--sql", str(dump))
    assert "has no WordPress tables" in message and "orders" in message


def test_a_truncated_gzip(project: Path, tmp_path: Path) -> None:
    whole = gzip.compress(WORDPRESS_DUMP * 200)
    cut = tmp_path / "site.sql.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    message = refused(project, "--sql", str(cut))
    assert f"{cut} is a damaged or truncated gzip file" in message and "gzip -t" in message


def test_two_sites_in_one_dump_need_a_prefix(project: Path, tmp_path: Path) -> None:
    dump = tmp_path / "two.sql"
    dump.write_bytes(WORDPRESS_DUMP + WORDPRESS_DUMP.replace(b"blog_", b"shop_"))
    message = refused(project, "--sql", str(dump))
    assert "several prefixes: blog_, shop_" in message and "--dump-prefix" in message
    message = refused(project, "--sql", str(dump), "--dump-prefix", "news_")
    assert "no WordPress tables with the prefix 'news_'" in message


def test_bad_urls_and_uploads_folder(project: Path, tmp_path: Path) -> None:
    dump = tmp_path / "site.sql"
    dump.write_bytes(WORDPRESS_DUMP)
    assert "--from-url 'old.test' is not a site URL" in refused(project, "--sql", str(dump), "--from-url", "old.test")
    missing = tmp_path / "nowhere"
    assert f"--uploads {missing} is not a folder" in refused(project, "--sql", str(dump), "--uploads", str(missing))
    assert "pass exactly one of them" in refused(project)


def test_mysql8_collations_are_found_and_mapped(tmp_path: Path) -> None:
    dump = tmp_path / "site.sql.gz"
    dump.write_bytes(gzip.compress(WORDPRESS_DUMP))
    info = checks.inspect_dump(dump)
    assert info.prefix == "blog_" and info.compressed
    assert info.tables == ["blog_options", "blog_posts", "blog_users", "blog_usermeta"]
    assert info.collations == {"utf8mb4_0900_ai_ci": "utf8mb4_unicode_520_ci", "utf8mb4_0900_bin": "utf8mb4_bin"}


def test_php_in_uploads_is_recognised() -> None:
    for name in ("shell.php", "2024/01/x.PHP", "a.phtml", "b.phar", "c.php7"):
        assert checks.is_php(name), name
    for name in ("photo.jpg", "notes.php.txt", "php.png"):
        assert not checks.is_php(name), name


def test_from_url_without_wp_cli_is_refused_before_the_swap(tmp_path: Path, debian_wordpress: Path) -> None:
    """search-replace runs after the tables are swapped in, so a site without wp-cli is found out first."""
    project = init_site(tmp_path / "nowpcli", "nowpcli")
    set_key(project, "build", "wp_cli", '""')  # init's default ships wp-cli
    dump = tmp_path / "site.sql"
    dump.write_bytes(WORDPRESS_DUMP)
    result = run_wplambda("import", "--local", "--project", str(project), "--sql", str(dump), "--from-url",
                          "http://old.test", "--url", "http://new.test", "--yes", timeout=600)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--from-url needs wp-cli in the local site" in result.stderr and "build.wp_cli" in result.stderr
    assert "restoring" not in result.stdout
    assert not list((project / ".wplambda" / "local" / "dbio").glob("*/*"))  # nothing staged, nothing left
