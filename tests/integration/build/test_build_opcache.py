"""``build.opcache_file_cache``: a deploy build of ``php.source = "dir"`` ships WordPress compiled
as /var/task, php-fpm reads it there, and the option leaves no trace when it is off.

The compile and the run at /var/task happen in private mount namespaces (root here); the host's
/var/task is never created or changed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from tests.support.build import SECRET_VALUES, composer_repos, make_project
from tests.support.helpers import DEBIAN_PHP, REPO
from wp_lambda import bundle as build_mod
from wp_lambda.bundle import opcache_cache
from wp_lambda.common.errors import UserError
from wp_lambda.config import CONFIG_FILE, Config, load
from wp_lambda.local.mariadb import MariaDB
from wp_lambda.local.runtime_process import local_layer, runtime_environment
from wp_lambda.render import render_text
from wp_lambda.runtime import routing
from wp_lambda.runtime.opcache import ENV_VAR, PACKAGED

TASK = opcache_cache.TASK_ROOT
# One request in a fresh runtime whose document root is /var/task; prints status and body.
REQUEST_SCRIPT = """
import json, sys
from wp_lambda.runtime.handler import Runtime
from tests.support.lambda_events import v2
runtime = Runtime(json.loads(sys.argv[1]))
try:
    reply = runtime.handle(v2("GET", "/wp-admin/install.php", headers={"Host": "wp.test"}), None)
finally:
    runtime.stop()
print(json.dumps({"status": reply["statusCode"], "body": reply["body"]}))
"""


def _set_option(project: Path, value: bool) -> Config:
    path = project / CONFIG_FILE
    doc = tomlkit.parse(path.read_text())
    doc["build"]["opcache_file_cache"] = value
    path.write_text(tomlkit.dumps(doc))
    return load(project)


@pytest.fixture(scope="module")
def var_task_namespace(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Skip where this machine cannot show a tree at /var/task in a private mount namespace.

    The one place that happens is a chroot (make fresh-check's pristine root): / is not a mount
    point there, so its mounts cannot be made private, and the build refuses (tested below with
    the message it gives). On a machine or in a container the compile runs and these tests do.
    """
    problem = opcache_cache.namespace_error(tmp_path_factory.mktemp("probe"), TASK)
    if problem is not None:
        pytest.skip(f"this machine cannot mount a tree at {TASK} privately, so the build refuses the "
                    f"option here: {problem.message}")


@pytest.fixture(scope="module")
def host_task_root() -> bool:
    """Whether the host has a /var/task before these tests (it must be the same after)."""
    return TASK.exists()


@dataclass(frozen=True)
class Builds:
    """Off, on, off again: the first function.zip's hash, the build with the cache (a copy), the last."""

    off_sha: str
    on: Path
    manifest: dict[str, Any]
    again: build_mod.BuildResult

    @property
    def cache_entry(self) -> dict[str, Any]:
        return self.manifest["inputs"]["opcache_file_cache"]


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory, wp_source: Path, composer_packages: Path,
           host_task_root: bool, var_task_namespace: None) -> Builds:
    """The same project built with the option off, on, and off again.

    Without the translations: Debian's PHP libraries, WordPress with them and the cache's 40 MB
    would be over Lambda's 250 MB (the build refuses that, naming the cache).
    """
    source = Path(shutil.copytree(wp_source, tmp_path_factory.mktemp("opcache-src") / "wordpress", symlinks=True))
    shutil.rmtree(source / "wp-content" / "languages", ignore_errors=True)
    project = make_project(tmp_path_factory.mktemp("opcache") / "site", source,
                           php={"source": "dir", "dir": "/usr", "version": DEBIAN_PHP},
                           build={"composer_repositories": composer_repos(composer_packages)})
    off = build_mod.build(load(project))
    on = build_mod.build(_set_option(project, True))
    kept = tmp_path_factory.mktemp("opcache-on")
    shutil.copytree(on.root, kept / "build", symlinks=True)
    manifest = dict(on.manifest)
    again = build_mod.build(_set_option(project, False))
    return Builds(off.manifest["outputs"]["function.zip"]["sha256"], kept / "build", manifest, again)


def test_the_cache_holds_wordpress_compiled_as_var_task(builds: Builds) -> None:
    function = builds.on / "function"
    entry = builds.cache_entry
    assert len(entry["system_ids"]) == 1
    system_id = entry["system_ids"][0]
    compiled = function / PACKAGED / system_id / "var" / "task"
    assert (compiled / "wp-includes" / "version.php.bin").is_file()
    assert (compiled / "wp-config.php.bin").is_file()
    php_files = [p for p in function.rglob("*.php") if PACKAGED not in p.parts]
    assert entry["files"] + len(entry["skipped"]) == len(php_files)
    assert entry["files"] > 0.9 * len(php_files)
    assert entry["files"] == len(list(compiled.rglob("*.php.bin")))
    # Compiled where Lambda runs it: no build path is in the cache's names.
    assert not list((function / PACKAGED / system_id).glob("tmp"))


def test_the_cache_is_packaged_but_never_served(builds: Builds) -> None:
    root = builds.on
    with zipfile.ZipFile(root / "function.zip") as zf:
        names = zf.namelist()
    assert any(name.startswith(f"{PACKAGED}/") and name.endswith("/wp-includes/version.php.bin") for name in names)
    assert not (root / "assets" / PACKAGED).exists()
    system_id = builds.cache_entry["system_ids"][0]
    target = routing.route(str(root / "function"), f"/{PACKAGED}/{system_id}/var/task/index.php.bin", "")
    assert target.kind == "deny"


