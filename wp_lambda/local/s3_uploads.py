"""``serve --s3-endpoint``: uploads in a bucket of an S3-compatible endpoint, as when deployed.

Deployed, S3 Uploads writes under ``wp-content/uploads/`` in a private bucket with the function
role's credentials, and CloudFront reads the objects back with signed requests (Origin Access
Control). Locally the same holds: the handler gets the bucket, the endpoint and the resolved
credentials in its environment (Lambda gives a function its role's credentials the same way),
and the gateway reads objects with signed requests, so a bucket that refuses anonymous reads
(MinIO's default, or real S3) works as it does behind CloudFront.
"""

from __future__ import annotations

import email.utils
import urllib.parse
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from wp_lambda import aws as aws_mod
from wp_lambda.aws import error_code
from wp_lambda.common.errors import UserError
from wp_lambda.config import Config
from wp_lambda.local import ranges
from wp_lambda.local.gateway import Response, plain_response, unsatisfiable
from wp_lambda.runtime import routing

# S3_UPLOADS_BUCKET is "<bucket>/wp-content": S3 Uploads maps WP_CONTENT_DIR to it, so uploads
# land under the same keys as their URL paths (docs/internals.md, "Buckets and keys").
KEY_PREFIX = "wp-content"
# What the gateway passes on from the object, as CloudFront passes on S3's headers.
_PASSED_HEADERS = ("ContentType", "CacheControl", "ETag", "ContentLength")
_HEADER_NAMES = {"ContentType": "Content-Type", "CacheControl": "Cache-Control", "ETag": "ETag",
                 "ContentLength": "Content-Length"}


