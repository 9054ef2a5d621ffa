"""mkdocs hooks (mkdocs.yml ``hooks:``): the generated pages, and a check that the docs name real code.

Two reference pages are written at build time, never kept by hand, so they cannot drift from the code:

- ``reference/cli.md`` walks the typer app's command tree (``wp_lambda.cli.app``) and renders each
  command's usage, arguments and options from the same objects ``--help`` prints;
- ``reference/config.md`` renders the JSON Schema of ``wplambda.toml`` (:func:`config_schema`).

The pages exist only in the build (``File.generated``), so ``mkdocs serve`` never writes into ``docs/``
and never loops on its own output. A third hook fails the strict build when a page names a
``wp_lambda.…`` module, class or function that does not exist (the architecture map and the internals
page point newcomers at code by dotted name, and a rename must not leave them pointing at nothing),
or quotes a ``wplambda`` command with an option that command does not have.
"""

from __future__ import annotations

import importlib
import logging
import re
import sys
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.plugins.wplambda")

CLI_PAGE = "reference/cli.md"
CONFIG_PAGE = "reference/config.md"
# A dotted name in backticks, e.g. `wp_lambda.runtime.handler.Runtime.php_request`.
_CODE_NAME = re.compile(r"`(wp_lambda(?:\.[A-Za-z_][A-Za-z0-9_]*)+)`")


def on_pre_build(config: MkDocsConfig) -> None:
    """Forget the kit's modules, so each build (``mkdocs serve`` rebuilds when ``wp_lambda/`` changes,
    see ``watch:`` in mkdocs.yml) reads the code as it is now rather than as the first build imported it."""
    for name in [name for name in sys.modules if name == "wp_lambda" or name.startswith("wp_lambda.")]:
        del sys.modules[name]


def on_files(files: Files, config: MkDocsConfig) -> Files:
    files.append(File.generated(config, CLI_PAGE, content=cli_reference()))
    files.append(File.generated(config, CONFIG_PAGE, content=config_reference()))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if TRADEOFFS_MARKER in markdown:
        markdown = markdown.replace(TRADEOFFS_MARKER, tradeoffs_table())
    # A warning fails `mkdocs build --strict` (make docs-build, CI).
    for name in sorted(set(_CODE_NAME.findall(markdown))):
        if not _resolves(name):
            log.warning("%s names `%s`, which does not exist in the code", page.file.src_uri, name)
    for problem in command_problems(markdown):
        log.warning("%s: %s", page.file.src_uri, problem)
    return markdown


