"""Recording the S3 requests boto3 sends, with the expected-owner header each carried.

moto accepts ``ExpectedBucketOwner`` and ignores it, so the tests that prove the kit names the
owner on every call read it where botocore puts it: the request's headers, just before sending.
"""

from __future__ import annotations

from typing import Any

from wp_lambda.runtime.contract import EXPECTED_BUCKET_OWNER_HEADER


class S3Recorder:
    """Every S3 request as sent: (operation, bucket, the owner header), from botocore's own events."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, str | None]] = []

    def register(self, events: Any) -> None:
        """Hook a session's or a client's events (a client copies its session's when it is made)."""
        events.register("before-parameter-build.s3", self._bucket)
        events.register("before-call.s3", self._request)

    @staticmethod
    def _bucket(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["recorded_bucket"] = params.get("Bucket")

    def _request(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        headers = {k.lower(): v for k, v in params["headers"].items()}
        self.calls.append((model.name, context.get("recorded_bucket"), headers.get(EXPECTED_BUCKET_OWNER_HEADER)))

    def on(self, bucket: str) -> list[tuple[str, str | None]]:
        """(operation, owner header) of each request on ``bucket``."""
        return [(name, owner) for name, found, owner in self.calls if found == bucket]
