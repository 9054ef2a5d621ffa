"""Creating a project: ``wplambda init``'s logic, without the prompts.

The config is built from defaults plus the user's answers, then round-tripped through the same
parser ``wplambda.toml`` goes through, so ``init`` can never write a config that ``validate``
would reject. Nothing is written until every file has rendered.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from wp_lambda import render
from wp_lambda.common.errors import UserError
from wp_lambda.common.files import atomic_write
from wp_lambda.config import CONFIG_FILE, Config, parse, toml_text
from wp_lambda.config.concurrency import reservation

# init's answers: option name -> (section, key). One table so flags and prompts cannot drift.
INIT_KEYS: dict[str, tuple[str, str]] = {
    "name": ("site", "name"),
    "title": ("site", "title"),
    "admin_email": ("site", "admin_email"),
    "region": ("aws", "region"),
    "arch": ("aws", "architecture"),
    "network": ("network", "mode"),
    "database": ("database", "mode"),
    "db_host": ("database", "host"),
    "db_user": ("database", "user"),
    "db_secret_arn": ("database", "secret_arn"),
    "front_door": ("function", "front_door"),
    "storage": ("storage", "mode"),
    "wordpress_source": ("wordpress", "source"),
}


def site_name_for(directory: Path) -> str:
    """The site name ``init DIR`` proposes: the folder's name as a valid site name (lower case,
    letters, digits and dashes, starting with a letter), since it also names the stack and buckets."""
    slug = re.sub(r"[^a-z0-9-]+", "-", directory.name.lower()).strip("-")
    return slug if slug and slug[0].isalpha() else f"wp-{slug}".strip("-")


def init_answer(config: Config, option: str) -> str:
    """The value of ``init``'s ``option`` in ``config`` as ``init`` takes it (the inverse of
    :func:`build_config`), so a prompt can offer it as the default."""
    if option == "php_source":
        return config.php.dir if config.php.source == "dir" else "bref"
    section, key = INIT_KEYS[option]
    return str(getattr(getattr(config, section), key))


def build_config(root: Path, answers: dict[str, Any]) -> Config:
    """A validated config from defaults and ``answers`` (``None`` values keep the default)."""
    config = Config(root=root)
    for option, value in answers.items():
        if value is None:
            continue
        if option == "php_source":
            # "bref", or a directory of PHP binaries.
            if value == "bref":
                config.php.source = "bref"
            else:
                config.php.source, config.php.dir = "dir", str(value)
            continue
        section, key = INIT_KEYS[option]
        setattr(getattr(config, section), key, value)
    if config.database.mode == "aurora-serverless-v2" and config.network.mode == "public" \
            and answers.get("database") is None:
        # The default database needs a VPC; a user who chose a public network without choosing a
        # database gets the one that works there instead of an error about a default.
        config.database.mode = "external"
    if config.aws.architecture == "arm64" and config.php.source == "bref":
        # Bref's gd and imagick layers are x86_64 only; an arm64 site is written without them
        # (the file says so next to the key) instead of failing on a default it never chose.
        config.php.extensions = []
    return parse(toml_text(config), root=root, path=root / CONFIG_FILE)


GITIGNORE = "# wplambda: build output and local state (never commit: it holds local secrets)\n.wplambda/\n"


def init_project(root: Path, answers: dict[str, Any], *, force: bool = False) -> list[Path]:
    """Write ``wplambda.toml`` and the rendered project files into ``root``; return what was written."""
    config = build_config(root, answers)
    files = {CONFIG_FILE: toml_text(config)}
    files.update({rel: render.render_text(tpl, config) for rel, tpl in render.OUTPUTS.items()})
    existing = [rel for rel in files if (root / rel).exists()]
    if existing and not force:
        raise UserError(f"{root} already has {', '.join(existing)}", "pass --force to overwrite them")
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for rel, text in files.items():
        atomic_write(root / rel, text)
        written.append(root / rel)
    ignore = root / ".gitignore"
    if not ignore.exists():
        # Builds and `serve`'s local state (database, uploads, its generated DB password and
        # salt) must never be committed with the project.
        atomic_write(ignore, GITIGNORE)
        written.append(ignore)
    return written


def concurrency_line(config: Config) -> str:
    """What ``init`` and ``validate`` print about function.reserved_concurrency: the number and why."""
    return reservation(config).explanation


def summary(config: Config) -> dict[str, Any]:
    """What a deploy of this config would create, for ``make demo`` and ``validate --json``."""
    return {
        "site": config.site.name,
        "region": config.aws.region,
        "architecture": config.aws.architecture,
        "php": f"{config.php.version} ({config.php.source})",
        "front_door": config.function.front_door,
        "network": config.network.mode,
        "database": config.database.mode,
        "function": config.function.model_dump(),
        "concurrency": concurrency_line(config),
        "domains": config.site.domains,
        "plugins": config.plugins,
    }
