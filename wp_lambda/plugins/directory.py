"""The plugin directory's API: the latest version of a plugin or theme.

wordpress.org answers ``GET <base>/plugins/info/1.2/?action=plugin_information&request[slug]=SLUG``
(``themes/info/1.2/`` with ``theme_information`` for themes) with a JSON object whose ``version``
is the newest release and ``download_link`` its zip; an unknown slug gets an ``error`` member
(with a 404 for plugins). The base is ``build.plugin_api``, so a mirror, or the tests' server on
127.0.0.1, answers instead. Only the version is used: the zip itself still comes from
``build.plugin_mirror`` through the build's own download path and the lock.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from wp_lambda.common import fetch
from wp_lambda.common.errors import UserError
from wp_lambda.config import VERSION_RE, Config


@dataclass(frozen=True)
class Release:
    """The newest release of one plugin or theme, as the directory states it."""

    kind: str
    slug: str
    version: str
    download_link: str


def info_url(base: str, kind: str, slug: str) -> str:
    query = urllib.parse.urlencode({"action": f"{kind}_information", "request[slug]": slug})
    return f"{base.rstrip('/')}/{kind}s/info/1.2/?{query}"


def latest(config: Config, kind: str, slug: str) -> Release:
    """Ask the directory for the newest release; a slug it does not know is the user's to fix."""
    url = info_url(config.build.plugin_api, kind, slug)
    fix = f"check the slug on wordpress.org/{kind}s/, or pin a version yourself with --version"
    try:
        body = fetch.fetch_bytes(url, what=f"{kind} directory entry for {slug}")
    except fetch.NotFound:
        raise UserError(f"the {kind} directory at {config.build.plugin_api} has no {kind} {slug!r}", fix) from None
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        raise UserError(f"{url} did not answer JSON", "check build.plugin_api in wplambda.toml") from None
    if not isinstance(data, dict) or data.get("error") or not data.get("version"):
        reason = data.get("error") if isinstance(data, dict) and data.get("error") else "no version in the answer"
        raise UserError(f"the {kind} directory at {config.build.plugin_api} has no {kind} {slug!r} ({reason})", fix)
    version = str(data["version"])
    if not re.match(VERSION_RE, version):
        raise UserError(f"{url} states version {version!r}, which cannot be pinned", "pin one with --version")
    return Release(kind, slug, version, str(data.get("download_link", "")))


def version_key(version: str) -> list[tuple[int, str]]:
    return [(int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"[.+_-]", version)]


def newest_in_directory(mirror: Path, kind: str, slug: str) -> str:
    """The highest version of ``slug`` in a local mirror directory: such a mirror is its own
    directory, since a build can only install what it holds."""
    versions = [p.name[len(slug) + 1:-4] for p in (mirror / kind).glob(f"{slug}.*.zip")]
    if not versions:
        raise UserError(f"{slug} is not in the mirror {mirror}/{kind}/", "check the slug, or add its zip there")
    return max(versions, key=version_key)
