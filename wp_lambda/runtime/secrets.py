"""Secrets Manager values -> environment variables, once per cold start (docs/internals.md).

``WPLAMBDA_SECRETS`` is ``PREFIX=ARN,PREFIX=ARN``. A secret whose value is a JSON object becomes
``PREFIX + KEY.upper()`` for each key (an Aurora secret gives ``WORDPRESS_DB_HOST`` and friends);
any other value becomes ``PREFIX`` itself. boto3 is imported only here and only when secrets are
configured: the Lambda Python runtime ships it, and local runs need no AWS at all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Literal

from wp_lambda.runtime.contract import SECRETS_ENV


class SecretsError(RuntimeError):
    """A secret could not be read; the message names the variable and ARN, never a value."""


class Throttle:
    """At most one attempt per ``interval`` seconds, for the re-reads a request can trigger.

    A warm instance reads a secret again when a request suggests it changed (the origin secret,
    wp_lambda/runtime/origin.py; the database's, wp_lambda/runtime/rotation.py). Requests are the
    trigger, so without a limit a stream of them would be a stream of Secrets Manager calls: money,
    the account's request quota, and then throttled reads failing real requests too. A failed read
    counts as an attempt for the same reason.
    """

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.last: float | None = None

    def allow(self) -> bool:
        """Whether an attempt may happen now; if so, it is counted from now."""
        now = self.clock()
        if self.last is not None and now - self.last < self.interval:
            return False
        self.last = now
        return True


def parse_spec(spec: str) -> list[tuple[str, str]]:
    """``PREFIX=ARN`` pairs from the variable's value, in order."""
    pairs = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        prefix, sep, arn = item.partition("=")
        if not sep or not prefix or not arn:
            raise SecretsError(f"{SECRETS_ENV}: {item!r} is not PREFIX=ARN")
        pairs.append((prefix, arn))
    return pairs


def expand(prefix: str, value: str) -> dict[str, str]:
    """The environment variables one secret value becomes."""
    try:
        data: Any = json.loads(value)
    except ValueError:
        data = None
    if isinstance(data, dict):
        return {prefix + key.upper(): "" if item is None else str(item) for key, item in data.items()}
    return {prefix: value}


def load(spec: str, client: Any = None, timeout: float | None = None) -> dict[str, str]:
    """Fetch every secret in ``spec`` and return the variables (``client``: a secretsmanager client).

    ``timeout``: seconds each connect and each read may take, with no retry, for callers with a
    hard limit of their own (a SnapStart after-restore hook has 10 s); otherwise boto3's defaults.
    """
    pairs = parse_spec(spec)
    if not pairs:
        return {}
    if client is None:
        client = make_client(timeout)
    out: dict[str, str] = {}
    for prefix, arn in pairs:
        try:
            value = client.get_secret_value(SecretId=arn)["SecretString"]
        except Exception as exc:
            raise SecretsError(f"{SECRETS_ENV}: cannot read {arn} for {prefix}: {type(exc).__name__}: {exc}") from exc
        out.update(expand(prefix, value))
    return out


def make_client(timeout: float | None = None,
                service: Literal["secretsmanager", "cloudfront"] = "secretsmanager") -> Any:
    """A client of ``service`` (Secrets Manager unless named); with ``timeout`` (see :func:`load`)
    each connect and read is bounded and nothing is retried, for calls made on a visitor's request:
    the re-reads here and the purge's CloudFront client (wp_lambda/runtime/purge.py)."""
    import boto3  # lazily: only deployed functions need it, and Lambda provides it
    from botocore.config import Config

    config = None if timeout is None else Config(connect_timeout=timeout, read_timeout=timeout,
                                                 retries={"total_max_attempts": 1})
    return boto3.client(service, config=config)


def read_stage(client: Any, arn: str, stage: str) -> str | None:
    """The value of ``arn`` labelled ``stage`` (AWSCURRENT, AWSPREVIOUS), None when no version has
    that label (a secret never rotated has no AWSPREVIOUS); other failures raise SecretsError.
    https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html"""
    try:
        value: str = client.get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"]
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        if code == "ResourceNotFoundException":
            return None
        raise SecretsError(f"cannot read {arn} ({stage}): {type(exc).__name__}: {exc}") from exc
    return value


def apply(environ: dict[str, str]) -> list[str]:
    """Load the secrets named in ``environ`` into it; return the names set (for the log)."""
    values = load(environ.get(SECRETS_ENV, ""))
    environ.update(values)
    return sorted(values)
