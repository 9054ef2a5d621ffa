"""One boto3 session per command: profile, region and endpoint resolved once, errors made plain.

Every AWS-facing command (deploy, sync-assets, status, logs, ...) goes through :func:`connect`, so
``--profile``, the ``[aws]`` config section and ``AWS_ENDPOINT_URL`` mean the same thing
everywhere. boto3 (>= 1.34) reads ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>``
itself when a client is created without an explicit ``endpoint_url``; the kit relies on that
instead of threading an endpoint through every call (the tests point the kit at moto this way).
Missing credentials or an unknown profile are user errors (exit 2), reported before any resource
is touched.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from wp_lambda.common.errors import UserError
from wp_lambda.config import Config

if TYPE_CHECKING:
    import boto3

# Error codes that mean "your credentials are the problem", whatever the service.
_CREDENTIAL_CODES = frozenset({
    "ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException",
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "AuthFailure",
})


@dataclass
class Aws:
    """A resolved session plus the facts commands need about it."""

    session: boto3.Session
    region: str
    profile: str | None
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _account: str | None = field(default=None, repr=False)

    @property
    def endpoint_url(self) -> str | None:
        """The global endpoint override (``AWS_ENDPOINT_URL``), e.g. a local moto server."""
        return os.environ.get("AWS_ENDPOINT_URL") or None

    def client(self, service: str, *, max_pool_connections: int = 10) -> Any:
        """A cached client; the pool size matters for parallel uploads.

        S3 clients sign with SigV4 always: botocore would presign with the deprecated SigV2 in some
        regions, which moves ``x-amz-*`` parameters into the query string instead of signing them
        as headers, so what the user of a presigned URL must send would depend on the region.
        https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
        """
        key = f"{service}:{max_pool_connections}"
        if key not in self._clients:
            signing = {"signature_version": "s3v4"} if service == "s3" else {}
            cfg = client_config(max_pool_connections=max_pool_connections,
                                retries={"max_attempts": 8, "mode": "adaptive"}, **signing)
            # The service name is a runtime string, so boto3's per-service overloads cannot match it.
            self._clients[key] = self.session.client(service, region_name=self.region,  # type: ignore[call-overload]
                                                     config=cfg)
        return self._clients[key]

    def account_id(self) -> str:
        """The caller's account (one STS call, also proves the credentials work)."""
        if self._account is None:
            with aws_errors():
                self._account = str(self.client("sts").get_caller_identity()["Account"])
        return self._account

    def owned(self, bucket: str) -> dict[str, str]:
        """``Bucket`` and ``ExpectedBucketOwner`` (this account) for a call on a bucket the kit must own.

        S3 answers 403 Access Denied when the bucket belongs to another account, so a bucket of the
        same name created first by someone else never receives the kit's zips, records or dumps
        (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html).
        """
        return {"Bucket": bucket, "ExpectedBucketOwner": self.account_id()}


def client_config(**options: Any) -> Any:
    """A ``botocore.config.Config``, imported only when a client is made.

    boto3 and ``botocore.config`` take about a fifth of a second to import, and every command
    imports this module, including the ones that never talk to AWS (``wp --local``, ``serve``).
    """
    import botocore.config

    return botocore.config.Config(**options)


def connect(config: Config, *, profile: str | None = None) -> Aws:
    """Resolve the session for ``config``; raise :class:`UserError` when it cannot work.

    The region is always ``aws.region`` of ``wplambda.toml`` (no ``--region``, no
    ``AWS_REGION``): the rendered template is made for it (its Bref layer ARNs are per region), so
    any other region would deploy, or look for, a stack that cannot be this project's.
    """
    profile = profile or config.aws.profile or None
    import boto3

    try:
        session = boto3.Session(profile_name=profile, region_name=config.aws.region)
    except botocore.exceptions.ProfileNotFound:
        raise UserError(f"AWS profile {profile!r} is not in ~/.aws/config or ~/.aws/credentials",
                        "run `aws configure --profile NAME`, or fix aws.profile / --profile") from None
    if session.get_credentials() is None:
        raise UserError(
            "no AWS credentials found (checked --profile, aws.profile, the environment, ~/.aws and "
            "instance roles)",
            "run `aws configure`, set AWS_PROFILE, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        )
    return Aws(session=session, region=config.aws.region, profile=profile)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError ('' for anything else)."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


@contextlib.contextmanager
def aws_errors() -> Iterator[None]:
    """Turn credential and connection failures into one actionable message (exit 2)."""
    try:
        yield
    except botocore.exceptions.NoCredentialsError:
        raise UserError("no AWS credentials found",
                        "run `aws configure`, set AWS_PROFILE, or export AWS_ACCESS_KEY_ID") from None
    except botocore.exceptions.EndpointConnectionError as exc:
        raise UserError(f"cannot reach AWS: {exc}",
                        "check the network, aws.region, and AWS_ENDPOINT_URL if you set it") from None
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in _CREDENTIAL_CODES:
            raise UserError(f"AWS rejected the credentials: {exc}",
                            "refresh them (e.g. `aws sso login`) or pick another --profile") from None
        raise
