"""Under SnapStart, Lambda hands the function its role's credentials through the container credential
provider (AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN), not through
AWS_ACCESS_KEY_ID and friends: https://docs.aws.amazon.com/lambda/latest/dg/snapstart-activate.html#snapstart-credentials
(the provider itself: https://docs.aws.amazon.com/sdkref/latest/guide/feature-container-credentials.html).

Both SDKs the function runs must read it: boto3 (the runtime's Secrets Manager reads) and the AWS SDK
for PHP that the build installs with S3 Uploads into the function's ``vendor/`` (S3 Uploads gives its
S3 client no key, so the SDK's default chain decides). A small HTTP server on the loopback interface
stands in for Lambda's endpoint and answers only the request carrying the token; the environment
has no key variables, no profile and no instance metadata. The PHP side gets the environment the
runtime gives php-fpm (wp_lambda.runtime.contract.php_environment), so the variables must pass that
filter too. The SDK is the real aws/aws-sdk-php from ../shared/composer/artifacts, installed by the
build's own Composer step (wp_lambda.bundle.composer.install).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import botocore.session
import pytest

from tests.support.helpers import real_s3_uploads_repositories
from wp_lambda.bundle.composer import ENV_REPOSITORIES, install
from wp_lambda.common.report import QuietReporter
from wp_lambda.config import Config
from wp_lambda.runtime import contract

TOKEN = "snapstart-test-token"
CREDENTIALS = {"AccessKeyId": "ASIACONTAINERKEY", "SecretAccessKey": "container-secret",
               "Token": "container-session-token", "Expiration": "2099-01-01T00:00:00Z"}


class _Endpoint(BaseHTTPRequestHandler):
    """Lambda's container credentials endpoint, as the SDKs see it: the JSON for the right token only."""

    seen: ClassVar[list[str | None]] = []  # the Authorization header of each request, in order

    def do_GET(self) -> None:
        type(self).seen.append(self.headers.get("Authorization"))
        if self.headers.get("Authorization") != TOKEN:
            self.send_response(403)
            self.end_headers()
            return
        body = json.dumps(CREDENTIALS).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        return


@pytest.fixture()
def container_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of a SnapStart function: the container URI and token, and nothing else to
    find credentials in."""
    _Endpoint.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    keep = {name: value for name, value in os.environ.items()
            if not name.startswith("AWS_") and name not in ("HOME",)}
    env = {**keep, "HOME": str(tmp_path), "AWS_REGION": "us-east-1",
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
           "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"http://127.0.0.1:{server.server_port}/2021-04-23/credentials",
           "AWS_CONTAINER_AUTHORIZATION_TOKEN": TOKEN}
    try:
        yield env
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def php_sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """vendor/autoload.php of the AWS SDK for PHP as the build installs it with S3 Uploads."""
    root = tmp_path_factory.mktemp("sdk")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(ENV_REPOSITORIES, real_s3_uploads_repositories())
        vendor, manifest = install(Config(root=root), root / "composer", QuietReporter())
    assert "aws/aws-sdk-php" in {p["name"] for p in manifest["packages"]}
    return vendor / "autoload.php"


def test_boto3_reads_the_container_credentials(container_env: dict[str, str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in container_env.items():
        monkeypatch.setenv(name, value)
    credentials = botocore.session.Session().get_credentials()
    assert credentials is not None and credentials.method == "container-role"
    frozen = credentials.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (
        CREDENTIALS["AccessKeyId"], CREDENTIALS["SecretAccessKey"], CREDENTIALS["Token"])
    assert _Endpoint.seen == [TOKEN]


PHP_READ = """
require $argv[1];
$credentials = Aws\\Credentials\\CredentialProvider::defaultProvider()()->wait();
echo json_encode([$credentials->getAccessKeyId(), $credentials->getSecretKey(), $credentials->getSecurityToken()]);
"""


def test_the_php_sdk_in_the_function_reads_them_through_php_fpms_environment(
        container_env: dict[str, str], php_sdk: Path) -> None:
    php_env = contract.php_environment(container_env)
    assert php_env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] == TOKEN  # the runtime passes them on to PHP
    result = subprocess.run(["php", "-r", PHP_READ, str(php_sdk)], env=php_env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == [CREDENTIALS["AccessKeyId"], CREDENTIALS["SecretAccessKey"],
                                         CREDENTIALS["Token"]]
    assert _Endpoint.seen and set(_Endpoint.seen) == {TOKEN}


def test_a_wrong_token_gets_no_credentials(container_env: dict[str, str], php_sdk: Path) -> None:
    """The endpoint stand-in really checks the token: without the right one, PHP's SDK finds nothing."""
    php_env = {**contract.php_environment(container_env), "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong"}
    result = subprocess.run(["php", "-r", PHP_READ, str(php_sdk)], env=php_env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode != 0
    assert "wrong" in _Endpoint.seen
