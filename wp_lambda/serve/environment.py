"""The environment of serve's runtime processes: what Lambda's would hold, with local stand-ins.

The function's own variables come from :func:`wp_lambda.function_env.function_environment`, the
function that also renders the template's ``Environment.Variables``, so a variable the deployed
function gets reaches the local one too. Added here is only what Lambda itself provides (its
``AWS_LAMBDA_*`` variables, the task root, the layer on PYTHONPATH) and what a local run needs
(the local PHP binaries and config, the state marker that finds a crashed run's processes).
"""

from __future__ import annotations

import os
from pathlib import Path

from wp_lambda.bundle.php import PhpSource
from wp_lambda.config import Config
from wp_lambda.function_env import LocalStandIns, console_address, local_environment
from wp_lambda.local.runtime_process import local_layer, runtime_environment
from wp_lambda.runtime import contract
from wp_lambda.serve.state import STATE_ENV, LocalPaths

# The private MariaDB's database and user (its password is in the local secrets).
DB_NAME = "wordpress"
DB_USER = "wordpress"


def private_database(host: str, password: str) -> dict[str, str]:
    """How WordPress reaches the private MariaDB (``WORDPRESS_DB_HOST`` is its socket)."""
    return {contract.DB_HOST_ENV: host, contract.DB_NAME_ENV: DB_NAME, contract.DB_USER_ENV: DB_USER,
            contract.DB_PASSWORD_ENV: password}


def handler_environment(config: Config, paths: LocalPaths, build_dir: Path, php: PhpSource, stand_ins: LocalStandIns,
                        *, function_name: str, api_address: str | None, profile: str | None) -> dict[str, str]:
    """What Lambda's environment would hold, with local paths, local PHP and the local secrets.

    The caller's AWS credentials, profile and endpoint pass through (the handler needs them
    to read an external database's secret); Lambda's own variables are set here.
    """
    assert php.fpm is not None and php.cli is not None
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("AWS_LAMBDA_", "WORDPRESS_", "WPLAMBDA_"))}
    if profile:
        base["AWS_PROFILE"] = profile
    elif config.aws.profile and "AWS_PROFILE" not in base:
        base["AWS_PROFILE"] = config.aws.profile
    env = runtime_environment(build_dir / "function", local_layer(config, paths.layer), api_address=api_address,
                              php_fpm=str(php.fpm), php=str(php.cli), base=base)
    env.update({
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.function.memory),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": config.aws.region,
        "LAMBDA_TASK_ROOT": str(build_dir / "function"),
        # The handler comes from the built layer, as on Lambda, not from the installed kit.
        "PYTHONPATH": str(build_dir / "layer" / "python"),
        contract.LOCAL_ENV: "1",
        contract.WP_CLI_ENV: str(build_dir / "layer" / contract.WP_CLI_IN_LAYER),
        STATE_ENV: str(paths.root),
    })
    env.update(local_environment(config, stand_ins))
    return env


def console_environment(config: Config, env: dict[str, str], *, api_address: str, function_name: str,
                        site_url: str) -> dict[str, str]:
    """The console function's: the site's, with its own Runtime API, name and role, and the site's
    address (``site_url``, serve's own) for the runs that have no Host (:func:`console_address`)."""
    return dict(env, AWS_LAMBDA_RUNTIME_API=api_address, AWS_LAMBDA_FUNCTION_NAME=function_name,
                **{contract.ROLE_ENV: contract.CONSOLE_ROLE},
                **{v.name: v.value for v in console_address(config, local_url=site_url)})
