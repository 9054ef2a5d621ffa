"""A WordPress site for the runtime tests and the runtime benchmark: Debian's WordPress copied,
the kit's wp-config.php rendered into it, a database on the private MariaDB, the local layer."""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.support.helpers import copy_wordpress, real_s3_uploads_repositories
from tests.support.lambda_events import Client, Reply
from wp_lambda.bundle.composer import ENV_REPOSITORIES, install
from wp_lambda.bundle.pipeline import kit_dir
from wp_lambda.common.report import QuietReporter
from wp_lambda.config import Config
from wp_lambda.local.mariadb import MariaDB
from wp_lambda.local.runtime_process import local_layer, runtime_environment
from wp_lambda.render import render_text

ADMIN_USER = "admin"
ADMIN_PASSWORD = "correct horse battery staple 42"
# Small PHP scripts the failure tests need in the document root.
TEST_SCRIPTS = {
    "wplambda-sleep.php": "<?php if (isset($_GET['marker'])) { touch($_GET['marker']); }"
                          " sleep((int)($_GET['s'] ?? 5)); echo 'slept';\n",
    "wplambda-big.php": "<?php header('Content-Type: text/plain'); echo str_repeat('wplambda ', (int)$_GET['n']);\n",
    "wplambda-fatal.php": "<?php error_log('wplambda test: about to fail'); undefined_function_for_test();\n",
    "wplambda-env.php": "<?php header('Content-Type: application/json');"
                        " usleep((int)($_GET['sleep_ms'] ?? 0) * 1000);"
                        " echo json_encode(['server' => $_SERVER, 'get' => $_GET, 'post' => $_POST,"
                        " 'env' => getenv('WPLAMBDA_TEST_MARK'), 'pid' => getmypid()]);\n",
    "wplambda-request.php": "<?php header('Content-Type: application/json'); echo json_encode($_REQUEST);\n",
    # No default Content-Type and no header: php-fpm's header block is only the blank line.
    "wplambda-bare.php": "<?php ini_set('default_mimetype', ''); echo 'bare body';\n",
}


@dataclass
class Site:
    root: Path
    layer: Path
    environ: dict[str, str]
    db_password: str


def make_site(base: Path, mariadb: MariaDB, database: str) -> Site:
    """Copy WordPress under ``base``, create ``database`` and return the runtime's environment."""
    root = copy_wordpress(base / "wordpress")
    (root / "wp-config.php").write_text(render_text("wp-config.php.j2", Config()))
    for name, code in TEST_SCRIPTS.items():
        (root / name).write_text(code)
    password = secrets.token_urlsafe(16)
    mariadb.ensure_database(database, database, password)
    layer = local_layer(Config(), base / "layer")
    environ = runtime_environment(root, layer)
    environ.update(WORDPRESS_DB_HOST=mariadb.wordpress_host, WORDPRESS_DB_NAME=database,
                   WORDPRESS_DB_USER=database, WORDPRESS_DB_PASSWORD=password,
                   WORDPRESS_SALT=secrets.token_hex(32))
    return Site(root, layer, environ, password)


def make_mail_site(base: Path, mariadb: MariaDB, database: str) -> Site:
    """make_site with the kit's mail mu-plugin and the build's vendor/ (S3 Uploads and the AWS SDK for
    PHP the mu-plugin sends through), installed from the offline Composer repository of ../shared."""
    site = make_site(base, mariadb, database)
    mu = site.root / "wp-content" / "mu-plugins"
    mu.mkdir(parents=True, exist_ok=True)
    shutil.copy(kit_dir() / "mu-plugins" / "wplambda-mail.php", mu)
    shutil.copytree(kit_dir() / "mu-plugins" / "wplambda-mail", mu / "wplambda-mail")
    previous = os.environ.get(ENV_REPOSITORIES)
    os.environ[ENV_REPOSITORIES] = real_s3_uploads_repositories()
    try:
        vendor, _ = install(Config(root=base), base / "composer", QuietReporter())
    finally:
        if previous is None:
            del os.environ[ENV_REPOSITORIES]
        else:
            os.environ[ENV_REPOSITORIES] = previous
    shutil.copytree(vendor, site.root / "vendor")
    return site


def install_fields(title: str = "Runtime Test Blog") -> dict[str, str]:
    """The fields of WordPress's install form (wp-admin/install.php?step=2)."""
    return {"weblog_title": title, "user_name": ADMIN_USER, "admin_password": ADMIN_PASSWORD,
            "admin_password2": ADMIN_PASSWORD, "pw_weak": "1", "admin_email": "admin@example.com",
            "blog_public": "0", "language": "", "Submit": "Install WordPress"}


def log_in(client: Client) -> Reply:
    """wp-login.php as a browser does it: fetch the form (test cookie), then post it."""
    client.get("/wp-login.php")
    assert "wordpress_test_cookie" in client.jar
    return client.post_form("/wp-login.php", {"log": ADMIN_USER, "pwd": ADMIN_PASSWORD, "wp-submit": "Log In",
                                              "redirect_to": "https://wp.test/wp-admin/", "testcookie": "1"})
