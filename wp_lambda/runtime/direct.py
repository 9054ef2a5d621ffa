"""Direct invocations: ``{"wplambda": KEY, ...}`` events, one registry of what each KEY runs.

They come from the kit itself (``wplambda wp``, deploys, cron, export/import), never from HTTP:
the handler detects every HTTP shape first. Each entry takes the instance's runtime, the event and
the invocation's context, and returns the answer (errors are answered as ``{"error": ...}``,
never raised). The keys are the contract's (``wp_lambda/runtime/contract.py``).
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from wp_lambda.runtime import commands, content, contract, dbio, purge

if TYPE_CHECKING:
    from wp_lambda.runtime.handler import Runtime

log = logging.getLogger("wplambda")


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


Invocation = Callable[["Runtime", Mapping[str, Any], "LambdaContext | None"], dict[str, Any]]


def invoke(runtime: Runtime, event: Mapping[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """Run the invocation ``event`` names."""
    kind = event.get(contract.DIRECT_KEY)
    entry = INVOCATIONS.get(kind) if isinstance(kind, str) else None
    if entry is None:
        return {"error": f"wplambda: unknown direct invocation {kind!r}; expected {', '.join(INVOCATIONS)}"}
    return entry(runtime, event, context)


def warmer(runtime: Runtime, event: Mapping[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """A keep-warm ping: the instance exists, nothing more to do."""
    return {"warmed": True}


def cron(runtime: Runtime, event: Mapping[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """Run wp-cron.php with the PHP CLI until its due jobs are done, within this invocation.

    Not through php-fpm: wp-cron.php calls fastcgi_finish_request() before it runs a job, so
    php-fpm would answer at once and the jobs would run after the invocation returned, when Lambda
    may already have frozen the instance (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html,
    "Invoke phase"). The CLI has no such call. No HTTP walls apply (nothing is routed), and the
    site's address comes from wp-config.php as it does for wp-cli. The answer is 200 when PHP
    exited 0, 504 when the invocation's deadline stopped it, else 500. wp-cron.php prints nothing
    when all is well, and WordPress's own errors (wp_die, e.g. no database) still exit 0, so any
    output is logged for the function's log to show.
    """
    result = php_cli(runtime, ["-d", "max_execution_time=0", "wp-cron.php"], runtime.time_left(context))
    for line in (result["stdout"] + result["stderr"]).splitlines():
        log.warning("wp-cron: %s", line)
    status = 200 if result["exitCode"] == 0 else 504 if result["timedOut"] else 500
    if status != 200:
        log.error("wplambda: wp-cron.php exited with %d after %d ms", result["exitCode"], result["durationMs"])
    return {"statusCode": status}


def _command(run: Callable[[Runtime, list[str], float], dict[str, Any]]) -> Invocation:
    """``php`` and ``wp``: checks ``args`` (a list of strings) and ``timeout`` (optional seconds,
    capped by what the invocation has left less the margin)."""
    def invocation(runtime: Runtime, event: Mapping[str, Any], context: LambdaContext | None) -> dict[str, Any]:
        kind = event[contract.DIRECT_KEY]
        args = event.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            return {"error": f"wplambda {kind}: \"args\" must be a list of strings"}
        limit = event.get("timeout")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit <= 0):
            return {"error": f"wplambda {kind}: \"timeout\" must be a positive number of seconds"}
        return run(runtime, args, min(runtime.time_left(context), limit or math.inf))
    return invocation


def php_cli(runtime: Runtime, args: list[str], timeout: float) -> dict[str, Any]:
    """``php ARGS`` in the document root, with the site's environment: its secrets included (the
    database password, the salts), the runtime's own (the origin secret) left out."""
    runtime.load_secrets()
    with purge.command(runtime.purger, contract.php_environment(runtime.environ)) as env:
        return commands.run_cli([runtime.php, *runtime.layout.ini_args, *args], runtime.document_root, env, timeout)


