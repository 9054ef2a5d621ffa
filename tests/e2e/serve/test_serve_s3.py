"""`wplambda serve --s3-endpoint`: uploads in a bucket of an S3-compatible endpoint (moto's server).

The real S3 Uploads 3.0.12 and the AWS SDK for PHP come from ../shared/composer/artifacts (an
offline Composer repository; Packagist is out of reach): a media upload through WordPress lands
in moto's bucket. The other tests use a Composer package standing in for S3 Uploads that only
reports, from inside WordPress, what it was given (constants, client parameters, credentials),
which the real plugin does not show; everything around it (moto's S3, WordPress, php-fpm, the
build with Composer, the gateway reading the bucket, every error path) runs for real.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.helpers import real_s3_uploads_repositories, real_wp_cli, run_wplambda
from tests.support.ports import free_port
from tests.support.serve import ADMIN_PASSWORD, Served, fetch, init_site, login, serving
from tests.support.serve import s3_client as s3
from tests.support.wp_cli import set_key, wp
from wp_lambda.local.processes import find_processes

BUCKET = "e2e-media"
# A 1x1 PNG, so the real upload test can check bytes end to end.
PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
                         "AAAABJRU5ErkJggg==")
# The stand-in reports the S3 Uploads constants, the client parameters after the kit's filter,
# and whether the credentials reached PHP (never their values) in a response header.
STAND_IN = r"""<?php
/* Plugin Name: S3 Uploads (test stand-in: reports what it was given) */
add_action('send_headers', static function (): void {
    header('X-Test-S3-Uploads: ' . json_encode([
        'bucket' => S3_UPLOADS_BUCKET,
        'region' => S3_UPLOADS_REGION,
        'params' => apply_filters('s3_uploads_s3_client_params', ['version' => 'latest']),
        'key' => getenv('AWS_ACCESS_KEY_ID') === 'serve-test-key',
        'secret' => strlen((string) getenv('AWS_SECRET_ACCESS_KEY')) > 0,
        'local_uploads_dir' => getenv('WPLAMBDA_UPLOADS_DIR'),
    ]));
});
"""


@pytest.fixture(scope="module")
def stand_in_repositories(tmp_path_factory: pytest.TempPathFactory) -> str:
    """WPLAMBDA_COMPOSER_REPOSITORIES holding only the stand-in (Packagist off: offline)."""
    # Kept beside the real S3 Uploads: only a stand-in can report what WordPress handed the plugin.
    package = tmp_path_factory.mktemp("composer") / "s3-uploads"
    package.mkdir()
    (package / "composer.json").write_text(json.dumps(
        {"name": "humanmade/s3-uploads", "version": "3.0.99", "type": "wordpress-plugin"}))
    (package / "s3-uploads.php").write_text(STAND_IN)
    return json.dumps([{"type": "path", "url": str(package)}, {"packagist.org": False}])


@pytest.fixture(scope="module")
def s3_site(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: tuple[str, str], stand_in_repositories: str,
            debian_wordpress: Path) -> Iterator[Served]:
    endpoint, _ = s3_endpoint
    project = init_site(tmp_path_factory.mktemp("s3") / "site", "s3site")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WPLAMBDA_COMPOSER_REPOSITORIES", stand_in_repositories)
        with serving(project, "--install", "--admin-password", ADMIN_PASSWORD, "--workers", "1",
                     "--s3-endpoint", endpoint, "--s3-bucket", BUCKET) as server:
            yield server


def test_the_bucket_is_created_and_announced(s3_site: Served, s3_endpoint: tuple[str, str]) -> None:
    endpoint, _ = s3_endpoint
    s3(endpoint).head_bucket(Bucket=BUCKET)  # raises when serve did not create it
    assert f"uploads: bucket {BUCKET} on {endpoint} (created now)" in "".join(s3_site.output)
    function = s3_site.project / ".wplambda" / "build-serve" / "function"
    assert (function / "vendor" / "humanmade" / "s3-uploads" / "s3-uploads.php").is_file()


def test_wordpress_gets_bucket_endpoint_and_credentials(s3_site: Served, s3_endpoint: tuple[str, str]) -> None:
    endpoint, _ = s3_endpoint
    status, headers, _ = fetch(f"{s3_site.url}/")
    assert status == 200
    given = json.loads(headers["x-test-s3-uploads"])
    assert given["bucket"] == f"{BUCKET}/wp-content"  # keys under wp-content/uploads/, as deployed
    assert given["region"] == "us-east-1"
    assert given["params"] == {"version": "latest", "endpoint": endpoint, "use_path_style_endpoint": True}
    assert given["key"] and given["secret"]
    assert given["local_uploads_dir"] is False  # the local-disk uploads are off


def test_gateway_reads_uploads_from_the_bucket(s3_site: Served, s3_endpoint: tuple[str, str]) -> None:
    endpoint, _ = s3_endpoint
    client = s3(endpoint)
    key = "wp-content/uploads/2026/11/from-bucket.png"
    client.put_object(Bucket=BUCKET, Key=key, Body=PIXEL, ContentType="image/png",
                      CacheControl="public, max-age=31536000")
    status, headers, body = fetch(f"{s3_site.url}/{key}")
    assert status == 200 and body == PIXEL
    assert headers["content-type"] == "image/png"
    assert headers["cache-control"] == "public, max-age=31536000"
    assert headers["last-modified"].endswith("GMT")
    status, _, body = fetch(f"{s3_site.url}/{key}", headers={"If-None-Match": headers["etag"]})
    assert status == 304 and body == b""
    status, head_headers, body = fetch(f"{s3_site.url}/{key}", method="HEAD")
    assert status == 200 and body == b"" and head_headers["content-length"] == str(len(PIXEL))
    assert fetch(f"{s3_site.url}/wp-content/uploads/2026/11/missing.png")[0] == 404
    # The bucket is the origin now: a file in the local uploads directory is not served.
    local = s3_site.project / ".wplambda" / "local" / "uploads" / "2026" / "11"
    local.mkdir(parents=True, exist_ok=True)
    (local / "only-local.png").write_bytes(PIXEL)
    assert fetch(f"{s3_site.url}/wp-content/uploads/2026/11/only-local.png")[0] == 404


def test_gateway_refuses_keys_outside_the_uploads_prefix(s3_site: Served, s3_endpoint: tuple[str, str]) -> None:
    endpoint, _ = s3_endpoint
    # S3 keys are literal: an object may even be named with dot segments. The gateway must refuse
    # such paths before asking the bucket, as the runtime refuses them for files.
    for key in ("private.txt", "wp-content/uploads/../../private.txt"):
        s3(endpoint).put_object(Bucket=BUCKET, Key=key, Body=b"not an upload")
    for path in ("/wp-content/uploads/%2e%2e/%2e%2e/private.txt", "/wp-content/uploads/../../private.txt",
                 "/wp-content/uploads/..%252f..%252fprivate.txt"):
        status, _, body = fetch(f"{s3_site.url}{path}")
        assert status == 404 and b"not an upload" not in body, path


def test_credentials_stay_out_of_output_logs_and_build(s3_site: Served, s3_endpoint: tuple[str, str]) -> None:
    _, secret = s3_endpoint
    fetch(f"{s3_site.url}/")
    assert secret not in "".join(s3_site.output)
    for root in (s3_site.project / ".wplambda" / "local", s3_site.project / ".wplambda" / "build-serve"):
        for file in root.rglob("*"):
            if file.is_file() and not file.is_relative_to(root / "db"):
                assert secret.encode() not in file.read_bytes(), file


def test_a_bucket_that_vanished_is_a_502_not_a_hang(s3_site: Served, s3_endpoint: tuple[str, str]) -> None:
    """Runs after the tests above, which need the bucket."""
    endpoint, _ = s3_endpoint
    client = s3(endpoint)
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)
    # Without a Content-Length the client would wait on the kept-alive connection until fetch's timeout.
    status, headers, body = fetch(f"{s3_site.url}/wp-content/uploads/2026/11/from-bucket.png")
    assert status == 502 and b"NoSuchBucket" in body
    assert headers["content-length"] == str(len(body))


def _no_process_left(project: Path) -> None:
    state = project / ".wplambda" / "local"
    assert find_processes(str(state), f"WPLAMBDA_SERVE_STATE={state}") == []
    assert not list(state.glob("run/*.pid"))


def test_an_endpoint_that_is_not_a_url_exits_2_before_building(tmp_path: Path, debian_wordpress: Path) -> None:
    project = init_site(tmp_path / "site", "badurl")
    result = run_wplambda("serve", "--project", str(project), "--port", str(free_port()),
                          "--s3-endpoint", "localhost:9000")
    assert result.returncode == 2, result.stderr
    assert "--s3-endpoint 'localhost:9000'" in result.stderr and "http://localhost:9000" in result.stderr
    assert not (project / ".wplambda" / "build-serve").exists()


def test_without_a_source_of_s3_uploads_it_exits_2(tmp_path: Path, s3_endpoint: tuple[str, str],
                                                   debian_wordpress: Path) -> None:
    endpoint, _ = s3_endpoint
    project = init_site(tmp_path / "site", "nosource")
    result = run_wplambda("serve", "--project", str(project), "--port", str(free_port()), "--s3-endpoint", endpoint,
                          env={"WPLAMBDA_COMPOSER_REPOSITORIES": json.dumps([{"packagist.org": False}])})
    assert result.returncode == 2, result.stderr
    assert "humanmade/s3-uploads" in result.stderr and "WPLAMBDA_COMPOSER_REPOSITORIES" in result.stderr
    _no_process_left(project)


def test_an_unreachable_endpoint_exits_2_and_starts_nothing(tmp_path: Path, s3_endpoint: tuple[str, str],
                                                            stand_in_repositories: str,
                                                            debian_wordpress: Path) -> None:
    project = init_site(tmp_path / "site", "unreachable")
    closed = f"http://localhost:{free_port()}"
    result = run_wplambda("serve", "--project", str(project), "--port", str(free_port()), "--s3-endpoint", closed,
                          env={"WPLAMBDA_COMPOSER_REPOSITORIES": stand_in_repositories})
    assert result.returncode == 2, result.stderr
    assert f"cannot reach the S3 endpoint {closed}" in result.stderr
    assert not (project / ".wplambda" / "local" / "db").exists()  # MariaDB was never started
    _no_process_left(project)


def test_an_unknown_profile_exits_2_naming_it(tmp_path: Path, s3_endpoint: tuple[str, str],
                                              stand_in_repositories: str, debian_wordpress: Path) -> None:
    endpoint, _ = s3_endpoint
    project = init_site(tmp_path / "site", "profile")
    result = run_wplambda("serve", "--project", str(project), "--port", str(free_port()), "--s3-endpoint", endpoint,
                          "--profile", "no-such-profile",
                          env={"WPLAMBDA_COMPOSER_REPOSITORIES": stand_in_repositories})
    assert result.returncode == 2, result.stderr
    assert "'no-such-profile'" in result.stderr and "aws configure --profile" in result.stderr
    _no_process_left(project)


def test_a_media_upload_lands_in_the_bucket_through_real_s3_uploads(
        tmp_path: Path, s3_endpoint: tuple[str, str], debian_wordpress: Path) -> None:
    endpoint, _ = s3_endpoint
    repositories = real_s3_uploads_repositories()
    project = init_site(tmp_path / "site", "reals3")
    set_key(project, "build", "wp_cli", f'"{real_wp_cli()}"')  # for the console run below
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WPLAMBDA_COMPOSER_REPOSITORIES", repositories)
        with serving(project, "--install", "--admin-password", ADMIN_PASSWORD, "--workers", "1",
                     "--s3-endpoint", endpoint, "--s3-bucket", "real-media") as served:
            manifest = json.loads((project / ".wplambda" / "build-serve" / "build.json").read_text())
            installed = {p["name"]: p["version"] for p in manifest["inputs"]["s3_uploads"]["packages"]}
            assert installed["humanmade/s3-uploads"] == "3.0.12" and "aws/aws-sdk-php" in installed
            opener = login(served)
            _, _, nonce = fetch(f"{served.url}/wp-admin/admin-ajax.php?action=rest-nonce", opener=opener)
            name = f"pixel-{time.time_ns()}.png"
            status, _, created = fetch(
                f"{served.url}/?rest_route=/wp/v2/media", data=PIXEL, opener=opener,
                headers={"Content-Type": "image/png", "Content-Disposition": f'attachment; filename="{name}"',
                         "X-WP-Nonce": nonce.decode()})
            assert status == 201, created[:500]
            url = json.loads(created)["source_url"]
            match = re.fullmatch(rf"{re.escape(served.url)}/(wp-content/uploads/\d{{4}}/\d{{2}}/{name})", url)
            assert match, url
            stored = s3(endpoint).get_object(Bucket="real-media", Key=match.group(1))
            assert stored["Body"].read() == PIXEL
            status, headers, body = fetch(url)
            assert status == 200 and body == PIXEL and headers["content-type"] == "image/png"
            assert not list((project / ".wplambda" / "local" / "uploads").rglob(name))
            # Issue 23, item 4: a console run has no Host, yet what it writes links to the site,
            # not to https://BUCKET.s3.amazonaws.com/ (a private bucket answers that 403).
            source = tmp_path / f"imported-{time.time_ns()}.png"
            source.write_bytes(PIXEL)
            imported = wp(project, "media", "import", str(source), "--porcelain")
            assert imported.returncode == 0, imported.stderr
            attachment = imported.stdout.strip()
            guid = wp(project, "post", "get", attachment, "--field=guid").stdout.strip()
            linked = wp(project, "eval", f"echo wp_get_attachment_url({attachment});").stdout.strip()
            assert guid == linked, (guid, linked)
            match = re.fullmatch(rf"{re.escape(served.url)}/(wp-content/uploads/\d{{4}}/\d{{2}}/{source.name})", guid)
            assert match, guid
            assert s3(endpoint).get_object(Bucket="real-media", Key=match.group(1))["Body"].read() == PIXEL
            status, _, body = fetch(guid)
            assert status == 200 and body == PIXEL
