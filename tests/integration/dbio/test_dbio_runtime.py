"""dbio.php through the handler's direct invocations, on real MariaDB and Debian's PHP: every column
type round trips byte for byte, and an import that fails leaves the live tables exactly as they were."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from typing import Any

import pytest

from wp_lambda.local.mariadb import MariaDB
from wp_lambda.runtime.handler import Runtime

pytestmark = pytest.mark.slow

# Every kind of column WordPress and its plugins use, with the values that break naive dumpers.
TYPES_TABLE = """
CREATE TABLE wp_dbio_types (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  tiny TINYINT, small SMALLINT, medium MEDIUMINT, big BIGINT, ubig BIGINT UNSIGNED,
  dec_col DECIMAL(20,6), flt FLOAT, dbl DOUBLE, yr YEAR, dt DATE, dtm DATETIME(6), ts TIMESTAMP NULL,
  tm TIME, ch CHAR(10), vc VARCHAR(191), txt TEXT, lt LONGTEXT, bl LONGBLOB, vb VARBINARY(64), bn BINARY(4),
  bits BIT(12), en ENUM('a','b''c'), st SET('x','y','z'), js JSON
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci"""
TYPES_ROWS = r"""
SET NAMES utf8mb4; INSERT INTO wp_dbio_types VALUES
 (1, -128, -32768, 8388607, -9223372036854775808, 18446744073709551615, -12345678901234.123456, 1.5, 2.25e-300,
  2155, '0000-00-00', '2024-02-29 23:59:59.123456', '2038-01-19 03:14:07', '-838:59:59', 'pad  ',
  'emoji 😀 ünïcødé \\ back', 'quote '' "dq" `bt` ; -- not a comment\n/* nor this */ # nor this',
  REPEAT('long text; ', 5000), UNHEX(REPEAT('000102030405060708090A0B0C0D0E0F', 4096)), 0x00FF27225C0D0A1A,
  0x00000000, b'101010101010', 'b''c', 'x,z', '{"k": [1, "two", null]}'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '', '', '', '', '',
  NULL, NULL, NULL, '', NULL)"""


def sql(db: MariaDB, runtime: Runtime, statement: str) -> str:
    return db.sql(statement, database=runtime.environ["WPLAMBDA_TEST_DATABASE"])


def checksums(db: MariaDB, runtime: Runtime, prefix: str = "wp_") -> dict[str, str]:
    """CHECKSUM TABLE of every table with ``prefix``: equal only if every row's bytes are."""
    tables = [t for t in sql(db, runtime, "SHOW TABLES").split() if t.startswith(prefix)]
    out = sql(db, runtime, f"CHECKSUM TABLE {', '.join(tables)}")
    return {line.split("\t")[0].split(".")[1]: line.split("\t")[1] for line in out.splitlines()}


def invoke(runtime: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    return runtime.handle(event, None)


@pytest.fixture(scope="module")
def dump(runtimes: dict[str, Runtime], mariadb: MariaDB, tmp_path_factory: pytest.TempPathFactory) -> tuple[
        Path, dict[str, Any]]:
    source = runtimes["source"]
    sql(mariadb, source, TYPES_TABLE)
    sql(mariadb, source, TYPES_ROWS)
    # ~4 MB of posts, so the dumper writes several 1 MB INSERT chunks per table.
    sql(mariadb, source, "INSERT INTO wp_posts (post_author, post_date, post_date_gmt, post_content, post_title, "
        "post_excerpt, post_status, post_name, to_ping, pinged, post_modified, post_modified_gmt, "
        "post_content_filtered, guid) SELECT 1, NOW(), NOW(), REPEAT(CONCAT('body ', seq, '; '), 120), "
        "CONCAT('Post ', seq), '', 'publish', CONCAT('post-', seq), '', '', NOW(), NOW(), '', '' "
        "FROM seq_1_to_3000")
    out = tmp_path_factory.mktemp("dbio-dump") / "site.sql.gz"
    result = invoke(source, {"wplambda": "db-export", "put_url": out.as_uri()})
    assert "error" not in result, result
    return out, result


def test_export_reports_rows_and_bounded_memory(dump: tuple[Path, dict[str, Any]], runtimes: dict[str, Runtime],
                                                mariadb: MariaDB) -> None:
    path, result = dump
    assert result["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert result["tables"]["wp_dbio_types"] == 2
    assert result["tables"]["wp_posts"] == int(sql(mariadb, runtimes["source"], "SELECT COUNT(*) FROM wp_posts"))
    assert result["site_url"].startswith("http") and result["wordpress_version"].startswith("6.")
    assert result["sql_bytes"] > 4_000_000
    # One row plus one 1 MB INSERT chunk, whatever the size of the table.
    assert result["peak_memory"] < 32 * 1024 * 1024
    text = gzip.decompress(path.read_bytes())
    assert text.count(b"INSERT INTO `wp_posts`") >= 3


def test_import_round_trips_every_byte_and_keeps_a_backup(dump: tuple[Path, dict[str, Any]],
                                                          runtimes: dict[str, Runtime], mariadb: MariaDB) -> None:
    path, exported = dump
    source, target = runtimes["source"], runtimes["target"]
    before = checksums(mariadb, target)
    result = invoke(target, {"wplambda": "db-import", "get_url": path.as_uri(), "from_prefix": "wp_"})
    assert "error" not in result, result
    after = checksums(mariadb, target)
    expected = checksums(mariadb, source)
    # The import empties the rewrite rules and expires transients (caches WordPress rebuilds).
    assert after == expected or {k for k in after if after[k] != expected[k]} == {"wp_options"}
    options = "SELECT option_name, option_value FROM wp_options WHERE option_name NOT LIKE '%transient%' " \
              "AND option_name <> 'rewrite_rules' ORDER BY option_name"
    assert sql(mariadb, target, options) == sql(mariadb, source, options)
    assert sql(mariadb, target, "SELECT option_value FROM wp_options WHERE option_name = 'rewrite_rules'") in ("", "\n")
    assert result["tables"] == exported["tables"]
    assert result["admins"] == ["admin"]
    backup = result["backup_prefix"]
    assert backup.startswith("wpbk")
    assert checksums(mariadb, target, backup) == {backup + k[3:]: v for k, v in before.items()}
    assert not [t for t in sql(mariadb, target, "SHOW TABLES").split() if t.startswith("wplt")]
    status = invoke(target, {"wplambda": "db-status"})
    assert backup in status["backups"]
    # Going back: the kept tables swap in again, the imported ones are kept in their turn.
    reverted = invoke(target, {"wplambda": "db-revert", "backup_prefix": backup})
    assert "error" not in reverted, reverted
    assert checksums(mariadb, target) == before
    dropped = invoke(target, {"wplambda": "db-drop-backups"})
    assert dropped["dropped"] == [reverted["backup_prefix"]]
    assert not [t for t in sql(mariadb, target, "SHOW TABLES").split() if t.startswith("wpbk")]


def _failing(dump_path: Path, dest: Path, at_posts_insert: int) -> Path:
    """The dump with a statement that fails (a duplicate primary key) after the Nth posts INSERT."""
    lines = gzip.decompress(dump_path.read_bytes()).split(b"\n")
    seen, out = 0, []
    for line in lines:
        out.append(line)
        if line.startswith(b"INSERT INTO `wp_posts`"):
            seen += 1
            if seen == at_posts_insert:
                out.append(b"INSERT INTO `wp_posts` (ID, post_content, post_title, post_excerpt, to_ping, pinged, "
                           b"post_content_filtered) VALUES (1, '', 'duplicate', '', '', '', '');")
    dest.write_bytes(gzip.compress(b"\n".join(out)))
    return dest


def test_a_statement_that_fails_leaves_the_live_tables_untouched(dump: tuple[Path, dict[str, Any]],
                                                                 runtimes: dict[str, Runtime], mariadb: MariaDB,
                                                                 tmp_path: Path) -> None:
    target = runtimes["target"]
    before = checksums(mariadb, target)
    bad = _failing(dump[0], tmp_path / "bad.sql.gz", at_posts_insert=2)
    result = invoke(target, {"wplambda": "db-import", "get_url": bad.as_uri(), "from_prefix": "wp_"})
    assert "Duplicate entry '1'" in result["error"] and result["error"].startswith("statement ")
    assert result["statement"] > 10
    assert checksums(mariadb, target) == before
    assert not [t for t in sql(mariadb, target, "SHOW TABLES").split() if t.startswith("wplt")]


def test_a_truncated_gzip_stream_changes_nothing(dump: tuple[Path, dict[str, Any]], runtimes: dict[str, Runtime],
                                                 mariadb: MariaDB, tmp_path: Path) -> None:
    target = runtimes["target"]
    before = checksums(mariadb, target)
    data = dump[0].read_bytes()
    cut = tmp_path / "cut.sql.gz"
    cut.write_bytes(data[: len(data) // 2])
    result = invoke(target, {"wplambda": "db-import", "get_url": cut.as_uri(), "from_prefix": "wp_"})
    assert "ends early" in result["error"] and "nothing was changed" in result["error"]
    assert checksums(mariadb, target) == before
    assert not [t for t in sql(mariadb, target, "SHOW TABLES").split() if t.startswith("wplt")]


def test_file_urls_are_refused_outside_serve(runtimes: dict[str, Runtime], tmp_path: Path) -> None:
    environ = {**runtimes["target"].environ, "WPLAMBDA_LOCAL": "0"}
    runtime = Runtime(environ)
    result = runtime.handle({"wplambda": "db-export", "put_url": (tmp_path / "x.gz").as_uri()}, None)
    assert "only under `wplambda serve`" in result["error"]
    assert not (tmp_path / "x.gz").exists()



def test_mysql8_collations_and_another_prefix_are_mapped(dump: tuple[Path, dict[str, Any]],
                                                         runtimes: dict[str, Runtime], mariadb: MariaDB,
                                                         tmp_path: Path) -> None:
    """A MySQL 8 dump of a site whose tables are `old_*`: the collation MariaDB lacks becomes
    utf8mb4_unicode_520_ci and the prefix inside the data (roles, capabilities) becomes the site's."""
    target = runtimes["target"]
    with pytest.raises(RuntimeError, match="Unknown collation"):
        sql(mariadb, target, "CREATE TABLE probe_0900 (a TEXT) COLLATE=utf8mb4_0900_ai_ci")
    text = gzip.decompress(dump[0].read_bytes())
    text = text.replace(b"`wp_", b"`old_").replace(b"'wp_user_roles'", b"'old_user_roles'")
    text = text.replace(b"'wp_capabilities'", b"'old_capabilities'").replace(b"'wp_user_level'", b"'old_user_level'")
    text = text.replace(b"utf8mb4_unicode_520_ci", b"utf8mb4_0900_ai_ci").replace(b"utf8mb4_unicode_ci",
                                                                                  b"utf8mb4_0900_ai_ci")
    mysql8 = tmp_path / "mysql8.sql"
    mysql8.write_bytes(b"/*!40101 SET NAMES utf8mb4 COLLATE utf8mb4_0900_ai_ci */;\n" + text)
    result = invoke(target, {"wplambda": "db-import", "get_url": mysql8.as_uri(), "from_prefix": "old_"})
    assert "error" not in result, result
    assert result["admins"] == ["admin"]
    collations = set(sql(mariadb, target, "SELECT DISTINCT table_collation FROM information_schema.tables "
                         "WHERE table_schema = DATABASE() AND table_name LIKE 'wp\\_%'").split())
    assert collations == {"utf8mb4_unicode_520_ci"}
    assert sql(mariadb, target, "SELECT COUNT(*) FROM wp_options WHERE option_name = 'wp_user_roles'").strip() == "1"
    assert sql(mariadb, target, "SELECT COUNT(*) FROM wp_usermeta WHERE meta_key LIKE 'old\\_%'").strip() == "0"
    invoke(target, {"wplambda": "db-revert", "backup_prefix": result["backup_prefix"]})
    invoke(target, {"wplambda": "db-drop-backups"})


PHPMYADMIN_TABLES = b"""
START TRANSACTION;
SET time_zone = "+00:00";
CREATE TABLE IF NOT EXISTS `wp_shop_orders` (`id` bigint unsigned NOT NULL, `note` text) ENGINE=InnoDB
  DEFAULT CHARSET=utf8mb4;
INSERT INTO `wp_shop_orders` (`id`, `note`) VALUES (1, 'first'), (2, 'second');
CREATE TABLE IF NOT EXISTS `wp_shop_lines` (`id` bigint unsigned NOT NULL, `order_id` bigint unsigned NOT NULL)
  ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO `wp_shop_lines` (`id`, `order_id`) VALUES (10, 1), (11, 2);
ALTER TABLE `wp_shop_orders` ADD PRIMARY KEY (`id`);
ALTER TABLE `wp_shop_lines` ADD PRIMARY KEY (`id`), ADD KEY `order_id` (`order_id`);
ALTER TABLE `wp_shop_orders` MODIFY `id` bigint unsigned NOT NULL AUTO_INCREMENT, AUTO_INCREMENT=3;
ALTER TABLE `wp_shop_lines`
  ADD CONSTRAINT `fk_shop_order` FOREIGN KEY (`order_id`) REFERENCES `wp_shop_orders` (`id`) ON DELETE CASCADE;
COMMIT;
"""


def test_a_phpmyadmin_style_dump_with_keys_added_later_and_a_foreign_key(
        dump: tuple[Path, dict[str, Any]], runtimes: dict[str, Runtime], mariadb: MariaDB, tmp_path: Path) -> None:
    """phpMyAdmin adds keys with ALTER TABLE after the rows; a plugin's foreign key must end up
    pointing at the imported table, not at whatever the swap moved away."""
    target = runtimes["target"]
    dumped = tmp_path / "phpmyadmin.sql"
    dumped.write_bytes(gzip.decompress(dump[0].read_bytes()) + PHPMYADMIN_TABLES)
    result = invoke(target, {"wplambda": "db-import", "get_url": dumped.as_uri(), "from_prefix": "wp_"})
    assert "error" not in result, result
    assert result["tables"]["wp_shop_orders"] == 2 and result["tables"]["wp_shop_lines"] == 2
    referenced = sql(mariadb, target, "SELECT REFERENCED_TABLE_NAME FROM information_schema.KEY_COLUMN_USAGE "
                     "WHERE CONSTRAINT_SCHEMA = DATABASE() AND CONSTRAINT_NAME = 'fk_shop_order'")
    assert referenced.split() == ["wp_shop_orders"]
    assert "auto_increment" in sql(mariadb, target, "SHOW CREATE TABLE wp_shop_orders").lower()
    sql(mariadb, target, "DELETE FROM wp_shop_orders WHERE id = 1")
    assert sql(mariadb, target, "SELECT id FROM wp_shop_lines").split() == ["11"]  # the cascade works
    invoke(target, {"wplambda": "db-revert", "backup_prefix": result["backup_prefix"]})
    dropped = invoke(target, {"wplambda": "db-drop-backups"})
    assert "error" not in dropped, dropped
    assert not [t for t in sql(mariadb, target, "SHOW TABLES").split() if "shop" in t]


def test_tables_left_by_an_import_that_was_killed_are_removed_by_the_next(
        dump: tuple[Path, dict[str, Any]], runtimes: dict[str, Runtime], mariadb: MariaDB) -> None:
    """Lambda's timeout kills PHP outright (no shutdown function runs): the next import cleans up."""
    target = runtimes["target"]
    sql(mariadb, target, "CREATE TABLE wpltdeadbe_posts (ID int); CREATE TABLE wpltdeadbe_options (a int)")
    result = invoke(target, {"wplambda": "db-import", "get_url": dump[0].as_uri(), "from_prefix": "wp_"})
    assert "error" not in result, result
    assert result["cleaned"] == ["wpltdeadbe_"] and result["tmp_prefix"] != "wpltdeadbe_"
    assert not [t for t in sql(mariadb, target, "SHOW TABLES").split() if t.startswith("wplt")]
    invoke(target, {"wplambda": "db-revert", "backup_prefix": result["backup_prefix"]})
    invoke(target, {"wplambda": "db-drop-backups"})
