"""What the kit writes into ``wplambda.toml``, through tomlkit so a user's comments and layout survive.

``init`` writes the whole file (:func:`toml_text`), each key under its description as a comment;
``wplambda plugin add``/``update``/``remove`` edit pins in place, writing each entry in the form
:func:`pin_value` gives.
"""

from __future__ import annotations

from typing import Any

import tomlkit

from wp_lambda.config.schema import SECTIONS, VERSION_TABLES, Config, declared_active


def pin_value(version: str, active: bool | None) -> str | dict[str, Any]:
    """How one entry is written: the short ``slug = "1.2.3"`` unless an ``active`` state is declared."""
    if active is None:
        return version
    table = tomlkit.inline_table()
    table.update({"version": version, "active": active})
    return table


def toml_text(config: Config) -> str:
    """The commented ``wplambda.toml`` for ``config``: every key, each with its description as a comment."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment("wplambda project config. `wplambda render` re-renders template.yaml and"))
    doc.add(tomlkit.comment("wp-config.php from it; `wplambda validate` checks it. Secrets never go here."))
    for name, model in SECTIONS.items():
        table = tomlkit.table()
        section = getattr(config, name)
        for key, info in model.model_fields.items():
            table.add(tomlkit.comment(info.description or ""))
            table.add(info.alias or key, getattr(section, key))
        doc.add(tomlkit.nl())
        doc.add(name, table)
    for name in VERSION_TABLES:
        table = tomlkit.table()
        table.add(tomlkit.comment(f"{name[:-1].capitalize()}s installed at build time: slug = \"pinned version\", "
                                  "or slug = { version = \"...\", active = true }"))
        table.add(tomlkit.comment("to have each deploy activate (or, for plugins, deactivate) it on the live site."))
        for slug, version in sorted(getattr(config, name).items()):
            table.add(slug, pin_value(version, declared_active(config, name, slug)))
        doc.add(tomlkit.nl())
        doc.add(name, table)
    return tomlkit.dumps(doc)
