<?php
/**
 * The site's database dumped and restored in PHP, for `wplambda export` / `wplambda import`.
 *
 * Lambda has no mysql or mysqldump binary, so wp-cli's `db export`/`db import` cannot run there;
 * this script needs only PHP's mysqli. It ships in the runtime layer, outside the document root,
 * and is run by wp_lambda/runtime/dbio.py with the layer's PHP in the document root:
 *
 *   php dbio.php export SUMMARY.json             the site's tables as SQL on stdout
 *   php dbio.php import SUMMARY.json FROM        SQL on stdin into tables FROM* renamed wpltXXXXXX_*,
 *                                                then one atomic RENAME TABLE swaps them in
 *   php dbio.php status SUMMARY.json             the site's tables, row counts, URL and admins
 *   php dbio.php drop-backups SUMMARY.json       drops the tables earlier imports kept
 *   php dbio.php revert SUMMARY.json BACKUP      swaps a kept backup back in (one RENAME TABLE)
 *
 * It connects through WordPress's own wp-config.php with SHORTINIT (the database settings exactly
 * as the site sees them, nothing of WordPress beyond wpdb). Memory is bounded by the largest row
 * (export: unbuffered queries, INSERTs flushed at CHUNK bytes) or the largest statement (import:
 * the input is read in blocks and cut into statements as it streams).
 */

define('SHORTINIT', true);
const CHUNK = 1048576;           // bytes of one multi-row INSERT the dumper writes
const READ_BLOCK = 262144;       // bytes read from stdin at a time
const BACKUP_MARK = 'wpbk';      // backup prefixes: wpbkYYYYmmddHHMMSS_ (never match the live prefix)
const TMP_MARK = 'wplt';         // an import's temporary prefix: wplt + 6 hex digits + _

error_reporting(E_ALL);
ini_set('display_errors', 'stderr');
$mode = $argv[1] ?? '';
$summary_path = $argv[2] ?? '';
if ($summary_path === '') {
    fwrite(STDERR, "usage: php dbio.php export|import|drop-backups|revert SUMMARY.json ...\n");
    exit(64);
}
require getcwd() . '/wp-load.php';
mysqli_report(MYSQLI_REPORT_OFF);
$db = $wpdb->dbh;
$live = $wpdb->base_prefix;
$summary = ['mode' => $mode, 'prefix' => $live];

function finish(array $summary, int $code = 0): void
{
    global $summary_path;
    $summary['peak_memory'] = memory_get_peak_usage(true);
    file_put_contents($summary_path, json_encode($summary, JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE));
    exit($code);
}

function fail(array $summary, string $message, array $extra = []): void
{
    $summary['error'] = $message;
    finish($summary + $extra, 1);
}

function q(string $name): string
{
    return '`' . str_replace('`', '``', $name) . '`';
}

function like_prefix(mysqli $db, string $prefix): string
{
    return $db->real_escape_string(addcslashes($prefix, '_%\\')) . '%';
}

/** Tables whose names start with $prefix, in name order. */
function tables_with(mysqli $db, string $prefix): array
{
    $result = $db->query("SHOW FULL TABLES LIKE '" . like_prefix($db, $prefix) . "'");
    $names = [];
    while ($result && ($row = $result->fetch_row())) {
        if ($row[1] === 'BASE TABLE') {
            $names[] = $row[0];
        }
    }
    sort($names, SORT_STRING);
    return $names;
}

function row_count(mysqli $db, string $table): int
{
    return (int) $db->query('SELECT COUNT(*) FROM ' . q($table))->fetch_row()[0];
}

function option_value(mysqli $db, string $table, string $name): ?string
{
    $result = $db->query('SELECT option_value FROM ' . q($table) . " WHERE option_name = '"
                         . $db->real_escape_string($name) . "'");
    $row = $result ? $result->fetch_row() : null;
    return $row ? $row[0] : null;
}

/** Login names of the administrators: usermeta capabilities holding the administrator role. */
function admin_logins(mysqli $db, string $prefix): array
{
    $sql = 'SELECT u.user_login FROM ' . q($prefix . 'users') . ' u JOIN ' . q($prefix . 'usermeta')
         . " m ON m.user_id = u.ID WHERE m.meta_key = '" . $db->real_escape_string($prefix . 'capabilities')
         . "' AND m.meta_value LIKE '%\"administrator\"%' ORDER BY u.user_login";
    $result = $db->query($sql);
    $logins = [];
    while ($result && ($row = $result->fetch_row())) {
        $logins[] = $row[0];
    }
    return $logins;
}

