"""Reading ``wplambda.toml``: every problem at once, each as ``file:line: key: message``.

pydantic validates the whole file in one go (:class:`~wp_lambda.config.schema.ConfigFile`); its
errors are turned back into the kit's words and the lines a user can jump to, one problem per key
in the file's order, with "did you mean" for a misspelt key. The keys that failed are then left at
their defaults, so the checks of combinations, Bref's layers and the disk still run on the rest
and their problems come in the same report, not on the next attempt.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import tomlkit
import tomlkit.exceptions
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from wp_lambda.common.errors import UserError
from wp_lambda.config import aurora, checks, concurrency
from wp_lambda.config.schema import (
    CONFIG_FILE,
    PIN_KEYS,
    SECTIONS,
    VERSION_TABLES,
    Config,
    ConfigFile,
    Problem,
    cross_checks,
    not_allowed,
    pin_problems,
)


class ConfigError(UserError):
    """Raised with every problem found, so the user fixes the file in one pass."""

    def __init__(self, problems: list[Problem], path: Path | None = None) -> None:
        self.problems = problems
        self.path = path
        super().__init__("\n".join(p.render(path) for p in problems))


def load(project: Path | None = None) -> Config:
    """Load ``wplambda.toml`` from ``project`` (default: the current directory)."""
    root = (project or Path.cwd()).resolve()
    path = root / CONFIG_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"no {CONFIG_FILE} in {root}", "run `wplambda init` there, or pass --project DIR") from None
    return parse(text, root=root, path=path)


def parse(text: str, root: Path | None = None, path: Path | None = None) -> Config:
    """Parse and validate TOML text into a :class:`Config`, or raise :class:`ConfigError`."""
    try:
        doc = tomlkit.parse(text).unwrap()
    except tomlkit.exceptions.TOMLKitError as exc:  # ParseError, and KeyAlreadyPresent for a key set twice
        raise ConfigError([Problem("(syntax)", f"invalid TOML: {exc}", getattr(exc, "line", None))],
                          path) from exc
    file, found = _validate(doc)
    config = file.to_config(root or Path.cwd())
    found += pin_problems(file) + cross_checks(config) + checks.problems(config)
    found += aurora.problems(config) + concurrency.problems(config)
    if found:
        raise ConfigError([dataclasses.replace(p, line=_line(text, p)) for p in found], path)
    return config


def _validate(doc: dict[str, Any]) -> tuple[ConfigFile, list[Problem]]:
    """The file's model, and the problems pydantic found in the file's order: one per key, or per
    item of a list. With problems, the model is of the rest: each key that failed at its default."""
    try:
        return ConfigFile.model_validate(doc), []
    except ValidationError as exc:
        errors = exc.errors()
    order = {entry: n for n, entry in enumerate(_entries(doc))}
    # An unknown key goes first in its entry: it explains the rest (a misspelt "version" is also a
    # missing one).
    errors.sort(key=lambda e: (order.get(_entry(e), len(order)), e["type"] != "extra_forbidden"))
    found: dict[tuple[str | int, ...], Problem] = {}
    for error in errors:
        items = tuple(part for part in error["loc"][2:] if isinstance(part, int))
        found.setdefault(_entry(error) + items, _problem(error))
    failed = {_entry(error) for error in errors}
    rest = {name: {key: value for key, value in body.items() if (name, key) not in failed}
            if isinstance(body, dict) else body
            for name, body in doc.items() if (name,) not in failed}
    return ConfigFile.model_validate(rest), list(dict.fromkeys(found.values()))  # items may say the same


def _entries(doc: dict[str, Any]) -> Iterator[tuple[str, ...]]:
    """Every table and every key of a table, in the file's order."""
    for name, body in doc.items():
        yield (name,)
        if isinstance(body, dict):
            yield from ((name, key) for key in body)


def _entry(error: ErrorDetails) -> tuple[str, ...]:
    """The table, or (table, key), an error is about: a problem inside a key's value is that key's."""
    return tuple(str(part) for part in error["loc"][:2])


