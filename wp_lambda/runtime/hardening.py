"""The hardening walls the runtime itself enforces, before and after PHP.

``[security]`` in ``wplambda.toml`` reaches the function as :data:`contract.HARDENING_ENV`. Most
walls live in the mu-plugin ``wplambda-hardening.php`` (the login throttle, user enumeration,
install.php), but some requests must never reach PHP at all:

- ``readme.html`` is a static file the runtime answers itself, so no PHP hook can stop it
  (``license.txt`` is never served at all: ``.txt`` is not on the allow-list of static types);
- ``xmlrpc.php`` and ``wp-cron.php`` would each load WordPress and query the database just to be
  told no: refusing them here costs a bot's request microseconds instead of a PHP run.

The refusal is decided on the routed target (its script or file), not on the raw URL, so every
spelling routing accepts (``/xmlrpc%2ephp``, ``/xmlrpc.php/extra``) meets the same wall. The
direct ``cron`` invocation runs wp-cron.php with the PHP CLI, never routed, so the schedule keeps working.

SameSite is added to WordPress's cookies here too, on the way out: WordPress has no setting for it,
and rewriting the ``Set-Cookie`` headers after PHP is immune to the plugin that would replace a
PHP header callback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from wp_lambda.runtime import contract
from wp_lambda.runtime.routing import Route

# Scripts refused with 403 (an endpoint that exists, switched off), by wall.
CLOSED_SCRIPTS = {contract.WALL_XMLRPC: "/xmlrpc.php", contract.WALL_HTTP_CRON: "/wp-cron.php"}
# Files of the document root answered 404, as if absent: they only tell a scanner the version.
CORE_FILES = ("readme.html",)
# WordPress's default names for its auth, secure-auth, logged-in and test cookies.
_WORDPRESS_COOKIE = re.compile(r"\s*wordpress_[A-Za-z0-9_]*=")
_HAS_SAME_SITE = re.compile(r";\s*samesite\s*=", re.IGNORECASE)


@dataclass(frozen=True)
class Walls:
    """The walls that are up on this function (the login throttle's count is the mu-plugin's business)."""

    up: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Walls:
        """Parse contract.HARDENING_ENV (``name:value`` tokens count by name); unknown names do nothing."""
        tokens = environ.get(contract.HARDENING_ENV, "").split(",")
        return cls(frozenset(name for name in (t.strip().partition(":")[0] for t in tokens) if name))

    def refusal(self, document_root: str, target: Route) -> Route | None:
        """The deny route for a routed ``target`` a wall stops, else None."""
        if target.kind == "php":
            for wall, script in CLOSED_SCRIPTS.items():
                if wall in self.up and target.script_name == script:
                    return Route("deny", status=403)
        if target.kind == "static" and contract.WALL_CORE_FILES in self.up and \
                target.filename in (f"{document_root}/{name}" for name in CORE_FILES):
            return Route("deny", status=404)
        return None

    def cookie_headers(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """``headers`` with ``SameSite=Lax`` on each WordPress cookie that sets none (same-site-cookies)."""
        if contract.WALL_SAME_SITE not in self.up:
            return headers
        return [(name, value + "; SameSite=Lax")
                if name.lower() == "set-cookie" and _WORDPRESS_COOKIE.match(value) and not _HAS_SAME_SITE.search(value)
                else (name, value) for name, value in headers]