/* ---- export ------------------------------------------------------------------------------ */

const NUMERIC_TYPES = [MYSQLI_TYPE_TINY, MYSQLI_TYPE_SHORT, MYSQLI_TYPE_INT24, MYSQLI_TYPE_LONG,
                       MYSQLI_TYPE_LONGLONG, MYSQLI_TYPE_DECIMAL, MYSQLI_TYPE_NEWDECIMAL,
                       MYSQLI_TYPE_FLOAT, MYSQLI_TYPE_DOUBLE, MYSQLI_TYPE_YEAR,
                       MYSQLI_TYPE_BIT]; // mysqlnd hands BIT values over as decimal strings
// Charset 63 like binary data, but written as their text form ('2024-02-29 23:59:59').
const TEMPORAL_TYPES = [MYSQLI_TYPE_DATE, MYSQLI_TYPE_NEWDATE, MYSQLI_TYPE_DATETIME, MYSQLI_TYPE_TIMESTAMP,
                        MYSQLI_TYPE_TIME];

/**
 * One column value as an SQL literal: numbers bare, binary columns (charset 63: BLOB, BINARY,
 * BIT, ...) as hex so no byte is reinterpreted, text escaped by the connection's own charset.
 */
function literal(mysqli $db, ?string $value, object $field): string
{
    if ($value === null) {
        return 'NULL';
    }
    if (in_array($field->type, NUMERIC_TYPES, true)) {
        return $value;
    }
    if ($field->charsetnr === 63 && !in_array($field->type, TEMPORAL_TYPES, true)) {
        return $value === '' ? "''" : '0x' . bin2hex($value);
    }
    return "'" . $db->real_escape_string($value) . "'";
}

function export_site(mysqli $db, string $live, array $summary): void
{
    $out = fopen('php://stdout', 'wb');
    $tables = tables_with($db, $live);
    if (!$tables) {
        fail($summary, "the database has no tables with the prefix $live");
    }
    fwrite($out, "-- wplambda dump of the tables with prefix $live\n"
               . "SET NAMES utf8mb4;\nSET FOREIGN_KEY_CHECKS = 0;\nSET UNIQUE_CHECKS = 0;\n"
               . "SET SQL_MODE = 'NO_AUTO_VALUE_ON_ZERO';\nSET TIME_ZONE = '+00:00';\n");
    $db->query("SET TIME_ZONE = '+00:00'");
    $counts = [];
    foreach ($tables as $table) {
        $create = $db->query('SHOW CREATE TABLE ' . q($table))->fetch_row()[1];
        fwrite($out, "\nDROP TABLE IF EXISTS " . q($table) . ";\n$create;\n");
        $result = $db->query('SELECT * FROM ' . q($table), MYSQLI_USE_RESULT);
        if (!$result) {
            fail($summary, "reading $table failed: " . $db->error);
        }
        $fields = $result->fetch_fields();
        $head = 'INSERT INTO ' . q($table) . ' VALUES ';
        $buffer = '';
        $rows = 0;
        while (($row = $result->fetch_row()) !== null) {
            $values = [];
            foreach ($row as $i => $value) {
                $values[] = literal($db, $value, $fields[$i]);
            }
            $tuple = '(' . implode(',', $values) . ')';
            if ($buffer !== '' && strlen($buffer) + strlen($tuple) > CHUNK) {
                fwrite($out, $head . $buffer . ";\n");
                $buffer = '';
            }
            $buffer .= ($buffer === '' ? '' : ',') . $tuple;
            $rows++;
        }
        if ($db->errno) {
            fail($summary, "reading $table failed: " . $db->error);
        }
        $result->free();
        if ($buffer !== '') {
            fwrite($out, $head . $buffer . ";\n");
        }
        $counts[$table] = $rows;
    }
    fwrite($out, "\n-- wplambda dump complete\n");
    fclose($out);
    global $wp_version;
    $summary['tables'] = $counts;
    $summary['site_url'] = option_value($db, $live . 'options', 'home');
    $summary['wordpress_version'] = $wp_version;
    finish($summary);
}

/* ---- import ------------------------------------------------------------------------------ */

/**
 * Statements of the SQL on $in, one at a time, with -- and # comments dropped and quoted text
 * kept intact: the scanner jumps (strcspn) to the next character that can change its state.
 */
