"""Direct uploads to the bucket, over HTTP: the presign and complete routes of the kit's mu-plugin.

Everything is real: `wplambda serve --s3-endpoint` against moto's S3 server, the real S3 Uploads
3.0.12 and AWS SDK from ../shared/composer/artifacts signing the POST policy, WordPress's own
users, capabilities and REST nonces.

moto 5.2.5 does not check POST policies: its form-upload handler writes whatever key the form
names, without looking at the policy or its signature. So the policy is checked here twice: its
conditions are decoded and its SigV4 signature is recomputed with the test's secret key (what S3
does before accepting a POST), and the server-side refusal at "complete" is tested on its own.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import re
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import png
from tests.support.helpers import real_s3_uploads_repositories
from tests.support.serve import (
    ADMIN_PASSWORD,
    Served,
    fetch,
    init_site,
    jpeg,
    jpeg_dimensions,
    login,
    s3_client,
    serving,
)

BUCKET = "direct-media"
MB = 1024 * 1024
MAX_SIZE_MB = 30  # uploads.max_size of the test site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: tuple[str, str],
         debian_wordpress: Path) -> Iterator[Served]:
    endpoint, _ = s3_endpoint
    project = init_site(tmp_path_factory.mktemp("direct") / "site", "direct")
    config = project / "wplambda.toml"
    config.write_text(config.read_text().replace("max_size = 512", f"max_size = {MAX_SIZE_MB}"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WPLAMBDA_COMPOSER_REPOSITORIES", real_s3_uploads_repositories())
        with serving(project, "--install", "--admin-password", ADMIN_PASSWORD, "--workers", "1",
                     "--s3-endpoint", endpoint, "--s3-bucket", BUCKET) as server:
            yield server


def rest_nonce(site: Served, opener: urllib.request.OpenerDirector) -> str:
    status, _, nonce = fetch(f"{site.url}/wp-admin/admin-ajax.php?action=rest-nonce", opener=opener)
    assert status == 200
    return nonce.decode()


class Session:
    """A logged-in user and their REST nonce."""

    def __init__(self, site: Served, user: str = "admin", password: str = ADMIN_PASSWORD) -> None:
        self.site = site
        self.opener = login(site, user, password)
        self.nonce = rest_nonce(site, self.opener)

    def post(self, route: str, payload: dict[str, Any], nonce: str | None = None) -> tuple[int, dict[str, Any]]:
        status, _, body = fetch(f"{self.site.url}/?rest_route={route}", data=json.dumps(payload).encode(),
                                opener=self.opener, headers={"Content-Type": "application/json",
                                                             "X-WP-Nonce": nonce or self.nonce})
        return status, json.loads(body)


@pytest.fixture(scope="module")
def admin(site: Served) -> Session:
    return Session(site)


def make_user(admin: Session, role: str) -> Session:
    name = f"{role}{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4().hex}"
    status, created = admin.post("/wp/v2/users", {"username": name, "email": f"{name}@example.com",
                                                  "password": password, "roles": [role]})
    assert status == 201, created
    return Session(admin.site, name, password)


def presign(session: Session, filename: str, type_: str, size: int, **kwargs: str) -> tuple[int, dict[str, Any]]:
    return session.post("/wplambda/v1/uploads", {"filename": filename, "type": type_, "size": size}, **kwargs)


def post_form(target: dict[str, Any], content: bytes, **overrides: str) -> int:
    """The browser's form POST to the bucket: the policy's fields, then the file."""
    boundary = uuid.uuid4().hex
    fields = {**target["fields"], **overrides}
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="upload"\r\n'
                 f'Content-Type: {fields["Content-Type"]}\r\n\r\n'.encode() + content + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    status, _, answer = fetch(target["url"], data=body,
                              headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status < 300, answer
    return status


def month_prefix() -> str:
    return time.strftime("wp-content/uploads/%Y/%m/", time.gmtime())


# ---------------------------------------------------------------- who may ask


def test_logged_out_gets_401(site: Served) -> None:
    status, _, body = fetch(f"{site.url}/?rest_route=/wplambda/v1/uploads",
                            data=json.dumps({"filename": "a.pdf", "type": "application/pdf", "size": 10}).encode(),
                            headers={"Content-Type": "application/json"})
    assert status == 401, body
    assert json.loads(body)["code"] == "rest_forbidden"


def test_a_subscriber_without_upload_files_gets_403(admin: Session) -> None:
    subscriber = make_user(admin, "subscriber")
    status, answer = presign(subscriber, "a.pdf", "application/pdf", 10)
    assert status == 403 and answer["code"] == "rest_forbidden"
    status, answer = subscriber.post("/wplambda/v1/uploads/complete", {"key": month_prefix() + "a.pdf"})
    assert status == 403 and answer["code"] == "rest_forbidden"


def test_a_bad_nonce_gets_403(admin: Session) -> None:
    status, answer = presign(admin, "a.pdf", "application/pdf", 10, nonce="0123456789")
    assert status == 403 and answer["code"] == "rest_cookie_invalid_nonce"


# ---------------------------------------------------------------- what may be asked for


@pytest.mark.parametrize("filename", ["../../wp-config.php", "2026/01/a.pdf", "..", "a..pdf", "..\\a.pdf"])
def test_a_name_with_folders_or_dot_dot_is_refused(admin: Session, filename: str) -> None:
    status, answer = presign(admin, filename, "application/pdf", 10)
    assert status == 400 and answer["code"] == "wplambda_bad_filename", answer


def test_a_size_over_uploads_max_size_is_refused(admin: Session) -> None:
    status, answer = presign(admin, "big.pdf", "application/pdf", MAX_SIZE_MB * MB + 1)
    assert status == 413 and answer["code"] == "wplambda_too_big"
    assert f"allows {MAX_SIZE_MB * MB}" in answer["message"]


def test_a_type_wordpress_refuses_or_a_mismatched_type_is_refused(admin: Session) -> None:
    status, answer = presign(admin, "shell.php", "application/x-php", 10)
    assert status == 400 and answer["code"] == "wplambda_bad_type"
    status, answer = presign(admin, "photo.jpg", "text/html", 10)
    assert status == 400 and "must be sent as image/jpeg" in answer["message"]


# ---------------------------------------------------------------- the policy


def _signature(secret: str, date: str, region: str, policy: str) -> str:
    key = f"AWS4{secret}".encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()


def test_the_policy_binds_one_key_type_and_size_and_is_signed(admin: Session, s3_endpoint: tuple[str, str]) -> None:
    endpoint, secret = s3_endpoint
    status, target = presign(admin, "Report 2026.pdf", "application/pdf", 12345)
    assert status == 201, target
    assert target["url"] == f"{endpoint}/{BUCKET}"
    assert re.fullmatch(re.escape(month_prefix()) + r"Report-2026\.pdf", target["key"]), target["key"]
    fields = target["fields"]
    assert fields["key"] == target["key"] and fields["Content-Type"] == "application/pdf"
    policy = json.loads(base64.b64decode(fields["Policy"]))
    conditions = policy["conditions"]
    assert {"bucket": BUCKET} in conditions
    assert ["eq", "$key", target["key"]] in conditions
    assert ["eq", "$Content-Type", "application/pdf"] in conditions
    assert ["content-length-range", 12345, 12345] in conditions
    expires = datetime.datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    lifetime = (expires - datetime.datetime.now(datetime.UTC)).total_seconds()
    assert 0 < lifetime <= 900
    # No condition lets another key through (no starts-with on $key).
    assert not [c for c in conditions if isinstance(c, list) and c[1:2] == ["$key"] and c[0] != "eq"]
    # What S3 checks before it accepts the form: the signature over the policy, with the role's key.
    date, region = fields["X-Amz-Credential"].split("/")[1:3]
    assert fields["X-Amz-Credential"].startswith("serve-test-key/")
    assert fields["X-Amz-Signature"] == _signature(secret, date, region, fields["Policy"])
    assert secret not in json.dumps(target)


# ---------------------------------------------------------------- the whole path, and refusals at complete


def test_presign_upload_complete_makes_an_attachment_with_sizes(admin: Session, s3_endpoint: tuple[str, str],
                                                               tmp_path: Path) -> None:
    endpoint, _ = s3_endpoint
    image = jpeg(tmp_path / "wide.jpg", 1600, 1000).read_bytes()
    status, target = presign(admin, "wide.jpg", "image/jpeg", len(image))
    assert status == 201
    post_form(target, image)
    status, created = admin.post("/wplambda/v1/uploads/complete", {"key": target["key"]})
    assert status == 201, created
    media = created["media"]
    assert media["id"] == created["id"] == created["attachment"]["id"]
    assert media["mime_type"] == "image/jpeg" and media["media_details"]["filesize"] == len(image)
    assert media["source_url"] == f"{admin.site.url}/{target['key']}"
    client = s3_client(endpoint)
    assert client.get_object(Bucket=BUCKET, Key=target["key"])["Body"].read() == image
    folder = target["key"].rsplit("/", 1)[0]
    for size in ("thumbnail", "medium", "large"):
        entry = media["media_details"]["sizes"][size]
        stored = client.get_object(Bucket=BUCKET, Key=f"{folder}/{entry['file']}")["Body"].read()
        assert jpeg_dimensions(stored) == (entry["width"], entry["height"])
        assert entry["width"] < 1600
        status, headers, served = fetch(entry["source_url"])  # through the gateway, from the bucket
        assert status == 200 and served == stored and headers["content-type"] == "image/jpeg"
    # The same key cannot make a second attachment.
    status, again = admin.post("/wplambda/v1/uploads/complete", {"key": target["key"]})
    assert status == 403 and again["code"] == "wplambda_key_not_issued"


def test_a_photo_over_2560_pixels_is_scaled_as_wordpress_scales_uploads(admin: Session,
                                                                       s3_endpoint: tuple[str, str],
                                                                       tmp_path: Path) -> None:
    image = jpeg(tmp_path / "panorama.jpg", 3200, 1800).read_bytes()
    status, target = presign(admin, "panorama.jpg", "image/jpeg", len(image))
    assert status == 201
    post_form(target, image)
    status, created = admin.post("/wplambda/v1/uploads/complete", {"key": target["key"]})
    assert status == 201, created
    media = created["media"]
    scaled_key = target["key"].removesuffix(".jpg") + "-scaled.jpg"
    assert media["source_url"] == f"{admin.site.url}/{scaled_key}"
    assert media["media_details"]["original_image"] == target["key"].rsplit("/", 1)[1]
    client = s3_client(s3_endpoint[0])
    assert jpeg_dimensions(client.get_object(Bucket=BUCKET, Key=scaled_key)["Body"].read()) == (2560, 1440)
    assert client.get_object(Bucket=BUCKET, Key=target["key"])["Body"].read() == image  # the original stays


def test_a_png_through_wordpress_own_path_gets_its_sizes_in_the_bucket(admin: Session,
                                                                     s3_endpoint: tuple[str, str]) -> None:
    """Files under the threshold keep WordPress's upload (S3 Uploads' stream wrapper), sizes too."""
    image = png(1200, 900, (20, 120, 200))
    name = f"diagram-{uuid.uuid4().hex[:8]}.png"
    status, _, body = fetch(f"{admin.site.url}/?rest_route=/wp/v2/media", data=image, opener=admin.opener,
                            headers={"Content-Type": "image/png", "X-WP-Nonce": admin.nonce,
                                     "Content-Disposition": f'attachment; filename="{name}"'})
    assert status == 201, body[:300]
    media = json.loads(body)
    folder = media["source_url"].removeprefix(f"{admin.site.url}/").rsplit("/", 1)[0]
    client = s3_client(s3_endpoint[0])
    for size in ("thumbnail", "medium", "large"):
        entry = media["media_details"]["sizes"][size]
        stored = client.get_object(Bucket=BUCKET, Key=f"{folder}/{entry['file']}")["Body"].read()
        assert stored[:8] == b"\x89PNG\r\n\x1a\n"
        assert (int.from_bytes(stored[16:20], "big"), int.from_bytes(stored[20:24], "big")) == (
            entry["width"], entry["height"])


def test_moto_does_not_enforce_post_policies_so_complete_refuses_keys_it_did_not_issue(
        admin: Session, s3_endpoint: tuple[str, str]) -> None:
    endpoint, _ = s3_endpoint
    content = b"%PDF-1.4\n" + b"x" * 100
    status, target = presign(admin, "issued.pdf", "application/pdf", len(content))
    assert status == 201
    other = month_prefix() + "not-issued.pdf"
    # Real S3 refuses this form (the policy says eq $key); moto stores it, which this documents.
    post_form(target, content, key=other)
    assert s3_client(endpoint).head_object(Bucket=BUCKET, Key=other)["ContentLength"] == len(content)
    for key in (other, "wp-content/plugins/evil.php", month_prefix() + "../../../wp-config.php",
                target["key"] + "/../x.pdf"):
        status, answer = admin.post("/wplambda/v1/uploads/complete", {"key": key})
        assert status == 403 and answer["code"] == "wplambda_key_not_issued", key
    status, _, listing = fetch(f"{admin.site.url}/?rest_route=/wp/v2/media&search=not-issued", opener=admin.opener,
                               headers={"X-WP-Nonce": admin.nonce})
    assert status == 200 and json.loads(listing) == []


def test_a_key_issued_to_another_user_is_refused(admin: Session) -> None:
    author = make_user(admin, "author")
    content = b"%PDF-1.4\n" + b"y" * 50
    status, target = presign(admin, "admins.pdf", "application/pdf", len(content))
    assert status == 201
    post_form(target, content)
    status, answer = author.post("/wplambda/v1/uploads/complete", {"key": target["key"]})
    assert status == 403 and answer["code"] == "wplambda_key_not_issued"
    status, created = admin.post("/wplambda/v1/uploads/complete", {"key": target["key"]})
    assert status == 201 and created["media"]["mime_type"] == "application/pdf"


def test_complete_before_the_upload_is_a_409_and_the_key_stays_usable(admin: Session) -> None:
    content = b"%PDF-1.4\n" + b"z" * 10
    status, target = presign(admin, "later.pdf", "application/pdf", len(content))
    status, answer = admin.post("/wplambda/v1/uploads/complete", {"key": target["key"]})
    assert status == 409 and answer["code"] == "wplambda_not_uploaded"
    post_form(target, content)
    status, created = admin.post("/wplambda/v1/uploads/complete", {"key": target["key"]})
    assert status == 201, created


@pytest.mark.parametrize(("content", "form_type", "code"), [
    (b"<?php echo 'not an image';", "image/jpeg", "wplambda_content_mismatch"),
    (b"\xff\xd8\xff\xe0 pretend", "text/html", "wplambda_bad_type"),
])
def test_an_object_that_is_not_what_was_issued_is_refused_and_deleted(
        admin: Session, s3_endpoint: tuple[str, str], content: bytes, form_type: str, code: str) -> None:
    endpoint, _ = s3_endpoint
    status, target = presign(admin, "photo.jpg", "image/jpeg", len(content))
    assert status == 201
    post_form(target, content, **{"Content-Type": form_type})  # moto takes any Content-Type; S3 would not
    status, answer = admin.post("/wplambda/v1/uploads/complete", {"key": target["key"]})
    assert status == 400 and answer["code"] == code, answer
    listed = s3_client(endpoint).list_objects_v2(Bucket=BUCKET, Prefix=target["key"]).get("KeyCount", 0)
    assert listed == 0


def test_the_bucket_allows_the_sites_origin_only(site: Served, s3_endpoint: tuple[str, str]) -> None:
    endpoint, _ = s3_endpoint
    rules = s3_client(endpoint).get_bucket_cors(Bucket=BUCKET)["CORSRules"]
    assert rules == [{"ID": "DirectUploads", "AllowedMethods": ["POST"], "AllowedHeaders": ["*"],
                      "AllowedOrigins": [site.url, f"http://localhost:{site.port}"], "MaxAgeSeconds": 3000}]
    for origin, allowed in ((site.url, True), ("http://evil.example", False)):
        status, headers, _ = fetch(f"{endpoint}/{BUCKET}", method="OPTIONS", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST"})
        assert (status == 200 and headers.get("access-control-allow-origin") == origin) is allowed, (origin, status)


def test_the_signing_secret_stays_out_of_serve_output_logs_and_build(admin: Session,
                                                                    s3_endpoint: tuple[str, str]) -> None:
    """Runs last: after every presign and complete above, the secret key that signed the policies
    appears in no answer (checked above), no line serve printed, no log and no built file."""
    _, secret = s3_endpoint
    assert presign(admin, "last.pdf", "application/pdf", 10)[0] == 201
    site = admin.site
    assert secret not in "".join(site.output)
    for root in (site.project / ".wplambda" / "local" / "logs", site.project / ".wplambda" / "build-serve"):
        for file in root.rglob("*"):
            if file.is_file():
                assert secret.encode() not in file.read_bytes(), file