def wp_cli(runtime: Runtime, args: list[str], timeout: float) -> dict[str, Any]:
    """``wp ARGS`` with the layer's wp-cli phar on the document root: what ``wplambda wp`` sends.

    The phar sits in the layer (outside the document root, so no URL reaches it). wp-cli's
    home, cache and packages live under the temp dir (the only writable place on Lambda), no
    wp-cli.yml from anywhere applies, and PHP's own time limit is off: the invocation's
    deadline (minus the margin, to answer in; or the event's ``timeout`` when shorter) is the
    one limit. The CloudFront origin secret
    is left out of its environment; the database password and salts are in it, because
    wp-config.php reads them from there (and then scrubs them; see wp-config.php.j2).
    """
    runtime.load_secrets()
    phar = runtime.environ.get(contract.WP_CLI_ENV, contract.WP_CLI_PATH)
    if not os.path.isfile(phar):
        return {"stdout": "", "stderr": f"wplambda: wp-cli is not in this runtime layer ({phar} does not exist); "
                "set build.wp_cli = \"pinned\" in wplambda.toml, then deploy again (or, locally, restart "
                "`wplambda serve`, which rebuilds)\n", "exitCode": 127, "durationMs": 0,
                "truncated": False, "timedOut": False}
    scratch = os.path.join(tempfile.gettempdir(), "wplambda-wp-cli")
    env = contract.php_environment(runtime.environ)
    env.update(HOME=os.path.join(scratch, "home"), WP_CLI_CACHE_DIR=os.path.join(scratch, "cache"),
               WP_CLI_PACKAGES_DIR=os.path.join(scratch, "packages"),
               WP_CLI_CONFIG_PATH=os.path.join(scratch, "no-config.yml"),
               WP_CLI_DISABLE_AUTO_CHECK_UPDATE="1")
    os.makedirs(env["HOME"], exist_ok=True)
    command = [runtime.php, *runtime.layout.ini_args, "-d", "max_execution_time=0", phar,
               f"--path={runtime.document_root}"]
    if os.geteuid() == 0:  # only in local runs; Lambda never runs code as root
        command.append("--allow-root")
    # The pages a command's changes affected are purged when it ends (wp_lambda/runtime/purge.py).
    with purge.command(runtime.purger, env) as env_with_purge:
        result = commands.run_cli([*command, *args], runtime.document_root, env_with_purge, timeout)
    log.info("wplambda: %s: exit %d in %d ms%s", commands.command_words(args), result["exitCode"],
             result["durationMs"], " (timed out)" if result["timedOut"] else "")
    return result


def content_files(runtime: Runtime, event: Mapping[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """EFS mode's wp-content: ``"action": "sync"`` (after a deploy, with ``"pinned"``) or ``"list"``."""
    if runtime.content_dir is None:
        return {"error": f"wplambda content: {contract.CONTENT_DIR_ENV} is not set (storage.mode is not \"efs\")"}
    directory = Path(runtime.content_dir)
    action = event.get("action")
    if action == "list":
        return content.listing(directory)
    pinned = event.get("pinned", {})
    if action != "sync" or not isinstance(pinned, Mapping) or not all(
            isinstance(v, Mapping) for v in pinned.values()):
        return {"error": "wplambda content: expected \"action\": \"list\", or \"sync\" with "
                         "\"pinned\": {\"plugins\": {slug: version}, \"themes\": {...}}"}
    try:
        report = content.sync(Path(runtime.document_root) / "wp-content", directory, pinned)
    except OSError as exc:
        log.error("wplambda: content sync failed: %s", exc)
        return {"error": f"wplambda content: {exc}"}
    return report.to_dict()


def _dbio(run: Callable[[Any, Mapping[str, Any], float], dict[str, Any]]) -> Invocation:
    """``wplambda export`` / ``import``: the database streamed between PHP and a presigned URL."""
    def invocation(runtime: Runtime, event: Mapping[str, Any], context: LambdaContext | None) -> dict[str, Any]:
        return run(runtime, event, runtime.time_left(context))
    return invocation


def _replaces_content(run: Callable[[Any, Mapping[str, Any], float], dict[str, Any]]) -> Invocation:
    """``wplambda import`` and ``db-revert``: every table is swapped, so any cached page may be stale;
    a success purges them all (contract.PURGE_ALL, one path), as the mu-plugin cannot see the swap."""
    inner = _dbio(run)

    def invocation(runtime: Runtime, event: Mapping[str, Any], context: LambdaContext | None) -> dict[str, Any]:
        result = inner(runtime, event, context)
        if "error" not in result:
            runtime.purger.send([contract.PURGE_ALL], purge.distribution_id(None, runtime.environ))
        return result
    return invocation


INVOCATIONS: dict[str, Invocation] = {
    contract.WARMER: warmer,
    contract.CRON: cron,
    contract.PHP: _command(php_cli),
    contract.WP: _command(wp_cli),
    contract.CONTENT: content_files,
    contract.DB_EXPORT: _dbio(dbio.export),
    contract.DB_IMPORT: _replaces_content(dbio.import_),
    contract.DB_STATUS: _dbio(dbio.maintenance),
    contract.DB_DROP_BACKUPS: _dbio(dbio.maintenance),
    contract.DB_REVERT: _replaces_content(dbio.maintenance),
}