function statements($in): Generator
{
    $buf = '';
    $eof = false;
    $stmt_start = 0;
    $i = 0;
    $more = static function () use ($in, &$buf, &$eof): bool {
        while (!$eof) {
            $data = fread($in, READ_BLOCK);
            if ($data === false || $data === '') {
                $eof = $data === false || feof($in);
                continue;
            }
            $buf .= $data;
            return true;
        }
        return false;
    };
    $more();
    while (true) {
        $len = strlen($buf);
        if ($i >= $len) {
            if (!$more()) {
                $rest = trim(substr($buf, $stmt_start));
                if ($rest !== '') {
                    yield $rest;
                }
                return;
            }
            continue;
        }
        $i += strcspn($buf, "'\"`;-#/", $i);
        if ($i >= $len) {
            continue;
        }
        if ($i + 2 >= $len && !$eof && $more()) {
            continue; // two-character tokens need their second (and third) character
        }
        $c = $buf[$i];
        if ($c === ';') {
            $statement = trim(substr($buf, $stmt_start, $i - $stmt_start));
            $buf = substr($buf, $i + 1);
            $stmt_start = $i = 0;
            if ($statement !== '') {
                yield $statement;
            }
            continue;
        }
        if ($c === '#' || ($c === '-' && substr($buf, $i, 2) === '--'
                           && ($i + 2 >= strlen($buf) || ctype_space($buf[$i + 2])))) {
            while (($nl = strpos($buf, "\n", $i)) === false) {
                if (!$more()) {
                    $nl = strlen($buf);
                    break;
                }
            }
            $buf = substr($buf, 0, $i) . substr($buf, $nl);
            continue;
        }
        if ($c === '/' && ($buf[$i + 1] ?? '') === '*') {
            while (($end = strpos($buf, '*/', $i + 2)) === false) {
                if (!$more()) {
                    throw new RuntimeException('the input ends inside a /* comment */');
                }
            }
            $i = $end + 2;
            continue;
        }
        if ($c === "'" || $c === '"' || $c === '`') {
            $j = $i + 1;
            while (true) {
                $j += strcspn($buf, $c . '\\', $j);
                if ($j + 1 >= strlen($buf) && !$eof && $more()) {
                    continue;
                }
                if ($j >= strlen($buf)) {
                    throw new RuntimeException('the input ends inside a quoted string');
                }
                if ($buf[$j] === '\\' && $c !== '`') {
                    $j += 2;
                    continue;
                }
                if ($buf[$j] === '\\') {
                    $j++;
                    continue;
                }
                if (($buf[$j + 1] ?? '') === $c) {
                    $j += 2; // a doubled quote is a quote character
                    continue;
                }
                break;
            }
            $i = $j + 1;
            continue;
        }
        $i++;
    }
}

// ALTER TABLE too: phpMyAdmin's exports add keys and AUTO_INCREMENT after the rows.
const TABLE_STATEMENT = '/^(INSERT\s+(?:IGNORE\s+)?INTO|REPLACE\s+INTO|CREATE\s+TABLE(?:\s+IF\s+NOT\s+EXISTS)?'
    . '|DROP\s+TABLE(?:\s+IF\s+EXISTS)?|ALTER\s+TABLE)\s+(`(?:[^`]|``)+`|[A-Za-z0-9_$]+)/i';
// Statements a dump carries that do not apply to tables restored under another name.
const SKIPPED = '/^(LOCK\s+TABLES|UNLOCK\s+TABLES|ALTER\s+TABLE\s+\S+\s+(DIS|EN)ABLE\s+KEYS|USE\s|CREATE\s+DATABASE'
    . '|START\s+TRANSACTION|COMMIT|BEGIN)/i';

/** MySQL 8's collations that MariaDB and older MySQL lack, mapped to their closest safe one. */
function map_collations(string $sql): string
{
    return preg_replace(['/\butf8mb4_0900_bin\b/', '/\butf8mb4_0900_\w+/'],
                        ['utf8mb4_bin', 'utf8mb4_unicode_520_ci'], $sql);
}

function unquote(string $name): string
{
    return $name[0] === '`' ? str_replace('``', '`', substr($name, 1, -1)) : $name;
}

/** Drop every table with $prefix: the temporary tables of an import that did not finish. */
function drop_prefix(mysqli $db, string $prefix): void
{
    $tables = tables_with($db, $prefix);
    if ($tables) {
        $db->query('SET FOREIGN_KEY_CHECKS = 0'); // plugin tables may reference each other
        $db->query('DROP TABLE IF EXISTS ' . implode(', ', array_map('q', $tables)));
    }
}