# pydantic's error type -> what the value should have been, as the kit has always said it.
_EXPECTED = {"string_type": "a string", "int_type": "an integer", "float_type": "a number",
             "bool_type": "true or false", "list_type": "a list", "dict_type": "a table", "model_type": "a table"}
# The error a Literal's value of the wrong type stands for (``mode = 5`` is not a string).
_LITERAL_TYPES = {str: "string_type", int: "int_type"}


def _problem(error: ErrorDetails) -> Problem:
    """One pydantic error in the kit's words: the dotted key (list positions and pydantic's
    ``[key]`` marker left out), and the message of its kind."""
    loc = tuple(str(part) for part in error["loc"] if isinstance(part, str) and part != "[key]")
    key, kind, value = ".".join(loc), error["type"], error["input"]
    at = loc[:2]
    if kind == "extra_forbidden":
        what = "section" if len(loc) == 1 else "key"
        return Problem(key, f"unknown {what}{_suggest(loc[-1], _known_keys(loc[:-1]))}", at=at)
    if len(loc) == 1 and kind in _EXPECTED:
        return Problem(key, f"expected a [{key}] table", at=at)
    field = SECTIONS[loc[0]].model_fields.get(loc[1]) if len(loc) == 2 and loc[0] in SECTIONS else None
    if kind == "literal_error" and field is not None:
        choices = get_args(field.annotation)
        if type(value) is type(choices[0]):
            return Problem(key, not_allowed(value, choices), at=at)
        kind = _LITERAL_TYPES[type(choices[0])]
    if kind in _EXPECTED:
        return Problem(key, f"expected {_EXPECTED[kind]}, got {value!r}", at=at)
    if kind in ("greater_than_equal", "less_than_equal") and field is not None:
        low, high = _bounds(field)
        shown = float(value) if field.annotation is float else value  # 1 in a float key is 1.0
        side = f"below the minimum {low}" if kind == "greater_than_equal" else f"above the maximum {high}"
        return Problem(key, f"{shown} is {side} (allowed: {low}-{high})", at=at)
    if kind == "string_pattern_mismatch" and field is not None:
        return Problem(key, f"{value!r} does not look right ({field.description})", at=at)
    return Problem(key, error["msg"], at=at)  # the schema's own words (see schema._says)


def _bounds(field: FieldInfo) -> tuple[Any, Any]:
    """A number key's allowed range, as its schema gives it (``ge``/``le``)."""
    low = next(m.ge for m in field.metadata if hasattr(m, "ge"))
    high = next(m.le for m in field.metadata if hasattr(m, "le"))
    return low, high


def _known_keys(table: tuple[str, ...]) -> list[str]:
    """The keys allowed at ``table``: the top level, a section, or a pin's inline table."""
    if not table:
        return list(ConfigFile.model_fields)
    if table[0] in VERSION_TABLES:
        return list(PIN_KEYS)
    return [info.alias or name for name, info in SECTIONS[table[0]].model_fields.items()]  # mail.from: an alias


def _suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(options)}"


def _line(text: str, problem: Problem) -> int | None:
    """The line a problem points at: its key's (the ``at`` one, else ``section.key`` of its key)."""
    at = problem.at or tuple(problem.key.split(".", 2)[:2])
    return _line_of(text, at[0], at[1] if len(at) > 1 else None)


def _line_of(text: str, section: str, key: str | None) -> int | None:
    """Find the line of ``[section]`` / ``key =`` in the raw TOML, for messages a user can jump to."""
    current = ""
    header_line = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        match = re.match(r"^\[\s*([^\]]+?)\s*\]", line)
        if match:
            current = match.group(1).strip()
            if current == section:
                header_line = number
            continue
        if key is not None and current == section and re.match(rf"^[\"']?{re.escape(key)}[\"']?\s*=", line):
            return number
    return header_line
