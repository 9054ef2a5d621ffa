"""``wplambda.lock``: a zip whose bytes changed under the same version stops the build with exit 2,
before anything is written, whether it comes from a mirror directory, from a URL mirror on a
machine with an empty cache, or from a lock that disagrees with an up-to-date build."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.support.helpers import run_wplambda
from tests.support.plugin_directory import PLUGIN, Directory, plugin_files
from tests.support.plugins import make_project
from wp_lambda.bundle import lock
from wp_lambda.config import load


def _state(root: Path) -> dict[str, tuple[int, int]]:
    """Every file of the project (build output included) by size and mtime: cheap, and any write shows."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def _build(project: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return run_wplambda("build", "--target", "serve", "--project", str(project),
                        env={"WPLAMBDA_CACHE_DIR": str(cache)})


def test_changed_zip_in_a_mirror_directory_is_refused(tmp_path: Path, wp_source: Path, directory: Directory,
                                                      cache: Path) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(directory.root, mirror)
    project = make_project(tmp_path / "site", wp_source, {"plugin_mirror": str(mirror)})
    assert run_wplambda("plugin", "add", PLUGIN, "--version", "1.0.0", "--no-build",
                        "--project", str(project)).returncode == 0
    first = _build(project, cache)
    assert first.returncode == 0, first.stderr
    recorded = json.loads((project / "wplambda.lock").read_text())["plugins"][PLUGIN]

    # Same name, same version, different bytes: what a tampered mirror serves.
    zip_path = mirror / "plugin" / f"{PLUGIN}.1.0.0.zip"
    original = zip_path.read_bytes()
    directory.publish("plugin", PLUGIN, "1.0.0", plugin_files(PLUGIN, "1.0.0", "echo 'injected';\n"))
    shutil.copyfile(directory.root / "plugin" / f"{PLUGIN}.1.0.0.zip", zip_path)
    before = _state(project)
    refused = _build(project, cache)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    message = " ".join(refused.stderr.split())
    assert f"wplambda.lock: plugins.{PLUGIN} 1.0.0 has changed" in message
    assert recorded["sha256"] in message and "Nothing was installed or written" in message
    assert "Traceback" not in message
    assert _state(project) == before  # no lock, config, rendered file or build output was touched

    # A lock that disagrees with an up-to-date build (say, a teammate's, from git) is checked too.
    zip_path.write_bytes(original)
    restored = _build(project, cache)
    assert restored.returncode == 0, restored.stderr
    lock_file = project / "wplambda.lock"
    data = json.loads(lock_file.read_text())
    assert data["plugins"][PLUGIN] == recorded
    data["plugins"][PLUGIN]["sha256"] = "0" * 64
    lock_file.write_text(json.dumps(data))
    disagreeing = _build(project, cache)
    assert disagreeing.returncode == 2, disagreeing.stdout
    assert "0" * 64 in " ".join(disagreeing.stderr.split())


def test_changed_zip_behind_a_url_is_refused_and_never_cached(project: Path, directory: Directory,
                                                              tmp_path: Path) -> None:
    assert run_wplambda("plugin", "add", PLUGIN, "--no-build", "--project", str(project),
                        env={"WPLAMBDA_CACHE_DIR": str(tmp_path / "cache-a")}).returncode == 0
    directory.publish("plugin", PLUGIN, "1.0.0", plugin_files(PLUGIN, "1.0.0", "echo 'injected';\n"))
    before = _state(project)
    fresh = tmp_path / "cache-b"  # a CI machine: nothing cached, so the changed bytes are downloaded
    refused = _build(project, fresh)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"plugins.{PLUGIN} 1.0.0 has changed" in " ".join(refused.stderr.split())
    assert _state(project) == before
    assert not list(fresh.rglob("*.zip"))  # the refused bytes did not stick in the cache


def test_lock_holds_exactly_the_pinned_items(tmp_path: Path) -> None:
    config = load(_bare(tmp_path))
    assert lock.write(config, lock.merged(config, lock.read(config), [])) is False
    assert not lock.path(config).exists()  # nothing pinned: no lock file to commit
    config.plugins = {"a": "1.0", "b": "2.0"}
    entries: lock.Entries = {"plugin": {"a": {"version": "1.0", "sha256": "aa"},
                                        "b": {"version": "1.9", "sha256": "bb"},
                                        "gone": {"version": "1", "sha256": "cc"}}, "theme": {}}
    fresh = [{"kind": "plugin", "slug": "b", "version": "2.0", "sha256": "b2"},
             {"kind": "plugin", "slug": "stale", "version": "1", "sha256": "dd"}]
    assert lock.merged(config, entries, fresh) == {
        "plugin": {"a": {"version": "1.0", "sha256": "aa"}, "b": {"version": "2.0", "sha256": "b2"}}, "theme": {}}
    assert lock.write(config, lock.merged(config, entries, fresh)) is True
    assert lock.write(config, lock.read(config)) is False  # unchanged: not rewritten


def _bare(tmp_path: Path) -> Path:
    from wp_lambda.project import init_project

    init_project(tmp_path / "bare", {})
    return tmp_path / "bare"
