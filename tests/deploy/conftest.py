"""Fixtures of the deploy area: moto's server on localhost and a project with a build's output.

The build output is laid out here from Debian's WordPress (the build command is another area):
the static files of wp-admin, wp-includes and wp-content (no PHP, no dotfiles, symlinks
dereferenced; about 1,800 files) plus small function.zip/layer.zip archives.
"""

from __future__ import annotations

import os
import shutil
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import DEBIAN_WORDPRESS, run_wplambda
from moto.server import ThreadedMotoServer

from wp_lambda import project as project_mod

ASSET_TREES = ("wp-admin", "wp-includes", "wp-content")
REGION = "us-east-1"


def lay_out_assets(dest: Path, source: Path = DEBIAN_WORDPRESS) -> int:
    """Copy the static files of ``source`` to ``dest`` with fresh mtimes, as a rebuild would.

    Returns the number of files. ``dest`` is replaced as a whole, like the build replaces it.
    """
    shutil.rmtree(dest, ignore_errors=True)
    count = 0
    for tree in ASSET_TREES:
        for path in sorted((source / tree).rglob("*")):
            rel = path.relative_to(source)
            if any(p.startswith(".") for p in rel.parts) or path.suffix == ".php" or not path.is_file():
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)  # follows symlinks; new mtime
            count += 1
    return count


def write_zip(path: Path, files: dict[str, str]) -> None:
    """A small deterministic zip (fixed timestamps), like the build's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in sorted(files.items()):
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), text)


def lay_out_build(root: Path) -> Path:
    """``root/.wplambda/build`` with assets, function.zip and layer.zip; returns the build dir."""
    build = root / ".wplambda" / "build"
    lay_out_assets(build / "assets")
    write_zip(build / "function.zip", {"index.php": "<?php // front controller\n"})
    write_zip(build / "layer.zip", {"python/wp_lambda/__init__.py": "__version__ = 'test'\n"})
    return build


def make_project(root: Path, name: str = "blog", **answers: str) -> Path:
    """A project as ``wplambda init --yes`` writes it (in-process: no subprocess start-up)."""
    project_mod.init_project(root, {"name": name, "wordpress_source": str(DEBIAN_WORDPRESS), **answers})
    return root


def init_with_cli(root: Path, name: str) -> Path:
    """A fresh project made by the real `wplambda init --yes`, plus a build's output."""
    result = run_wplambda("init", str(root), "--yes", "--name", name, "--wordpress-source", str(DEBIAN_WORDPRESS))
    assert result.returncode == 0, result.stderr
    lay_out_build(root)
    return root


def renew_mtimes(tree: Path) -> None:
    """Move every mtime forward, as a rebuild that rewrote every file would."""
    later = time.time() + 3600
    for path in tree.rglob("*"):
        os.utime(path, (later, later))


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A moto server on localhost on a random port, for this test module."""
    server = ThreadedMotoServer(ip_address="localhost", port=0, verbose=False)
    server.start()
    endpoint = f"http://localhost:{server._server.server_port}"  # type: ignore[union-attr]
    try:
        yield endpoint
    finally:
        # Servers in one process share moto's backends: leave nothing behind for the next module.
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
        server.stop()


@pytest.fixture(scope="module")
def aws_env(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment that points boto3, the kit and `sam` at moto, with no real ~/.aws in reach."""
    home = tmp_path_factory.mktemp("home")
    env = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "HOME": str(home),
        "SAM_CLI_TELEMETRY": "0",
    }
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("AWS_PROFILE", raising=False)
        mp.delenv("AWS_SESSION_TOKEN", raising=False)
        for key, value in env.items():
            mp.setenv(key, value)
        yield env
