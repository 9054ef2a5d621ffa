"""``config``: the ``wplambda.toml`` schema, for editors that validate TOML as you type."""

from __future__ import annotations

import json

import typer

from wp_lambda import config as config_mod

config_app = typer.Typer(help="About wplambda.toml itself.", no_args_is_help=True)


@config_app.command(short_help="Print the JSON Schema of wplambda.toml.")
def schema() -> None:
    """Print the JSON Schema of wplambda.toml on stdout, for editors: save it with `wplambda config schema >
    wplambda.schema.json` and put `#:schema ./wplambda.schema.json` on the first line of wplambda.toml; taplo
    and Even Better TOML then flag unknown keys and bad values as you type, and show each key's description.
    `wplambda validate` still checks what a schema cannot: combinations of keys, Bref's layers, paths on disk."""
    print(json.dumps(config_mod.json_schema(), indent=2))


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
