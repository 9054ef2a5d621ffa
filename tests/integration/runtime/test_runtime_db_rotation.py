"""A database password rotated under a warm instance (wp_lambda/runtime/rotation.py), end to end
in the runtime: WordPress on Debian's php-fpm, the password in moto's Secrets Manager (loaded
through WPLAMBDA_SECRETS, as on Lambda), and MariaDB's user changed under the running php-fpm.
The serve-level run of the same rotation is in tests/e2e/serve/test_serve_external_db.py."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.support.helpers import moto_server
from tests.support.lambda_events import Client
from tests.support.wp_site import ADMIN_PASSWORD, ADMIN_USER, Site, install_fields, make_site
from wp_lambda.local.mariadb import MariaDB
from wp_lambda.runtime import contract
from wp_lambda.runtime.handler import Runtime

DATABASE = "wp_rotation"
DB_ERROR = "Error establishing a database connection"
# Sets the refusal header itself, with a value of the caller's choosing: what a plugin or stored
# content that can write headers could do.
FORGE = "<?php header('" + contract.DB_DENIED_HEADER + ": ' . ($_GET['v'] ?? 'guess')); echo 'forged';\n"
# WordPress loaded, then asked whether the token is where a page that prints the request's
# variables would show it. (php-fpm's getenv() still answers it by name: see rotation.py.)
PEEK = ("<?php require __DIR__ . '/wp-load.php'; header('Content-Type: application/json');"
        " echo json_encode([isset($_SERVER['" + contract.DB_DENIED_TOKEN_PARAM + "']),"
        " isset($_ENV['" + contract.DB_DENIED_TOKEN_PARAM + "'])]);\n")


@pytest.fixture(scope="module")
def aws() -> Iterator[str]:
    """moto's Secrets Manager, reached the way boto3 reaches AWS: the standard variables."""
    with moto_server() as endpoint, pytest.MonkeyPatch.context() as mp:
        for name, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
            mp.setenv(name, value)
        mp.delenv("AWS_PROFILE", raising=False)
        yield endpoint


@pytest.fixture(scope="module")
def rotating(tmp_path_factory: pytest.TempPathFactory, mariadb: MariaDB, debian_wordpress: object,
             aws: str) -> Iterator[tuple[Site, str]]:
    """An installed site whose password is only in the secret (``WORDPRESS_DB_`` + its keys)."""
    site = make_site(tmp_path_factory.mktemp("rotation"), mariadb, DATABASE)
    (site.root / "wplambda-forge.php").write_text(FORGE)
    (site.root / "wplambda-peek.php").write_text(PEEK)
    arn = boto3.client("secretsmanager").create_secret(
        Name="rotation-db", SecretString=json.dumps({"password": site.db_password}))["ARN"]
    site.environ.pop(contract.DB_PASSWORD_ENV)
    site.environ[contract.SECRETS_ENV] = f"{contract.DB_SECRET_PREFIX}={arn}"
    with running(site) as rt:
        reply = Client(rt.handle).post_form("/wp-admin/install.php", install_fields("Rotation Blog"), query="step=2")
        assert reply.status == 200, reply.text[:500]
    yield site, arn


class running:
    """A Runtime on the site for one test (its own re-read schedule), stopped at the end."""

    def __init__(self, site: Site) -> None:
        self.runtime = Runtime(site.environ)

    def __enter__(self) -> Runtime:
        self.runtime.start()
        return self.runtime

    def __exit__(self, *exc: Any) -> None:
        self.runtime.stop()


def rotate(mariadb: MariaDB, arn: str | None) -> str:
    """A new password for the database user, stored in the secret too unless ``arn`` is None."""
    password = secrets.token_urlsafe(16)
    if arn is not None:
        boto3.client("secretsmanager").put_secret_value(SecretId=arn, SecretString=json.dumps({"password": password}))
    mariadb.ensure_database(DATABASE, DATABASE, password)  # ALTER USER: the old password stops working
    return password


def test_a_rotated_password_is_read_again_and_the_visitor_sees_the_page(
        rotating: tuple[Site, str], mariadb: MariaDB, caplog: pytest.LogCaptureFixture) -> None:
    site, arn = rotating
    with running(site) as rt:
        client = Client(rt.handle)
        assert client.get("/").status == 200
        master, workers = rt.fpm.pid, set(rt.fpm.worker_pids())
        rotate(mariadb, arn)
        with caplog.at_level(logging.INFO, logger="wplambda"):
            reply = client.get("/")
        assert reply.status == 200 and "Rotation Blog" in reply.text and DB_ERROR not in reply.text
        assert reply.header(contract.DB_DENIED_HEADER) is None
        # The workers were replaced, with their master: only a new master has the new password.
        assert rt.fpm.pid != master and not workers & set(rt.fpm.worker_pids())
        assert "database refused the password" in caplog.text and "retrying" in caplog.text

        # A POST is retried too: its first run ended at the connection, before WordPress ran.
        client.get("/wp-login.php")
        rotate(mariadb, arn)
        rt.secrets_schedule._throttle.last = None  # the next rotation, long after this one
        login = client.post_form("/wp-login.php", {"log": ADMIN_USER, "pwd": ADMIN_PASSWORD, "wp-submit": "Log In",
                                                   "testcookie": "1"})
        assert login.status == 302, login.text[:300]
        assert any(cookie.startswith("wordpress_logged_in_") for cookie in login.cookies)


def test_a_wrong_password_is_not_read_again_on_every_request(
        rotating: tuple[Site, str], mariadb: MariaDB, caplog: pytest.LogCaptureFixture) -> None:
    site, arn = rotating
    current = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])["password"]
    with running(site) as rt:
        client = Client(rt.handle)
        starts = rt.fpm.starts
        rotate(mariadb, None)  # the database changes, the secret does not
        try:
            with caplog.at_level(logging.INFO, logger="wplambda"):
                replies = [client.get("/") for _ in range(3)]
            for reply in replies:
                assert reply.status == 500 and DB_ERROR in reply.text
                assert reply.header(contract.DB_DENIED_HEADER) is None
            # One read for the three refusals (the throttle), nothing changed, so no restart.
            assert caplog.text.count("secrets re-read") == 1 and "unchanged" in caplog.text
            assert rt.fpm.starts == starts
        finally:
            mariadb.ensure_database(DATABASE, DATABASE, current)
        assert client.get("/").status == 200


def test_a_forged_signal_is_stripped_and_changes_nothing(rotating: tuple[Site, str],
                                                          caplog: pytest.LogCaptureFixture) -> None:
    site, _ = rotating
    with running(site) as rt:
        client = Client(rt.handle)
        starts = rt.fpm.starts
        with caplog.at_level(logging.INFO, logger="wplambda"):
            reply = client.get("/wplambda-forge.php", query="v=0123456789abcdef0123456789abcdef")
        assert reply.status == 200 and reply.text == "forged"
        assert reply.header(contract.DB_DENIED_HEADER) is None
        assert "re-read" not in caplog.text and rt.fpm.starts == starts
        # WordPress, and so every plugin and theme, runs with the token out of $_SERVER and $_ENV.
        assert json.loads(client.get("/wplambda-peek.php").text) == [False, False]
