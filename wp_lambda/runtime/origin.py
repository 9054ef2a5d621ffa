"""The origin secret's accepted values, and when a warm instance reads them again.

``wplambda deploy --rotate-origin-secret`` stores a new value (Secrets Manager moves AWSCURRENT to
it and AWSPREVIOUS to the old one), waits :data:`~wp_lambda.runtime.contract.ORIGIN_SECRET_REREAD_SECONDS`,
then updates the stack so CloudFront sends the new value. An instance started before the rotation
holds only the old value; one started during it holds only the new one (secrets load AWSCURRENT
at init). Either meets the other value when CloudFront's edges switch, so a request whose header
matches neither makes the instance read both labels again, and the request is judged on them.

That read happens at most once per interval per instance: an attacker's wrong guesses would
otherwise each cost a Secrets Manager call (money, and the account's request quota), and a
throttled read would then fail real requests too. The deploy's wait makes the limit harmless for
CloudFront: when its new value arrives, every instance either read after the rotation or may
read again. A failed read is logged and changes nothing (the request gets its 403).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from wp_lambda.runtime import contract, secrets

log = logging.getLogger("wplambda")

CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"


class Rereader:
    """Reads the origin secret's AWSCURRENT and AWSPREVIOUS into an environment, rate-limited."""

    def __init__(self, arn: str | None, *, client: Callable[[], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 interval: float = contract.ORIGIN_SECRET_REREAD_SECONDS) -> None:
        self.arn = arn
        # On a visitor's request, so bounded like the database secret's re-read (contract).
        self._make_client = client or (lambda: secrets.make_client(contract.SECRETS_REREAD_TIMEOUT))
        self._client: Any = None
        self._throttle = secrets.Throttle(interval, clock)

    @classmethod
    def from_env(cls, environ: dict[str, str], **kwargs: Any) -> Rereader:
        """The ARN WPLAMBDA_SECRETS names for the origin secret (none under serve and in tests
        that set the value itself: then nothing is ever re-read)."""
        try:
            pairs = secrets.parse_spec(environ.get(contract.SECRETS_ENV, ""))
        except secrets.SecretsError:
            pairs = []  # load_secrets reports the bad specification; nothing to re-read here
        arn = next((arn for prefix, arn in pairs if prefix == contract.ORIGIN_SECRET_ENV), None)
        return cls(arn, **kwargs)

    def refresh(self, environ: dict[str, str]) -> bool:
        """Read both labels into ``environ`` unless the last read is under ``interval`` old;
        whether the values were read (a failure is logged and leaves the old ones in place)."""
        if self.arn is None or not self._throttle.allow():
            return False
        try:
            if self._client is None:
                self._client = self._make_client()
            current = secrets.read_stage(self._client, self.arn, CURRENT)
            previous = secrets.read_stage(self._client, self.arn, PREVIOUS)
        except secrets.SecretsError as exc:
            log.error("wplambda: re-reading the origin secret failed: %s", exc)
            return False
        if not current:
            log.error("wplambda: the origin secret %s has no %s value; keeping the loaded one", self.arn, CURRENT)
            return False
        environ[contract.ORIGIN_SECRET_ENV] = current
        if previous:
            environ[contract.ORIGIN_SECRET_PREVIOUS_ENV] = previous
        else:
            environ.pop(contract.ORIGIN_SECRET_PREVIOUS_ENV, None)
        log.info("wplambda: origin secret re-read (%s%s)", CURRENT, f", {PREVIOUS}" if previous else "")
        return True
