"""The ``wplambda`` command line: one typer app, one module per command group.

Each module here only parses options, calls a service function and prints; a
:class:`~wp_lambda.common.errors.UserError` from any service becomes one message and exit code 2.
"""

from __future__ import annotations

import sys

from wp_lambda.cli import adopt, build, config, cost, dbio, deploy, doctor, plugin, project, serve, wp
from wp_lambda.cli.app import app, console_error
from wp_lambda.common.errors import UserError

project.register(app)
build.register(app)
deploy.register(app)
serve.register(app)
doctor.register(app)
cost.register(app)
wp.register(app)
plugin.register(app)
adopt.register(plugin.plugin_app)
dbio.register(app)
config.register(app)


def main() -> None:
    """Console-script entry point."""
    try:
        # Not standalone, so UserError gets its exit code 2 here; but then click returns the code
        # of a `typer.Exit` instead of exiting with it, and a failed deploy would exit 0.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except UserError as exc:
        console_error(str(exc))
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        console_error("interrupted")
        sys.exit(130)
    except Exception as exc:  # click's usage errors carry their own exit code
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            console_error("aborted")
            sys.exit(1)
        raise
