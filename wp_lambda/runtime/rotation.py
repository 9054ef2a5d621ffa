"""The database password after a rotation: when a warm instance reads its secrets again.

Secrets are loaded at cold start, and RDS and Aurora rotate the secrets they manage every 7 days
by default (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-secrets-manager.html).
An instance that outlives a rotation holds a password the database no longer accepts, and every
page would say "Error establishing a database connection" until Lambda recycles the instance.
Two triggers read the secrets again:

* age: before a request to PHP, when the last read is older than the TTL
  (:data:`~wp_lambda.runtime.contract.DB_SECRET_TTL_SECONDS`), so a rotation is usually picked
  up before any connection fails;
* refusal: PHP reports that WordPress's first connection was refused with MySQL's 1045 (access
  denied). That read is throttled (:data:`~wp_lambda.runtime.contract.DB_SECRET_REREAD_SECONDS`):
  a password that stays wrong must not turn every request into Secrets Manager calls and a
  php-fpm restart.

When a value PHP sees has changed, php-fpm is restarted, not just its workers: the secrets reach
PHP through php-fpm's environment (``clear_env = no``; wp-config.php reads them with getenv() and
then scrubs them from the request), and a worker forked by the old master would inherit the old
password. The cost is the opcache's shared memory, recompiled by the next requests (from the
packaged file cache when the build made one), once per rotation.

How PHP reports the refusal, and why it cannot be forged
---------------------------------------------------------
Every request to PHP carries a fresh random token in the FastCGI parameter
:data:`~wp_lambda.runtime.contract.DB_DENIED_TOKEN_PARAM`. wp-config.php takes it out of
``$_SERVER`` and ``$_ENV`` before WordPress loads and registers a header callback that, only when
``mysqli_connect_errno()`` is 1045 and ``$wpdb`` never connected in this request, answers
:data:`~wp_lambda.runtime.contract.DB_DENIED_HEADER` with that token. The runtime honours the
header only when its value is this request's token, and strips every copy of it from every PHP
response, so it never reaches a visitor. A visitor cannot set a response header, and cannot send
the parameter either: request headers become ``HTTP_`` parameters. Stored content, or a feature
that writes or reflects headers, does not know a token made for one request. What remains is code
running in the site's PHP: php-fpm answers ``getenv()`` from the FastCGI parameters, which
unset() cannot remove, so a plugin that asks for the token by name can answer it. That code is
trusted already (it holds the database password and the salts), and even then a forged signal
costs at most one throttled read, and retries only when the secrets really changed.

Why retrying is safe, a POST included
-------------------------------------
The retry happens only on that signal, and the signal means the request never got past
WordPress's database connection: ``wpdb`` connects in its constructor, in ``require_wp_db()``
early in wp-settings.php, before any plugin, theme or request handler is loaded, and a refused
first connection ends the request there (``dead_db()``). The only code that can run earlier is
wp-config.php itself and the ``advanced-cache.php`` drop-in (a page cache, which serves or passes
but does not act on a POST's data). A refused reconnection later in a request (``wpdb`` retries
a lost connection mid-request) does not signal: ``$wpdb->ready`` is then true, and WordPress
logic may have run, so that response stays as it is. Nothing was done, so the request is run once
more on the fresh php-fpm; a retry that is refused again is answered as PHP answered it.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable

from wp_lambda.runtime import contract, secrets
from wp_lambda.runtime.events import Response


def new_token() -> str:
    """A token for one request's refusal signal (128 random bits)."""
    return os.urandom(16).hex()


def take_signal(response: Response, token: str) -> bool:
    """Remove every copy of the refusal header from ``response``; whether one carried ``token``."""
    name = contract.DB_DENIED_HEADER.lower()
    values = [value for key, value in response.headers if key.lower() == name]
    if not values:
        return False
    response.headers = [(key, value) for key, value in response.headers if key.lower() != name]
    return any(hmac.compare_digest(value.encode(), token.encode()) for value in values)


class Schedule:
    """When the secrets are read again: the decision, apart from the reading (unit-tested)."""

    def __init__(self, *, ttl: float = contract.DB_SECRET_TTL_SECONDS,
                 interval: float = contract.DB_SECRET_REREAD_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._throttle = secrets.Throttle(interval, clock)
        self._clock = clock
        self._read_at: float | None = None

    def loaded(self) -> None:
        """The secrets were read now (the cold-start load, or a re-read, whatever its outcome)."""
        self._read_at = self._clock()

    def due(self, *, refused: bool) -> bool:
        """Whether to read now: after a refused connection, or once the last read is ``ttl`` old
        (nothing is old before the first load, which is the cold start's business); never twice
        within the throttle's interval. A yes counts as a read (see :meth:`loaded`)."""
        stale = self._read_at is not None and self._clock() - self._read_at >= self.ttl
        if not (refused or stale) or not self._throttle.allow():
            return False
        self.loaded()
        return True
