"""The ``wplambda`` command line: one typer app, one module per command group.

Each module here only parses options, calls a service function and prints; a
:class:`~wp_lambda.common.errors.UserError` from any service becomes one message and exit code 2.
"""

from __future__ import annotations

import sys
from types import ModuleType

import typer

from wp_lambda.cli import adopt, build, config, cost, dbio, deploy, doctor, mail, plugin, project, serve, wp
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
mail.register(app)


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
    except typer.Abort:
        console_error("aborted")
        sys.exit(1)
    except Exception as exc:  # click's usage errors (an unknown option, a bad value) carry exit code 2
        if isinstance(exc, _click_errors().ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


def _click_errors() -> ModuleType:
    """The exceptions module of the click that typer runs: from typer 0.29 on, typer raises those of
    its own copy of click, which ``import click`` does not catch (a usage error became a traceback)."""
    import importlib

    try:
        return importlib.import_module("typer._click.exceptions")
    except ImportError:  # typer < 0.29 runs the installed click
        return importlib.import_module("click.exceptions")
