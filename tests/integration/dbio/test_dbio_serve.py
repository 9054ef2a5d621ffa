"""`wplambda import --local` / `export --local` end to end, through a running `wplambda serve`.

The source is a site the kit did not make: Debian's WordPress under Debian's nginx and php-fpm on a
plain MariaDB database with the table prefix `old_`, filled with the real wp-cli and dumped with
`mysqldump`. It goes into a fresh serve site; then that site is exported and imported into a second
fresh site; then an import that fails halfway must leave the serve site exactly as it was.
"""

from __future__ import annotations

import getpass
import gzip
import http.cookiejar
import json
import os
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.runtime import start_nginx, stop
from tests.support.helpers import copy_wordpress, real_wp_cli, run_wplambda
from tests.support.serve import NoRedirect, Served, fetch, init_site, serving
from tests.support.wp_cli import set_key
from wp_lambda.local.mariadb import MariaDB

pytestmark = pytest.mark.slow

OLD_URL = "http://old.test"
EDITOR, EDITOR_PASSWORD = "olduser", "Old-Known-Pass-42"
ADMIN_PASSWORD = "new-site-admin-password-1"
PHP_FPM = "/usr/sbin/php-fpm8.2"
OLD_CONFIG = """<?php
define('DB_NAME', 'oldsite');
define('DB_USER', 'olduser');
define('DB_PASSWORD', 'old-db-password');
define('DB_HOST', 'localhost:{socket}');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
foreach (['AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY', 'AUTH_SALT', 'SECURE_AUTH_SALT',
          'LOGGED_IN_SALT', 'NONCE_SALT'] as $key) {{ define($key, 'old-site-' . $key); }}
$table_prefix = 'old_';
if (!defined('ABSPATH')) {{ define('ABSPATH', __DIR__ . '/'); }}
require_once ABSPATH . 'wp-settings.php';
"""
FPM_CONFIG = """[global]
pid = {dir}/fpm.pid
error_log = {dir}/fpm.log
[www]
listen = {dir}/fpm.sock
listen.mode = 0666
pm = static
pm.max_children = 2
clear_env = no
"""
IMAGE_SCRIPT = ("$i = imagecreatetruecolor(640, 480); for ($x = 0; $x < 640; $x += 8) { imagefilledrectangle($i, $x, 0,"
                " $x + 7, 479, imagecolorallocate($i, $x % 256, ($x * 3) % 256, 120)); } imagejpeg($i, $argv[1], 90);")


@dataclass
class OldSite:
    root: Path
    dump: Path
    uploads: Path
    post_id: int
    page_id: int


