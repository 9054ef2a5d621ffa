"""Starting a local Lambda instance: ``python -m awslambdaric`` with the handler, given what the
Lambda layer gives a function.

:func:`local_layer` and :func:`runtime_environment` give a runtime process a php.ini (the local
flavour, which revalidates timestamps), php-fpm.conf and the ``WPLAMBDA_*`` variables naming the
local PHP; :func:`start_runtime_process` starts it against a Runtime API
(:mod:`wp_lambda.local.runtime_api`, or Lambda's own).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from wp_lambda.config import Config
from wp_lambda.local import php as local_php
from wp_lambda.local.processes import stop_tree
from wp_lambda.render import render_text
from wp_lambda.runtime import contract

# What the template's Handler names (and the zips carry): the same entry point runs locally.
HANDLER = "wp_lambda.runtime.handler.handler"
# The PHP version looked for first when the caller names no binaries (Debian 12's).
DEFAULT_PHP_VERSION = "8.2"


def local_layer(config: Config, dest: Path) -> Path:
    """Write the local flavour of the layer's PHP config (php.ini with timestamp checks on, since
    files change under ``serve``; php-fpm.conf) into ``dest``; returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "php.ini").write_text(render_text("php.ini.j2", config, local=True))
    (dest / "php-fpm.conf").write_text(render_text("php-fpm.conf.j2", config, local=True))
    return dest


def runtime_environment(document_root: Path, layer: Path, *, api_address: str | None = None,
                        php_fpm: str | None = None, php: str | None = None, workers: int = 1,
                        base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a local runtime process: ``base`` (default os.environ) plus the
    ``WPLAMBDA_*`` variables naming the PHP binaries one by one (the local PHP found by
    :func:`wp_lambda.local.php.find` unless given) and the config files in ``layer``."""
    env = dict(os.environ if base is None else base)
    if php_fpm is None or php is None:
        found = local_php.find(DEFAULT_PHP_VERSION)
        php_fpm, php = php_fpm or str(found.fpm), php or str(found.cli)
    env.update({contract.DOCUMENT_ROOT_ENV: str(document_root), contract.PHP_FPM_ENV: php_fpm,
                contract.PHP_CLI_ENV: php, contract.PHP_INI_ENV: str(layer / "php.ini"),
                contract.FPM_CONF_ENV: str(layer / "php-fpm.conf"), contract.FPM_WORKERS_ENV: str(workers)})
    if api_address:
        env["AWS_LAMBDA_RUNTIME_API"] = api_address
    return env


def start_runtime_process(environ: dict[str, str], *, python: str = sys.executable, handler: str = HANDLER,
                          log: Path | None = None) -> subprocess.Popen[bytes]:
    """``python -m awslambdaric wp_lambda.runtime.handler.handler``: one Lambda instance.

    ``python`` must have awslambdaric installed (a dependency of the kit: ``wplambda doctor`` checks it).

    ``environ`` must carry ``AWS_LAMBDA_RUNTIME_API`` (see :func:`runtime_environment`). The
    process runs in its own session so its owner can stop it, and its php-fpm, by process group.
    """
    if "AWS_LAMBDA_RUNTIME_API" not in environ:
        raise ValueError("the runtime process needs AWS_LAMBDA_RUNTIME_API in its environment")
    output = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    try:
        return subprocess.Popen([python, "-m", "awslambdaric", handler], env=environ, stdin=subprocess.DEVNULL,
                                stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        if not isinstance(output, int):
            output.close()


def stop_runtime_process(process: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """Stop a runtime process and its php-fpm pool (which runs in a session of its own) by id."""
    if process.poll() is None:
        stop_tree(process.pid, timeout)
    process.wait(timeout=timeout)