def test_no_secret_reaches_the_cache(builds: Builds) -> None:
    for path in (builds.on / "function" / PACKAGED).rglob("*.bin"):
        data = path.read_bytes()
        assert not any(secret.encode() in data for secret in SECRET_VALUES), path


def test_the_option_off_leaves_no_trace(builds: Builds) -> None:
    again = builds.again
    assert not (again.function / PACKAGED).exists()
    assert "opcache_file_cache" not in again.manifest["inputs"]
    assert again.manifest["outputs"]["function.zip"]["sha256"] == builds.off_sha


def test_the_host_var_task_is_untouched(builds: Builds, host_task_root: bool) -> None:
    assert TASK.exists() == host_task_root


def test_a_serve_build_has_no_cache(tmp_path: Path, wp_source: Path) -> None:
    project = make_project(tmp_path / "site", wp_source, php={"source": "dir", "dir": "/usr", "version": DEBIAN_PHP},
                           build={"opcache_file_cache": True})
    result = build_mod.build(load(project), target="serve", php_source=build_mod.debian_php_source())
    assert not (result.function / PACKAGED).exists()


def _request_at_var_task(function: Path, environ: dict[str, str]) -> dict[str, Any]:
    """GET /wp-admin/install.php from a fresh runtime with ``function`` mounted at /var/task."""
    env = {**environ, "PYTHONPATH": str(REPO)}
    env.pop("AWS_LAMBDA_RUNTIME_API", None)
    cmd = [*opcache_cache.namespace_prefix(function, TASK), sys.executable, "-c", REQUEST_SCRIPT,
           json.dumps(env)]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_php_fpm_serves_wordpress_from_the_cache(builds: Builds, tmp_path: Path,
                                                 mariadb: MariaDB) -> None:
    """The tree's version.php is edited after the build: with the cache, php-fpm runs the
    compiled original (so it read the cache); with WPLAMBDA_OPCACHE_FILE_CACHE=off, the edit."""
    function = Path(shutil.copytree(builds.on / "function", tmp_path / "task", symlinks=True))
    version_php = function / "wp-includes" / "version.php"
    original = re.search(r"\$wp_version = '([^']+)';", version_php.read_text())
    assert original is not None
    version_php.write_text(version_php.read_text().replace(original.group(0), "$wp_version = '0.0-edited';"))
    layer = local_layer(Config(), tmp_path / "layer")
    (layer / "php.ini").write_text(render_text("php.ini.j2", Config(), local=False))  # as on Lambda
    mariadb.ensure_database("wp_opcache", "wp_opcache", "opcache-test-password")
    environ = runtime_environment(TASK, layer)
    environ.update(WORDPRESS_DB_HOST=mariadb.wordpress_host, WORDPRESS_DB_NAME="wp_opcache",
                   WORDPRESS_DB_USER="wp_opcache", WORDPRESS_DB_PASSWORD="opcache-test-password",
                   WORDPRESS_SALT="opcache-test-salt")
    cached = _request_at_var_task(function, environ)
    assert cached["status"] == 200
    assert f"ver={original.group(1)}" in cached["body"]
    assert "0.0-edited" not in cached["body"]
    compiled = _request_at_var_task(function, {**environ, ENV_VAR: "off"})
    assert compiled["status"] == 200
    assert "ver=0.0-edited" in compiled["body"]


def test_clashing_files_are_retried_and_a_broken_one_is_left_to_run_time(tmp_path: Path) -> None:
    """Two files declaring one function (as WordPress's noop.php stubs do) both end up cached, each
    compiled in its own process; a file with a parse error (fatal) is listed and warned about."""
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("a.php", "b.php"):
        (tree / name).write_text("<?php\nfunction same_name(): int { return 1; }\n")
    (tree / "broken.php").write_text("<?php\nfunction (\n")
    (tree / "z.php").write_text("<?php\necho 'after the broken one';\n")
    result = opcache_cache.prime(tree, ["/usr/bin/php8.2"], at=tree)
    assert result.skipped == ["broken.php"]
    assert result.files == 3
    compiled = tree / PACKAGED / result.system_ids[0] / tree.relative_to("/")
    assert sorted(p.name for p in compiled.glob("*.bin")) == ["a.php.bin", "b.php.bin", "z.php.bin"]
    assert "broken.php" in result.warnings()[0]


def test_a_chroot_is_refused_with_the_cause_and_nothing_written(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """In a chroot util-linux's unshare cannot make the mounts private (stood in for by a script
    that fails as it does there): the build names the cause and the fix before compiling anything."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "unshare"
    fake.write_text("#!/bin/sh\necho 'unshare: cannot change root filesystem propagation: Invalid argument' >&2\n"
                    "exit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "index.php").write_text("<?php echo 1;\n")
    with pytest.raises(UserError) as caught:
        opcache_cache.prime(tree, ["/usr/bin/php8.2"])
    assert "chroot" in caught.value.message and "propagation" in caught.value.message
    assert caught.value.hint is not None and "build.opcache_file_cache = false" in caught.value.hint
    assert not (tree / PACKAGED).exists()