function import_site(mysqli $db, string $live, string $from, array $summary): void
{
    // An import killed outright (the function's timeout is a SIGKILL: no shutdown function runs)
    // leaves its temporary tables behind; the next import removes them. One import at a time.
    $cleaned = [];
    foreach (tables_with($db, TMP_MARK) as $table) {
        if (preg_match('/^(' . TMP_MARK . '[0-9a-f]{6}_)/', $table, $m) && !in_array($m[1], $cleaned, true)) {
            drop_prefix($db, $m[1]);
            $cleaned[] = $m[1];
        }
    }
    $tmp = TMP_MARK . bin2hex(random_bytes(3)) . '_';
    $summary += ['tmp_prefix' => $tmp, 'cleaned' => $cleaned];
    $swapped = false;
    register_shutdown_function(static function () use ($db, $tmp, &$swapped): void {
        if (!$swapped) {
            drop_prefix($db, $tmp); // a fatal error (memory, a kill by timeout) leaves nothing behind
        }
    });
    foreach (["SET NAMES utf8mb4", "SET FOREIGN_KEY_CHECKS = 0", "SET UNIQUE_CHECKS = 0"] as $setup) {
        $db->query($setup);
    }
    $number = 0;
    $skipped_tables = [];
    $executed = 0;
    try {
        foreach (statements(fopen('php://stdin', 'rb')) as $statement) {
            $number++;
            // Plain leading comments (MariaDB's /*M!999999 sandbox line too) say nothing; a /*!NNNNN
            // conditional comment is a statement for MySQL, so its inside is what runs.
            $body = preg_replace('#^(/\*(?!!).*?\*/\s*)+#s', '', $statement);
            $body = preg_replace('#^/\*!\d*\s*(.*?)\s*\*/$#s', '$1', $body);
            if ($body === '') {
                continue;
            }
            if (preg_match(SKIPPED, $body)) {
                continue;
            }
            if (preg_match(TABLE_STATEMENT, $body, $m)) {
                $name = unquote($m[2]);
                if (strncmp($name, $from, strlen($from)) !== 0) {
                    $skipped_tables[$name] = true;
                    continue;
                }
                $renamed = q($tmp . substr($name, strlen($from)));
                $body = $m[1] . ' ' . $renamed . substr($body, strlen($m[0]));
                if (stripos($m[1], 'CREATE') === 0 || stripos($m[1], 'ALTER') === 0) {
                    // A foreign key must point at the new table, or the swap would leave it on the backup.
                    $body = preg_replace_callback('/\\bREFERENCES\\s+`' . preg_quote($from, '/') . '((?:[^`]|``)*)`/i',
                                                  static fn ($r) => 'REFERENCES ' . q($tmp . unquote('`' . $r[1] . '`')),
                                                  map_collations($body));
                }
            } elseif (preg_match('/^SET\s/i', $body)) {
                $body = map_collations($body);
            } elseif (preg_match('/^(CREATE|ALTER|DROP|RENAME|TRUNCATE|DELETE|UPDATE|GRANT)\b/i', $body)) {
                throw new RuntimeException('unsupported statement (only tables and their rows are restored): '
                                           . substr($body, 0, 120));
            }
            if (!$db->query($body)) {
                throw new RuntimeException("MySQL error {$db->errno}: {$db->error}");
            }
            $executed++;
        }
    } catch (Throwable $e) {
        drop_prefix($db, $tmp);
        fail($summary, "statement $number failed: " . $e->getMessage(),
             ['statement' => $number, 'executed' => $executed]);
    }
    $restored = tables_with($db, $tmp);
    foreach (['options', 'posts', 'users', 'usermeta'] as $required) {
        if (!in_array($tmp . $required, $restored, true)) {
            drop_prefix($db, $tmp);
            fail($summary, "the dump has no {$from}$required table: it is not a WordPress database "
                 . "with the prefix $from");
        }
    }
    if ($from !== $live) {
        // Role and capability keys carry the table prefix inside the data: rename them to the site's.
        $db->query('UPDATE ' . q($tmp . 'options') . " SET option_name = '" . $db->real_escape_string($live)
                   . "user_roles' WHERE option_name = '" . $db->real_escape_string($from) . "user_roles'");
        $db->query('UPDATE ' . q($tmp . 'usermeta') . " SET meta_key = CONCAT('" . $db->real_escape_string($live)
                   . "', SUBSTRING(meta_key, " . (strlen($from) + 1) . ")) WHERE meta_key LIKE '"
                   . like_prefix($db, $from) . "'");
    }
    // Rewrite rules and transients are caches of the old site. Emptied rules are rebuilt by the first
    // request; expired transients are dropped when next read. Rows stay, so counts match the dump.
    $db->query('UPDATE ' . q($tmp . 'options') . " SET option_value = '' WHERE option_name = 'rewrite_rules'");
    $db->query('UPDATE ' . q($tmp . 'options') . " SET option_value = '1' WHERE option_name LIKE "
               . "'\\_transient\\_timeout\\_%' OR option_name LIKE '\\_site\\_transient\\_timeout\\_%'");
    $counts = [];
    foreach ($restored as $table) {
        $counts[$live . substr($table, strlen($tmp))] = row_count($db, $table);
    }
    $backup = fresh_backup_prefix($db);
    $pairs = [];
    foreach (tables_with($db, $live) as $table) {
        $pairs[] = q($table) . ' TO ' . q($backup . substr($table, strlen($live)));
    }
    foreach ($restored as $table) {
        $pairs[] = q($table) . ' TO ' . q($live . substr($table, strlen($tmp)));
    }
    // One statement: MariaDB and MySQL rename every pair or none, so no request sees a mix.
    if (!$db->query('RENAME TABLE ' . implode(', ', $pairs))) {
        drop_prefix($db, $tmp);
        fail($summary, "swapping the tables in failed: {$db->error}");
    }
    $swapped = true;
    $summary += ['tables' => $counts, 'statements' => $number, 'executed' => $executed,
                 'backup_prefix' => count($pairs) > count($restored) ? $backup : null,
                 'skipped_tables' => array_keys($skipped_tables),
                 'site_url' => option_value($db, $live . 'options', 'home'),
                 'admins' => admin_logins($db, $live)];
    finish($summary);
}