def wp_old(root: Path, *args: str) -> str:
    """The real wp-cli on the old site (no kit involved)."""
    done = subprocess.run(["php", real_wp_cli(), f"--path={root}", "--allow-root", *args], capture_output=True,
                          text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def old_site(tmp_path_factory: pytest.TempPathFactory, mariadb: MariaDB, debian_wordpress: Path) -> Iterator[OldSite]:
    base = tmp_path_factory.mktemp("old-site")
    mariadb.ensure_database("oldsite", "olduser", "old-db-password")
    root = copy_wordpress(base / "wordpress")
    (root / "wp-config.php").write_text(OLD_CONFIG.format(socket=mariadb.socket))
    fpm_dir = base / "fpm"
    fpm_dir.mkdir()
    (fpm_dir / "php-fpm.conf").write_text(FPM_CONFIG.format(dir=fpm_dir))
    fpm = subprocess.Popen([PHP_FPM, "-F", "-y", str(fpm_dir / "php-fpm.conf"),
                            *(["-R"] if os.geteuid() == 0 else [])], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    nginx = None
    try:
        deadline = time.monotonic() + 20
        while not (fpm_dir / "fpm.sock").exists():
            assert fpm.poll() is None and time.monotonic() < deadline, "php-fpm did not start"
            time.sleep(0.05)
        nginx, port = start_nginx(base / "nginx", root, str(fpm_dir / "fpm.sock"), 1)
        wp_old(root, "core", "install", f"--url={OLD_URL}", "--title=The Old Site", "--admin_user=oldadmin",
               "--admin_password=old-admin-password", "--admin_email=old@example.com", "--skip-email")
        wp_old(root, "user", "create", EDITOR, "olduser@example.com", f"--user_pass={EDITOR_PASSWORD}",
               "--role=editor")
        image = base / "harbour.jpg"
        subprocess.run(["php", "-r", IMAGE_SCRIPT, str(image)], check=True)
        media_id = wp_old(root, "media", "import", str(image), "--title=Harbour", "--porcelain")
        image_url = wp_old(root, "eval", f"echo wp_get_attachment_url({media_id});")
        assert image_url.startswith(f"{OLD_URL}/wp-content/uploads/")
        post_id = int(wp_old(root, "post", "create", "--post_title=Hello from the old site", "--post_status=publish",
                             f'--post_content=<p>Read <a href="{OLD_URL}/about/">about us</a> or '
                             f'<a href="https://www.old.test/contact/">write</a>.</p><img src="{image_url}">',
                             "--porcelain"))
        page_id = int(wp_old(root, "post", "create", "--post_type=page", "--post_title=About the old site",
                             "--post_status=publish", "--post_content=An old page.", "--porcelain"))
        wp_old(root, "option", "update", "oldplugin_settings", "--format=json",
               json.dumps({"endpoint": f"{OLD_URL}/api", "mirror": "https://www.old.test/x", "items": [1, 2, 3]}))
        # The old site really is a site: nginx serves the post.
        status, _, body = fetch(f"http://127.0.0.1:{port}/?p={post_id}", headers={"Host": "old.test"})
        assert status == 200 and b"Hello from the old site" in body
        uploads = root / "wp-content" / "uploads"
        (uploads / "evil.php").write_text("<?php system($_GET['c']);\n")
        dump = base / "old.sql"
        with dump.open("wb") as out:
            subprocess.run(["mysqldump", "--no-defaults", f"--socket={mariadb.socket}", f"--user={getpass.getuser()}",
                            "--single-transaction", "oldsite"], stdout=out, check=True)
        yield OldSite(root, dump, uploads, post_id, page_id)
    finally:
        if nginx is not None:
            stop(nginx)
        fpm.terminate()
        fpm.wait(timeout=20)


def new_project(base: Path, name: str) -> Path:
    project = init_site(base / name, name)
    set_key(project, "build", "wp_cli", f'"{real_wp_cli()}"')
    return project


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, debian_wordpress: Path) -> Iterator[Served]:
    project = new_project(tmp_path_factory.mktemp("dbio-serve"), "newsite")
    with serving(project, "--install", "--admin-password", ADMIN_PASSWORD) as server:
        yield server


@pytest.fixture(scope="module")
def imported(old_site: OldSite, served: Served) -> subprocess.CompletedProcess[str]:
    result = run_wplambda("import", "--local", "--project", str(served.project), "--sql", str(old_site.dump),
                          "--uploads", str(old_site.uploads), "--from-url", OLD_URL, "--yes", timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def log_in(url: str, user: str, password: str) -> tuple[int, http.cookiejar.CookieJar]:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())
    fetch(f"{url}/wp-login.php", opener=opener)
    form = urllib.parse.urlencode({"log": user, "pwd": password, "wp-submit": "Log In",
                                   "redirect_to": f"{url}/wp-admin/", "testcookie": "1"}).encode()
    status, _, _ = fetch(f"{url}/wp-login.php", data=form, opener=opener)
    return status, jar


def test_the_old_posts_render_at_the_new_url(old_site: OldSite, served: Served,
                                             imported: subprocess.CompletedProcess[str]) -> None:
    assert "administrators: oldadmin" in imported.stdout
    replaced = int(imported.stdout.split("search-replace: ")[1].split(" ")[0].replace(",", ""))
    assert replaced >= 5  # home, siteurl, the post's three links, the guid's, the option's two
    for post_id, title in ((old_site.post_id, b"Hello from the old site"), (old_site.page_id, b"About the old site")):
        status, _, body = fetch(f"{served.url}/?p={post_id}" if post_id == old_site.post_id
                                else f"{served.url}/?page_id={post_id}")
        assert status == 200 and title in body
        assert b"old.test" not in body
    _, _, post = fetch(f"{served.url}/?p={old_site.post_id}")
    assert f'href="{served.url}/about/"'.encode() in post and f'href="{served.url}/contact/"'.encode() in post
    assert f'src="{served.url}/wp-content/uploads/'.encode() in post


def test_the_old_user_logs_in_with_the_old_password(served: Served, imported: subprocess.CompletedProcess[str]) -> None:
    status, jar = log_in(served.url, EDITOR, EDITOR_PASSWORD)
    assert status == 302 and any(c.name.startswith("wordpress_logged_in_") for c in jar)
    status, jar = log_in(served.url, EDITOR, "not-the-password")
    assert status == 200 and not any(c.name.startswith("wordpress_logged_in_") for c in jar)


def test_media_bytes_match_and_php_was_skipped(old_site: OldSite, served: Served,
                                               imported: subprocess.CompletedProcess[str]) -> None:
    images = sorted(p for p in old_site.uploads.rglob("*.jpg"))
    assert len(images) >= 3  # the original and its thumbnails
    for image in images:
        key = image.relative_to(old_site.uploads).as_posix()
        status, headers, body = fetch(f"{served.url}/wp-content/uploads/{key}")
        assert status == 200 and headers["content-type"] == "image/jpeg" and body == image.read_bytes(), key
    assert "evil.php" in imported.stderr and "skipped" in imported.stderr
    assert not (served.project / ".wplambda" / "local" / "uploads" / "evil.php").exists()


def test_the_serialized_option_holds_the_new_url(served: Served, imported: subprocess.CompletedProcess[str]) -> None:
    result = run_wplambda("wp", "--local", "--project", str(served.project), "--", "option", "get",
                          "oldplugin_settings", "--format=json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"endpoint": f"{served.url}/api", "mirror": f"{served.url}/x",
                                         "items": [1, 2, 3]}


def test_the_replaced_site_was_backed_up(served: Served, imported: subprocess.CompletedProcess[str]) -> None:
    backups = list((served.project / ".wplambda" / "backups").glob("local-*/manifest.json"))
    assert len(backups) == 1
    manifest = json.loads(backups[0].read_text())
    assert manifest["site_url"] == served.url and manifest["tables"]["wp_users"] == 1
    assert "backup of the previous site" in imported.stdout and "--revert wpbk" in imported.stdout


def test_export_then_import_into_a_second_site_gives_the_same_rows_and_files(
        served: Served, imported: subprocess.CompletedProcess[str], tmp_path: Path) -> None:
    first = tmp_path / "first"
    result = run_wplambda("export", "--local", "--project", str(served.project), "-o", str(first), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["uploads"] >= 3
    second_project = new_project(tmp_path, "second")
    result = run_wplambda("import", "--local", "--project", str(second_project), "--sql",
                          str(first / "database.sql.gz"), "--uploads", str(first / "uploads"), "--json", timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    second = tmp_path / "second-export"
    result = run_wplambda("export", "--local", "--project", str(second_project), "-o", str(second))
    assert result.returncode == 0, result.stderr
    a, b = (json.loads((d / "manifest.json").read_text()) for d in (first, second))
    assert a["tables"] == b["tables"] and a["uploads"] == b["uploads"]
    # (The dumps differ in bytes by design: an import empties the rewrite rules and expires transients.)
    for key, entry in a["uploads"].items():
        assert (second / "uploads" / key).stat().st_size == entry["size"]


def test_an_import_failing_at_statement_n_leaves_the_site_as_it_was(
        old_site: OldSite, served: Served, imported: subprocess.CompletedProcess[str], tmp_path: Path) -> None:
    before = tmp_path / "before"
    assert run_wplambda("export", "--local", "--project", str(served.project), "-o", str(before)).returncode == 0
    lines = gzip.decompress((before / "database.sql.gz").read_bytes()).split(b"\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(b"INSERT INTO `wp_postmeta`"))
    lines.insert(at + 1, b"INSERT INTO `wp_postmeta` VALUES (1, 1, 'duplicate', 'key');")
    bad = tmp_path / "bad.sql.gz"
    bad.write_bytes(gzip.compress(b"\n".join(lines)))
    result = run_wplambda("import", "--local", "--project", str(served.project), "--sql", str(bad), "--yes",
                          "--no-backup", timeout=600)
    assert result.returncode == 2
    assert "Duplicate entry '1'" in result.stderr and "the site was not changed" in result.stderr
    statement = int(result.stderr.split("statement ")[1].split(" ")[0])
    assert statement > 10  # after the tables and rows before it (commentmeta ... options) went in
    after = tmp_path / "after"
    assert run_wplambda("export", "--local", "--project", str(served.project), "-o", str(after)).returncode == 0
    a, b = (json.loads((d / "manifest.json").read_text()) for d in (before, after))
    assert a["tables"] == b["tables"] and a["database"]["sha256"] == b["database"]["sha256"]
    tables = run_wplambda("wp", "--local", "--project", str(served.project), "--", "db", "tables", "--all-tables",
                          "--format=csv")
    assert tables.returncode == 0 and "wp_posts" in tables.stdout
    assert not [t for t in tables.stdout.split() if t.startswith("wplt")]
    status, _, body = fetch(f"{served.url}/?p={old_site.post_id}")
    assert status == 200 and b"Hello from the old site" in body


def test_no_secret_in_output_exports_backups_or_logs(served: Served, imported: subprocess.CompletedProcess[str],
                                                      tmp_path: Path) -> None:
    """The local DB password and salt reach PHP only through the environment: never an export, a
    backup, the staging folder, a log line or what the commands print."""
    local = served.project / ".wplambda" / "local"
    secrets = json.loads((local / "secrets.json").read_text())
    out = tmp_path / "export"
    exported = run_wplambda("export", "--local", "--project", str(served.project), "-o", str(out), "--json")
    assert exported.returncode == 0
    texts = [imported.stdout, imported.stderr, exported.stdout, exported.stderr]
    for folder in (out, served.project / ".wplambda" / "backups", local / "logs", local / "dbio"):
        for path in folder.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                texts.append((gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8", "replace"))
    assert len(texts) > 6
    for value in secrets.values():
        assert not [t for t in texts if value in t]


def test_a_site_with_content_needs_its_name_typed_back(old_site: OldSite, served: Served,
                                                       imported: subprocess.CompletedProcess[str]) -> None:
    from tests.support.helpers import wplambda_cmd

    command = [*wplambda_cmd(), "import", "--local", "--project", str(served.project), "--sql", str(old_site.dump),
               "--no-backup"]
    answered = subprocess.run(command, input="yes\n", capture_output=True, text=True, timeout=300, check=False)
    assert answered.returncode == 2, answered.stdout + answered.stderr
    assert "rows in" in answered.stdout and "Type local to confirm" in answered.stdout
    assert "import cancelled; nothing was changed" in answered.stderr
    unattended = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
                                check=False)
    assert unattended.returncode == 2 and "pass --yes" in unattended.stderr, unattended.stderr
    assert "Traceback" not in unattended.stdout + unattended.stderr
    status, _, body = fetch(f"{served.url}/?p={old_site.post_id}")
    assert status == 200 and b"Hello from the old site" in body


def test_the_dumper_ships_in_the_layer_outside_the_document_root(served: Served) -> None:
    import wp_lambda.runtime

    build = served.project / ".wplambda" / "build-serve"
    shipped = build / "layer" / "python" / "wp_lambda" / "runtime" / "dbio.php"
    assert shipped.read_bytes() == (Path(wp_lambda.runtime.__file__).parent / "dbio.php").read_bytes()
    assert not list((build / "function").rglob("dbio.php"))
    status, _, body = fetch(f"{served.url}/wp-content/../../layer/python/wp_lambda/runtime/dbio.php")
    assert status in (403, 404) and b"SHORTINIT" not in body