def _resolves(dotted: str) -> bool:
    """Whether ``dotted`` is an importable module or an attribute path below one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


# --- commands quoted in the docs ---------------------------------------------------------------------

# A command as the docs quote it: a line of a code block, or a code span, that starts with `wplambda `.
_COMMAND = re.compile(r"(?:^|`)(wplambda [^`\n]*)", re.M)


def command_problems(markdown: str) -> list[str]:
    """Options the quoted ``wplambda`` commands use that their command does not have.

    Lenient on purpose, since the docs also write alternatives (``status | outputs --json``,
    ``update NAME|--all``): an option passes when any command named in the same line has it. What
    follows `` -- `` (wp-cli's own arguments) and `` # `` (a comment) is not checked.
    """
    root = _cli_root()
    problems = []
    for quoted in _COMMAND.findall(markdown):
        text = quoted.split(" # ")[0].split(" -- ")[0]
        tokens = text.replace("|", " | ").replace("[", " ").replace("]", " ").split()[1:]
        group, commands = root, [root]
        for token in tokens:
            sub = _subcommand(group, token)
            if sub is not None:
                commands.append(sub)
                if hasattr(sub, "list_commands"):
                    group = sub
        known = {opt for command in commands for opt in _options(command)}
        for token in tokens:
            option = token.split("=", 1)[0]
            if re.fullmatch(r"--?[A-Za-z][A-Za-z0-9-]*", option) and option not in known:
                problems.append(f"`{quoted.strip()}` uses {option}, which no command it names has")
    return problems


def _cli_root() -> Any:
    import typer.main

    from wp_lambda.cli import app

    return typer.main.get_command(app)


def _subcommand(group: Any, name: str) -> Any:
    if not hasattr(group, "list_commands"):
        return None
    return group.get_command(group.context_class(group), name)


def _options(command: Any) -> set[str]:
    params = command.get_params(command.context_class(command))
    return {opt for param in params for opt in (*param.opts, *param.secondary_opts) if opt.startswith("-")}


# --- the CLI reference -------------------------------------------------------------------------------


def cli_reference() -> str:
    root = _cli_root()
    lines = [
        "# CLI reference",
        "",
        "Generated from the typer app (`wp_lambda.cli.app`) when the docs are built: this is what",
        "`wplambda COMMAND --help` prints. The [guides](../getting-started.md) say when to use which.",
        "Every command exits with code 2 on bad input, with a message naming the file, key or value.",
        "",
    ]
    root_ctx = root.context_class(root, info_name="wplambda")
    _command(root, root_ctx, lines, level=2)
    return "\n".join(lines) + "\n"


def _subcommands(command: Any, ctx: Any) -> list[tuple[str, Any]]:
    if not hasattr(command, "list_commands"):
        return []
    found = [(name, command.get_command(ctx, name)) for name in command.list_commands(ctx)]
    return [(name, sub) for name, sub in found if sub is not None and not sub.hidden]


def _command(command: Any, ctx: Any, lines: list[str], level: int) -> None:
    subcommands = _subcommands(command, ctx)
    if ctx.parent is not None:
        lines += [f"{'#' * level} {ctx.command_path}", ""]
    if command.help:
        lines += [_plain(command.help), ""]
    lines += ["```text", command.get_usage(ctx).strip(), "```", ""]
    arguments, options = [], []
    for param in command.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        if param.param_type_name == "argument":
            arguments.append(param)
        elif (record := param.get_help_record(ctx)) is not None:
            options.append(record)
    if arguments:
        lines += ["| argument | meaning |", "|---|---|"]
        lines += [f"| `{_cell(p.name.upper())}` | {_cell(getattr(p, 'help', None) or '')} |" for p in arguments]
        lines.append("")
    if options:
        lines += ["| option | meaning |", "|---|---|"]
        lines += [f"| `{_cell(opts)}` | {_cell(_plain(text))} |" for opts, text in options]
        lines.append("")
    if subcommands:
        lines += ["Commands: " + ", ".join(f"[`{name}`](#{_anchor(ctx.command_path, name)})"
                                          for name, _ in subcommands), ""]
    for name, sub in subcommands:
        _command(sub, sub.context_class(sub, info_name=name, parent=ctx), lines,
                 level=level if ctx.parent is None else level + 1)


def _anchor(path: str, name: str) -> str:
    """The heading id the toc extension gives ``## wplambda plugin add``."""
    return re.sub(r"[^a-z0-9]+", "-", f"{path} {name}".lower()).strip("-")


def _plain(text: str) -> str:
    """Help text as markdown: typer's paragraphs kept, its rich markup (``[bold]``) dropped."""
    return re.sub(r"\[/?(bold|dim|italic|red|green|yellow|cyan)\]", "", text.strip())


def _cell(text: str) -> str:
    """Text for one table cell: a pipe outside a code span would end the cell (the tables extension
    leaves pipes inside code spans alone, and an escape there would show)."""
    parts = text.replace("\n", " ").split("`")
    return "`".join(part if i % 2 else part.replace("|", "\\|") for i, part in enumerate(parts))


# --- the checkov trade-offs --------------------------------------------------------------------------

# Where the security guide shows scripts/checkov_tradeoffs.toml, the list `make checkov` enforces.
TRADEOFFS_MARKER = "<!-- checkov-tradeoffs -->"


def tradeoffs_table() -> str:
    """The deliberate checkov failures as a table: the same file the check reads, so the guide
    lists exactly the failures the stack has."""
    import tomllib
    from pathlib import Path

    with (Path(__file__).parent / "checkov_tradeoffs.toml").open("rb") as fh:
        tradeoffs = tomllib.load(fh)
    lines = ["| Check | Resources | Why it fails on purpose |", "|---|---|---|"]
    for check, entry in sorted(tradeoffs.items()):
        resources = ", ".join(f"`{name}`" for name in entry["resources"])
        lines.append(f"| {check}: {_cell(entry['title'])} | {resources} | {_cell(' '.join(entry['reason'].split()))} |")
    return "\n".join(lines)


# --- the config reference ----------------------------------------------------------------------------


def config_schema() -> dict[str, Any]:
    """The JSON Schema of ``wplambda.toml`` (what ``wplambda config schema`` prints): the one input
    of the config reference, so the page and editors' validation cannot disagree."""
    from wp_lambda import config

    return dict(config.json_schema())


def config_reference() -> str:
    schema = config_schema()
    lines = [
        "# Configuration reference",
        "",
        "Every key of `wplambda.toml`, generated from the config schema when the docs are built.",
        "`wplambda init` writes a commented file with each key's default; a key that is not listed",
        "here is refused (with a \"did you mean\"), and every problem is reported at once as",
        "`file:line: key: message`, exit code 2. The [getting started](../getting-started.md#configuration)",
        "page explains the choices that shape the stack.",
        "",
    ]
    for section, prop in schema.get("properties", {}).items():
        body = _resolve(schema, prop)
        lines += [f"## `[{section}]`", ""]
        if body.get("description"):
            lines += [body["description"], ""]
        fields = body.get("properties")
        if not fields:
            lines += [f"Type: {_type_text(schema, body)}.", ""]
            continue
        lines += ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
        for key, field_schema in fields.items():
            field_schema = _resolve(schema, field_schema)
            default = f"`{_toml(field_schema['default'])}`" if "default" in field_schema else ""
            lines.append(f"| `{section}.{key}` | {_type_text(schema, field_schema)} | {_cell(default)} | "
                         f"{_cell(_allowed(field_schema))} | {_cell(field_schema.get('description', ''))} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (also pydantic's ``allOf: [{$ref}]`` wrapping), keeping sibling keys."""
    ref = node.get("$ref") or next((s["$ref"] for s in node.get("allOf", []) if "$ref" in s), None)
    if not ref:
        return node
    target = schema
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    siblings = {k: v for k, v in node.items() if k not in ("$ref", "allOf")}
    return {**target, **siblings}


def _type_text(schema: dict[str, Any], node: dict[str, Any]) -> str:
    node = _resolve(schema, node)
    if "anyOf" in node:
        # TOML has no null: an optional key (pydantic's `X | None`) is one that may be left out.
        kinds = [_type_text(schema, option) for option in node["anyOf"] if option.get("type") != "null"]
        optional = len(kinds) < len(node["anyOf"])
        return " or ".join(kinds) + (" (may be left out)" if optional else "")
    kind = node.get("type", "any")
    if kind == "array" and isinstance(node.get("items"), dict) and node["items"].get("type"):
        return f"list of {node['items']['type']}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"table of {_type_text(schema, node['additionalProperties'])}"
    return "table" if kind == "object" else str(kind)


def _allowed(node: dict[str, Any]) -> str:
    """The value rules of a key; those of `X | None` sit in the non-null branch of its anyOf."""
    for option in node.get("anyOf", []):
        if option.get("type") != "null":
            node = {**option, **{k: v for k, v in node.items() if k != "anyOf"}}
            break
    parts = []
    if "enum" in node:
        parts.append(", ".join(f"`{_toml(v)}`" for v in node["enum"]))
    if "minimum" in node or "maximum" in node:
        parts.append(f"{node.get('minimum', '')} ... {node.get('maximum', '')}".strip())
    if "pattern" in node:
        parts.append(f"matches `{node['pattern']}`")
    if isinstance(node.get("items"), dict) and "pattern" in node["items"]:
        parts.append(f"each matches `{node['items']['pattern']}`")
    return "; ".join(parts)


def _toml(value: Any) -> str:
    """A value as it is written in wplambda.toml (None: the key is left out)."""
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    return str(value)
