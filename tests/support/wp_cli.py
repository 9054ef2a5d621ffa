"""Helpers of the wp-cli tests: the project's settings and running `wplambda wp` as a user would."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.helpers import run_wplambda
from wp_lambda.serve import LocalPaths

CONSOLE_TIMEOUT = 6
ADMIN_PASSWORD = "wp-cli-admin-password-1"


def set_key(project: Path, section: str, key: str, value: str) -> None:
    """Set ``key`` in ``[section]`` of the project's wplambda.toml (the line init wrote)."""
    path = project / "wplambda.toml"
    lines = path.read_text().splitlines()
    current = None
    for index, line in enumerate(lines):
        if line.startswith("["):
            current = line.strip("[]")
        elif current == section and line.startswith(f"{key} ="):
            lines[index] = f"{key} = {value}"
            break
    else:
        raise AssertionError(f"no {section}.{key} in {path}")
    path.write_text("\n".join(lines) + "\n")


def local_paths(project: Path) -> LocalPaths:
    return LocalPaths(project / ".wplambda" / "local")


def wp(project: Path, *args: str, json_out: bool = False, where: tuple[str, ...] = ("--local",),
       env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`wplambda wp WHERE [--json] -- ARGS` through the console script."""
    flags = ["--json"] if json_out else []
    return run_wplambda("wp", *where, "--project", str(project), *flags, "--", *args, env=env)
