"""Refresh the committed top-level ``template.yaml`` (``make template``).

It is the rendering of the default config, so a reader of the repository sees exactly what
``wplambda init --yes`` deploys; ``tests/template`` fails when it drifts from the Jinja source.
"""

from __future__ import annotations

from pathlib import Path

from wp_lambda.config import Config
from wp_lambda.fsutil import write_if_changed
from wp_lambda.render import render_text

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    changed = write_if_changed(REPO / "template.yaml", render_text("template.yaml.j2", Config(root=REPO)))
    print("template.yaml " + ("refreshed" if changed else "already up to date"))


if __name__ == "__main__":
    main()
