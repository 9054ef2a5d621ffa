"""Lambda SnapStart: one warmed instance is snapshotted, and many instances are restored from it.

With ``function.snap_start`` Lambda runs the init phase once per published version, snapshots
the whole microVM (php-fpm and its opcache included) and later resumes new instances from that
snapshot. So the opcache is warmed before the snapshot, and everything that must be unique to an
instance is renewed after each restore: php-fpm's workers (PHP's random state, any database
connection a worker held) are replaced by fresh forks of the master, which keeps the opcache,
and the secrets are read again, since they may have rotated while the snapshot waited.

The hooks come from ``snapshot_restore_py``, which the managed Python runtime provides
(https://docs.aws.amazon.com/lambda/latest/dg/snapstart-runtime-hooks-python.html); it does not
exist elsewhere, so it is imported only here and only for a SnapStart init. The hooks are plain
functions of the runtime, which is how the tests and the benchmark call them.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from wp_lambda.runtime import secrets
from wp_lambda.runtime.fpm import PhpFpmError

if TYPE_CHECKING:
    from wp_lambda.runtime.handler import Runtime

log = logging.getLogger("wplambda")

# The init phase that ends in a snapshot may last 130 s (or the function's timeout, if longer),
# and the before-snapshot hook counts towards it; a slow database deserves more than 10 s here.
SNAPSHOT_WARM_BUDGET = 60.0
# The after-restore hook must finish within 10 s; three secrets at worst 2 s (connect, then
# read) each leave room for the workers. Secrets Manager usually answers in tens of ms.
RESTORE_SECRETS_TIMEOUT = 1.0


def register(runtime: Runtime) -> bool:
    """Register the hooks when this init ends in a snapshot; False (and nothing done) otherwise."""
    if runtime.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") != "snap-start":
        return False
    try:
        import snapshot_restore_py  # only in Lambda's Python runtimes
    except ImportError:
        log.warning("wplambda: SnapStart init without snapshot_restore_py; the hooks are not registered")
        return False
    snapshot_restore_py.register_before_snapshot(before_snapshot, runtime)
    snapshot_restore_py.register_after_restore(after_restore, runtime)
    return True


def before_snapshot(runtime: Runtime) -> None:
    """Warm the opcache, then leave the workers holding nothing worth snapshotting."""
    started = time.monotonic()
    runtime.start()
    runtime.warm(SNAPSHOT_WARM_BUDGET)
    try:
        workers = runtime.fpm.replace_workers()
    except PhpFpmError as exc:
        # A fresh pool holds no connection either; only the warm opcache is lost.
        log.error("wplambda: before snapshot: %s; restarting php-fpm", exc)
        runtime.restart_quietly()
        return
    log.info("wplambda: before snapshot: opcache warmed, workers replaced (%s) in %.0f ms",
             ", ".join(map(str, workers)), (time.monotonic() - started) * 1000)


def after_restore(runtime: Runtime) -> None:
    """Renew what must be unique to this instance: the workers, and the secrets if they rotated.

    A changed secret value can only reach PHP through a new php-fpm master (workers inherit the
    master's environment), so only then is the opcache given up; otherwise the master stays.
    """
    started = time.monotonic()
    try:
        changed = runtime.reload_secrets(RESTORE_SECRETS_TIMEOUT)
    except secrets.SecretsError as exc:
        log.error("wplambda: after restore: %s; keeping the values from the snapshot", exc)
        changed = []
    try:
        if changed:
            runtime.fpm.restart()
            what = f"secrets rotated ({', '.join(changed)}): php-fpm restarted with the new values"
        else:
            # Not graceful: a connection in the snapshot leads to a socket of another microVM.
            workers = runtime.fpm.replace_workers(graceful=False)
            what = f"workers replaced ({', '.join(map(str, workers))}), opcache kept"
    except PhpFpmError as exc:
        # A pool that cannot renew its workers is not trusted with a visitor: a fresh one is. If
        # even that fails, the first request starts php-fpm again (Runtime.php_request).
        log.error("wplambda: after restore: %s; restarting php-fpm", exc)
        runtime.restart_quietly()
        return
    log.info("wplambda: after restore: %s in %.0f ms", what, (time.monotonic() - started) * 1000)
