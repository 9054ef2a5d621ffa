"""The config described for editors and people: ``wplambda config schema`` and the docs' reference.

The JSON Schema comes from the same models that validate ``wplambda.toml``, so an editor (taplo,
Even Better TOML) flags what ``wplambda validate`` would refuse, and the config reference lists
what the kit accepts. It is written in the JSON Schema draft-07 dialect, which editor tooling reads
most widely.
"""

from __future__ import annotations

from typing import Any

from wp_lambda.config.checks import PHP_VERSIONS
from wp_lambda.config.schema import CONFIG_FILE, ConfigFile

JSON_SCHEMA_DIALECT = "http://json-schema.org/draft-07/schema#"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``wplambda.toml``: every table and key with its type, default, rule and
    description. The PHP versions, which Bref's packaged lists decide, are filled in here."""
    schema = ConfigFile.model_json_schema(ref_template="#/definitions/{model}")
    schema["definitions"] = schema.pop("$defs")
    schema["definitions"]["Php"]["properties"]["version"]["enum"] = list(PHP_VERSIONS)
    return {"$schema": JSON_SCHEMA_DIALECT, **_draft_07(schema), "title": CONFIG_FILE,
            "description": "The wplambda project config (wplambda.toml)."}


def _draft_07(node: Any) -> Any:
    """pydantic writes a described table as ``{"$ref": ..., "description": ...}``; draft-07 ignores
    keywords beside ``$ref``, so the reference goes into ``allOf`` and editors show the description."""
    if isinstance(node, list):
        return [_draft_07(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _draft_07(value) for key, value in node.items()}
    if "$ref" in node and len(node) > 1:
        node = {"allOf": [{"$ref": node.pop("$ref")}], **node}
    return node
