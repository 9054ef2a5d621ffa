"""`wplambda serve` with `database.mode = "external"`: no private MariaDB, and the password comes
from Secrets Manager (moto's server) through the handler's own cold-start secret loading."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import tomlkit

from tests.support.helpers import moto_server
from tests.support.serve import ADMIN_PASSWORD, Served, descendants, fetch, init_site, serving, title_of
from wp_lambda.local.mariadb import MariaDB
from wp_lambda.runtime import contract

DB_NAME = "external_wp"
DB_USER = "external_user"


@pytest.fixture(scope="module")
def aws_secret(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A database password in moto's Secrets Manager, with the environment pointing boto3 there."""
    home = tmp_path_factory.mktemp("aws-home")
    password = secrets.token_urlsafe(20)
    with moto_server() as endpoint, pytest.MonkeyPatch.context() as mp:
        for key, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                           "AWS_CONFIG_FILE": str(home / "config"),
                           "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials")}.items():
            mp.setenv(key, value)
        mp.delenv("AWS_PROFILE", raising=False)
        arn = boto3.client("secretsmanager").create_secret(
            Name="external-db", SecretString=json.dumps({"password": password}))["ARN"]
        yield arn, password


@pytest.fixture(scope="module")
def external_site(tmp_path_factory: pytest.TempPathFactory, mariadb: MariaDB, aws_secret: tuple[str, str],
                  debian_wordpress: Path) -> Iterator[Served]:
    arn, password = aws_secret
    mariadb.ensure_database(DB_NAME, DB_USER, password)
    project = init_site(tmp_path_factory.mktemp("external") / "site", "external", "--network", "public",
                        "--database", "external", "--db-host", mariadb.wordpress_host, "--db-user", DB_USER,
                        "--db-secret-arn", arn)
    config = project / "wplambda.toml"
    doc = tomlkit.parse(config.read_text())
    doc["database"]["name"] = DB_NAME  # type: ignore[index]
    config.write_text(tomlkit.dumps(doc))
    with serving(project, "--install", "--admin-password", ADMIN_PASSWORD, "--workers", "1") as server:
        yield server


def test_serve_installs_into_the_external_database(external_site: Served, mariadb: MariaDB) -> None:
    output = "".join(external_site.output)
    assert "using the external database" in output
    assert not (external_site.project / ".wplambda" / "local" / "db").exists()  # no private MariaDB
    assert mariadb.sql("SELECT option_value FROM wp_options WHERE option_name = 'blogname'",
                       database=DB_NAME).strip() == "My Blog"
    status, _, body = fetch(f"{external_site.url}/")
    assert status == 200 and "My Blog" in title_of(body)


def test_the_secret_never_passes_through_serve(external_site: Served, aws_secret: tuple[str, str]) -> None:
    _, password = aws_secret
    local = external_site.project / ".wplambda" / "local"
    assert password not in "".join(external_site.output)
    assert password not in (local / "secrets.json").read_text()
    for log in local.joinpath("logs").rglob("*.log"):
        assert password.encode() not in log.read_bytes(), log


def php_fpm_pids(served: Served) -> set[int]:
    """serve's php-fpm processes, master and workers (the console function runs none)."""
    found = set()
    for pid in descendants(served.process.pid):
        try:
            if Path(f"/proc/{pid}/comm").read_text().startswith("php-fpm"):
                found.add(pid)
        except OSError:
            continue
    return found


def test_a_rotated_password_is_picked_up_without_an_error_page(external_site: Served, mariadb: MariaDB,
                                                               aws_secret: tuple[str, str]) -> None:
    """The secret rotates in Secrets Manager (moto) and the database user's password changes under
    the running serve: the next visitor still gets the page, from php-fpm processes started with
    the new password (wp_lambda/runtime/rotation.py)."""
    arn, _ = aws_secret
    assert fetch(f"{external_site.url}/")[0] == 200
    before = php_fpm_pids(external_site)
    assert before
    rotated = secrets.token_urlsafe(20)
    boto3.client("secretsmanager").put_secret_value(SecretId=arn, SecretString=json.dumps({"password": rotated}))
    mariadb.ensure_database(DB_NAME, DB_USER, rotated)  # ALTER USER: the old password is refused from now on
    # A page not in serve's page cache yet (the home page is, from the request above): it reaches WordPress.
    status, headers, body = fetch(f"{external_site.url}/?after-rotation")
    assert status == 200 and "My Blog" in title_of(body)
    assert b"Error establishing a database connection" not in body
    assert contract.DB_DENIED_HEADER.lower() not in headers
    after = php_fpm_pids(external_site)
    assert after and not before & after  # every php-fpm process, workers included, was replaced
    handler_log = (external_site.project / ".wplambda" / "local" / "logs" / "handler.log").read_text()
    assert "database refused the password" in handler_log and "retrying" in handler_log
    assert rotated not in handler_log and rotated not in "".join(external_site.output)