def check_endpoint(url: str) -> str:
    """The endpoint URL without a trailing slash, or a UserError naming the option."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.path not in ("", "/") \
            or parsed.query:
        raise UserError(f"--s3-endpoint {url!r} is not the base URL of an S3-compatible endpoint",
                        "give scheme, host and port only, e.g. --s3-endpoint http://localhost:9000")
    return url.rstrip("/")


def default_bucket(config: Config) -> str:
    """``<site>-uploads``: S3 bucket names are lower-case, 3-63 characters."""
    return f"{config.site.name.lower()}-uploads"[:63]


@dataclass
class UploadsBucket:
    """One bucket on one endpoint, with the client and credentials resolved once per run."""

    endpoint: str
    name: str
    region: str
    client: Any
    credentials: dict[str, str]
    created: bool = False  # by this run's ensure()

    @classmethod
    def connect(cls, config: Config, endpoint: str, name: str, *, profile: str | None = None) -> UploadsBucket:
        """Resolve credentials by the standard chain (``--profile``, ``aws.profile``, the
        environment, ~/.aws) and make a path-style client: a local endpoint has no per-bucket
        host names."""
        endpoint = check_endpoint(endpoint)
        aws = aws_mod.connect(config, profile=profile)
        found = aws.session.get_credentials()
        frozen = found.get_frozen_credentials() if found is not None else None
        if frozen is None or not frozen.access_key or not frozen.secret_key:
            raise UserError(f"no AWS credentials to sign requests to the uploads endpoint {endpoint}",
                            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass --profile "
                            "(any values do for a local S3 such as moto)")
        credentials = {"AWS_ACCESS_KEY_ID": frozen.access_key, "AWS_SECRET_ACCESS_KEY": frozen.secret_key}
        if frozen.token:
            credentials["AWS_SESSION_TOKEN"] = frozen.token
        client = aws.session.client("s3", endpoint_url=endpoint, region_name=aws.region, config=aws_mod.client_config(
            s3={"addressing_style": "path"}, connect_timeout=5, read_timeout=60,
            retries={"max_attempts": 2, "mode": "standard"}, max_pool_connections=32))
        return cls(endpoint, name, aws.region, client, credentials)

    def ensure(self) -> None:
        """Create the bucket when it does not exist."""
        try:
            self.client.head_bucket(Bucket=self.name)
            return
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise self._refused(exc) from None
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError) as exc:
            raise UserError(f"cannot reach the S3 endpoint {self.endpoint}: {exc}",
                            "start the S3-compatible server first, or fix --s3-endpoint") from None
        params: dict[str, Any] = {"Bucket": self.name}
        if self.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self.client.create_bucket(**params)
        except botocore.exceptions.ClientError as exc:
            raise self._refused(exc) from None
        self.created = True

    def _refused(self, exc: botocore.exceptions.ClientError) -> UserError:
        return UserError(f"the S3 endpoint {self.endpoint} refused bucket {self.name!r}: {exc}",
                         "check the credentials (--profile, AWS_ACCESS_KEY_ID) or pick another --s3-bucket")

    def handler_env(self) -> dict[str, str]:
        """What wp-config.php reads to turn S3 Uploads on, plus the credentials it signs with.

        S3_UPLOADS_BUCKET_URL is left to wp-config.php's default (the site's own
        ``/wp-content``), so upload URLs point at the gateway, as they point at CloudFront.
        """
        return {"S3_UPLOADS_BUCKET": f"{self.name}/{KEY_PREFIX}", "S3_UPLOADS_ENDPOINT": self.endpoint,
                "S3_UPLOADS_REGION": self.region, **self.credentials}

    def fetch(self, key: str, request_headers: dict[str, str], *, head: bool) -> Response:
        """The object at ``key`` (a URL path without its leading slash), as CloudFront would
        answer it: the object's own headers, 304 for a matching ETag, 404 for a missing key."""
        decoded = urllib.parse.unquote(key)
        if routing.unsafe("/" + key) or not decoded.startswith(f"{KEY_PREFIX}/"):
            return plain_response(404, "Not Found", head)
        params: dict[str, Any] = {"Bucket": self.name, "Key": decoded}
        if request_headers.get("if-none-match"):
            params["IfNoneMatch"] = request_headers["if-none-match"]
        # One range goes to S3 as asked; several are dropped here, as S3 itself ignores them.
        byte_range = ranges.single_range(request_headers.get("range"))
        if byte_range:
            params["Range"] = byte_range
        try:
            answer = (self.client.head_object if head else self.client.get_object)(**params)
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code in ("304", "NotModified"):
                return 304, [("ETag", params["IfNoneMatch"])], b""
            if code in ("404", "NoSuchKey", "NotFound"):
                return plain_response(404, "Not Found", head)
            if code in ("416", "InvalidRange"):
                return unsatisfiable(self.client.head_object(Bucket=self.name, Key=decoded)["ContentLength"], head)
            return plain_response(502, f"uploads bucket: {code}", head)
        except botocore.exceptions.BotoCoreError as exc:
            return plain_response(502, f"uploads bucket: {exc}", head)
        headers = [(_HEADER_NAMES[field], str(answer[field])) for field in _PASSED_HEADERS if answer.get(field)]
        if answer.get("LastModified"):
            headers.append(("Last-Modified", email.utils.formatdate(answer["LastModified"].timestamp(), usegmt=True)))
        headers.append(("Accept-Ranges", "bytes"))
        status = answer["ResponseMetadata"]["HTTPStatusCode"]
        if status == 206:
            headers.append(("Content-Range", answer["ContentRange"]))
        body = b"" if head else answer["Body"].read()
        return status, headers, body

    def allow_browser_uploads(self, origins: list[str]) -> None:
        """The bucket's CORS rule for the site's pages: the browser POSTs big files here with a
        presigned policy (wplambda-direct-uploads.php), as deployed. Only these origins, only POST."""
        self.client.put_bucket_cors(Bucket=self.name, CORSConfiguration={"CORSRules": [cors_rule(origins)]})


def cors_rule(origins: list[str]) -> dict[str, Any]:
    """The one CORS rule the uploads bucket needs; the template renders the same rule."""
    return {"ID": "DirectUploads", "AllowedMethods": ["POST"], "AllowedOrigins": origins,
            "AllowedHeaders": ["*"], "MaxAgeSeconds": 3000}