/** A dated backup prefix no table uses yet (two swaps within one second get different ones). */
function fresh_backup_prefix(mysqli $db): string
{
    $time = time();
    while (tables_with($db, BACKUP_MARK . gmdate('YmdHis', $time) . '_')) {
        $time++;
    }
    return BACKUP_MARK . gmdate('YmdHis', $time) . '_';
}

function backup_prefixes(mysqli $db): array
{
    $prefixes = [];
    foreach (tables_with($db, BACKUP_MARK) as $table) {
        if (preg_match('/^(' . BACKUP_MARK . '\d{14}_)/', $table, $m)) {
            $prefixes[$m[1]][] = $table;
        }
    }
    ksort($prefixes);
    return $prefixes;
}

/* ---- main -------------------------------------------------------------------------------- */

switch ($mode) {
    case 'status':
        global $wp_version;
        $counts = [];
        foreach (tables_with($db, $live) as $table) {
            $counts[$table] = row_count($db, $table);
        }
        $installed = isset($counts[$live . 'options']) && isset($counts[$live . 'users']);
        finish($summary + ['tables' => (object) $counts, 'wordpress_version' => $wp_version,
                           'site_url' => $installed ? option_value($db, $live . 'options', 'home') : null,
                           'admins' => $installed ? admin_logins($db, $live) : [],
                           'backups' => array_keys(backup_prefixes($db))]);
        break;
    case 'export':
        export_site($db, $live, $summary);
        break;
    case 'import':
        import_site($db, $live, $argv[3] ?? $live, $summary);
        break;
    case 'drop-backups':
        $dropped = [];
        foreach (backup_prefixes($db) as $prefix => $tables) {
            drop_prefix($db, $prefix);
            $dropped[] = $prefix;
        }
        finish($summary + ['dropped' => $dropped]);
        break;
    case 'revert':
        $backup = $argv[3] ?? '';
        $kept = backup_prefixes($db);
        if (!isset($kept[$backup])) {
            fail($summary, "no backup tables with the prefix '$backup'; kept: " . implode(', ', array_keys($kept)));
        }
        $newer = fresh_backup_prefix($db);
        $pairs = [];
        foreach (tables_with($db, $live) as $table) {
            $pairs[] = q($table) . ' TO ' . q($newer . substr($table, strlen($live)));
        }
        foreach ($kept[$backup] as $table) {
            $pairs[] = q($table) . ' TO ' . q($live . substr($table, strlen($backup)));
        }
        if (!$db->query('RENAME TABLE ' . implode(', ', $pairs))) {
            fail($summary, "swapping the backup in failed: {$db->error}");
        }
        finish($summary + ['restored' => $backup, 'backup_prefix' => $newer]);
        break;
    default:
        fail($summary, "unknown mode '$mode'");
}
