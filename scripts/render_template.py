"""Refresh the committed renderings of the default config (``make template``): the top-level
``template.yaml`` and the layer's ``php-layer/php.ini`` and ``php-layer/php-fpm.conf``.

A reader of the repository sees exactly what ``wplambda init --yes`` deploys;
``tests/integration/template`` fails when they drift from the Jinja sources.
"""

from __future__ import annotations

from pathlib import Path

from wp_lambda.common.files import write_if_changed
from wp_lambda.config import Config
from wp_lambda.render import render_text

REPO = Path(__file__).resolve().parents[1]


# Committed file -> the template it renders from (the same pairs a project gets).
COMMITTED = {"template.yaml": "template.yaml.j2", "php-layer/php.ini": "php.ini.j2",
             "php-layer/php-fpm.conf": "php-fpm.conf.j2"}


def main() -> None:
    for rel, template in COMMITTED.items():
        changed = write_if_changed(REPO / rel, render_text(template, Config(root=REPO)))
        print(f"{rel} " + ("refreshed" if changed else "already up to date"))


if __name__ == "__main__":
    main()
