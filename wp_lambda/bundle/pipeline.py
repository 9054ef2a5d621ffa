"""``wplambda build``: the steps in order, the input fingerprint, the manifest, the atomic swap.

Everything is written into a temp directory next to the output and swapped in at the end
(:func:`wp_lambda.common.files.atomic_dir`), so a failed, killed or interrupted build leaves the
previous build exactly as it was. Inputs are fingerprinted cheaply (names, sizes, mtimes,
pinned versions) so an unchanged project is recognised in milliseconds; parts whose own inputs
did not change (Composer's vendor/, the layer) are reused from the previous build.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import wp_lambda
from wp_lambda import __version__, render
from wp_lambda.bundle import assets, composer, core, lock, opcache_cache, php, plugins, private, zips
from wp_lambda.bundle.sizes import sizes
from wp_lambda.bundle.tree import FILE_MODE, copy_file, digest_json, stat_signature, walk
from wp_lambda.common.errors import UserError
from wp_lambda.common.files import atomic_dir, atomic_write
from wp_lambda.common.report import QuietReporter, Reporter
from wp_lambda.config import Config

TARGETS = ("deploy", "serve")
# serve builds differ (local PHP, no S3 Uploads); a directory of their own keeps the deploy
# build intact and avoids rebuilding each time one switches between serve and deploy.
OUTPUT_DIRS = {"deploy": Path(".wplambda/build"), "serve": Path(".wplambda/build-serve")}
MANIFEST = "build.json"
PACKAGE_DIR = Path(wp_lambda.__file__).parent
REPO_DIR = PACKAGE_DIR.parent


@dataclass(frozen=True)
class BuildResult:
    """Where the build's outputs are, and its manifest (the parsed ``build.json``)."""

    root: Path
    manifest: dict[str, Any]
    rebuilt: bool
    seconds: float

    @property
    def function(self) -> Path:
        return self.root / "function"

    @property
    def layer(self) -> Path:
        return self.root / "layer"

    @property
    def assets(self) -> Path:
        return self.root / "assets"

    @property
    def function_zip(self) -> Path:
        return self.root / "function.zip"

    @property
    def layer_zip(self) -> Path:
        return self.root / "layer.zip"

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST


def kit_dir() -> Path:
    """The kit's ``wordpress/`` additions: inside the wheel, or at the repository's top level."""
    packaged = PACKAGE_DIR / "_kit" / "wordpress"
    return packaged if packaged.is_dir() else REPO_DIR / "wordpress"


def runtime_files() -> list[tuple[str, Path]]:
    """The layer's Python: ``wp_lambda/__init__.py`` and every ``.py`` under ``wp_lambda/runtime/``,
    plus the PHP scripts the runtime runs from there (``dbio.php``: outside the document root)."""
    files = [("wp_lambda/__init__.py", PACKAGE_DIR / "__init__.py")]
    runtime = PACKAGE_DIR / "runtime"
    if runtime.is_dir():
        files += [(f"wp_lambda/runtime/{rel}", path) for rel, path in walk(runtime)
                  if rel.endswith((".py", ".php")) and "__pycache__" not in rel]
    return files


def output_dir(config: Config, target: str) -> Path:
    if target not in TARGETS:
        raise UserError(f"unknown build target {target!r}", f"use one of: {', '.join(TARGETS)}")
    return config.root / OUTPUT_DIRS[target]


@dataclass(frozen=True)
class _Plan:
    """Everything the build will use, resolved and checked before anything is written."""

    target: str
    s3_uploads: bool
    core: core.CoreSource
    php: php.PhpSource
    rendered: dict[str, str]
    parts: dict[str, str]
    # Compile the tree into an opcache file cache (deploy builds of php.source = "dir" only).
    opcache_file_cache: bool

    @property
    def fingerprint(self) -> str:
        return digest_json({"kit": __version__, "target": self.target, "parts": self.parts})


def _plan(config: Config, target: str, php_source: php.PhpSource | None, s3_uploads: bool = False) -> _Plan:
    output_dir(config, target)
    with_s3 = target == "deploy" or s3_uploads
    source = core.resolve(config)
    php_src = php_source or php.from_config(config)
    rendered = {rel: render.render_text(tpl, config) for rel, tpl in render.OUTPUTS.items() if rel != "template.yaml"}
    runtime_sig = digest_json([(rel, stat_signature(path)) for rel, path in runtime_files()])
    parts = {
        "core": digest_json([source.kind, source.fingerprint(), config.build.exclude]),
        "function_config": digest_json([rendered["wordpress/wp-config.php"], stat_signature(kit_dir())]),
        "composer": digest_json(composer.fingerprint(config)) if with_s3 else "skipped",
        "plugins": digest_json([plugins.fingerprint(config), config.build.wp_cli]),
        "layer": digest_json([__version__, runtime_sig, rendered["php-layer/php.ini"],
                              rendered["php-layer/php-fpm.conf"], php_src.fingerprint(),
                              plugins.wp_cli_signature(config)]),
    }
    opcache = config.build.opcache_file_cache and target == "deploy" and php_src.kind == "dir"
    if opcache:
        parts["opcache_file_cache"] = "on"
    return _Plan(target, with_s3, source, php_src, rendered, parts, opcache)


def read_manifest(root: Path) -> dict[str, Any] | None:
    try:
        return json.loads((root / MANIFEST).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _outputs_intact(root: Path, manifest: dict[str, Any]) -> bool:
    """The zips are still the ones the manifest describes (size and mtime, no content read)."""
    for name in ("function.zip", "layer.zip"):
        recorded = manifest.get("outputs", {}).get(name, {})
        try:
            st = (root / name).stat()
        except FileNotFoundError:
            return False
        if st.st_size != recorded.get("bytes") or st.st_mtime_ns != recorded.get("mtime_ns"):
            return False
    return True


def _current(config: Config, root: Path, previous: dict[str, Any] | None, plan: _Plan) -> bool:
    """The previous build is still right: same inputs, intact outputs, and its zips are the ones
    ``wplambda.lock`` records (a lock from elsewhere that disagrees must be checked by a build)."""
    return (previous is not None and previous.get("fingerprint") == plan.fingerprint
            and _outputs_intact(root, previous)
            and lock.agrees(lock.read(config), previous.get("inputs", {}).get("plugins", [])))


def is_stale(config: Config, target: str = "deploy", *, php_source: php.PhpSource | None = None,
             s3_uploads: bool = False) -> bool:
    """Whether ``build`` would do anything: an input changed, or the outputs are missing."""
    root = output_dir(config, target)
    return not _current(config, root, read_manifest(root), _plan(config, target, php_source, s3_uploads))


def _link_tree(src: Path, dest: Path) -> None:
    """Reuse a previous build's part: hard links (the old tree is deleted after the swap)."""
    shutil.copytree(src, dest, copy_function=os.link)


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """One build per output dir at a time; under the lock, a killed build's temp dir is removed."""
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"another build is writing {root}", "wait for it to finish") from None
        for leftover in root.parent.glob(f".{root.name}.*.tmp"):
            shutil.rmtree(leftover, ignore_errors=True)
        yield


def _build_layer(plan: _Plan, layer: Path) -> dict[str, Any]:
    for rel, path in runtime_files():
        copy_file(path, layer / "python" / rel, mode=FILE_MODE)
    for name in ("php.ini", "php-fpm.conf"):
        dest = layer / "wplambda" / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(plan.rendered[f"php-layer/{name}"])
        dest.chmod(FILE_MODE)
    entry = php.describe(plan.php)
    if plan.php.kind == "dir":
        entry.update(php.copy_binaries(plan.php, layer))
    return entry


def _function_config(plan: _Plan, function: Path) -> set[str]:
    """The project's rendered wp-config.php and the kit's additions (``wordpress/X`` -> ``wp-content/X``);
    return their paths in the function tree (the kit's own files, which ``build.exclude`` cannot drop)."""
    config_file = function / "wp-config.php"
    config_file.write_text(plan.rendered["wordpress/wp-config.php"])
    config_file.chmod(FILE_MODE)
    added = {"wp-config.php"}
    for rel, path in walk(kit_dir()):
        if not rel.split("/")[-1].startswith("."):
            copy_file(path, function / "wp-content" / rel)
            added.add(f"wp-content/{rel}")
    return added


def build(config: Config, *, target: str = "deploy", force: bool = False, progress: Reporter | None = None,
          php_source: php.PhpSource | None = None, s3_uploads: bool = False) -> BuildResult:
    """Build ``.wplambda/build`` (or the serve build) for ``config``; a no-op when nothing changed.

    A deploy build always carries S3 Uploads; a serve build only with ``s3_uploads`` (what
    ``serve --s3-endpoint`` asks for), since local uploads otherwise stay on the local disk.
    """
    started = time.monotonic()
    reporter = progress or QuietReporter()
    plan = _plan(config, target, php_source, s3_uploads)
    root = output_dir(config, target)
    previous = read_manifest(root)
    if not force and previous is not None and _current(config, root, previous, plan):
        reporter.note("nothing changed since the last build: up to date")
        return BuildResult(root, previous, rebuilt=False, seconds=time.monotonic() - started)

    fatal, ext_warnings = php.check_extensions(plan.php)
    if fatal:
        raise UserError("; ".join(fatal), "add the extension to the PHP source, then build again")
    locked = lock.read(config)
    fetched = plugins.fetch_all(config, reporter, locked)  # a zip the lock refuses stops us before any write
    if not _reuses_layer(plan, root, previous):
        plugins.prefetch_wp_cli(config, reporter)  # so does an offline build without the pinned wp-cli
    render.render_project(config)  # keep the project's rendered files in step with what we package
    with _locked(root):
        manifest = _assemble(config, plan, root, previous, reporter, ext_warnings, fetched)
    lock.write(config, lock.merged(config, locked, manifest["inputs"]["plugins"]))
    for warning in manifest["warnings"]:
        reporter.warn(warning)
    return BuildResult(root, manifest, rebuilt=True, seconds=time.monotonic() - started)


def _reuses_layer(plan: _Plan, root: Path, previous: dict[str, Any] | None) -> bool:
    """Whether the previous build's runtime layer is still this plan's (then it is linked, not rebuilt)."""
    return (previous or {}).get("parts", {}).get("layer") == plan.parts["layer"] and (root / "layer.zip").is_file()


def _assemble(config: Config, plan: _Plan, root: Path, previous: dict[str, Any] | None, reporter: Reporter,
              ext_warnings: list[str], fetched: list[plugins.Zip]) -> dict[str, Any]:
    """Every step, written into a temp dir that replaces ``root`` only when all succeeded."""
    target = plan.target
    old_parts = (previous or {}).get("parts", {})
    with atomic_dir(root) as tmp:
        function, layer, work = tmp / "function", tmp / "layer", tmp / ".work"
        function.mkdir()
        manifest: dict[str, Any] = {"kit": __version__, "target": target, "fingerprint": plan.fingerprint,
                                    "parts": plan.parts, "inputs": {}, "warnings": list(ext_warnings)}
        inputs = manifest["inputs"]

        vendor: Path | None = None
        if plan.s3_uploads:
            if old_parts.get("composer") == plan.parts["composer"] and (root / "function" / "vendor").is_dir():
                reporter.step("S3 Uploads: unchanged, reusing vendor/")
                vendor = work / "vendor"
                _link_tree(root / "function" / "vendor", vendor)
                inputs["s3_uploads"] = previous["inputs"]["s3_uploads"]  # type: ignore[index]
            else:
                reporter.step("S3 Uploads: composer install humanmade/s3-uploads")
                vendor, inputs["s3_uploads"] = composer.install(config, work / "composer", reporter)
        else:
            inputs["s3_uploads"] = None
            reporter.note("serve build: S3 Uploads not installed; uploads stay on the local disk")

        reporter.step(f"WordPress core ({plan.core.kind}: {config.wordpress.source})")
        excluded = private.excluder(config.build.exclude)
        source_root, inputs["wordpress"] = core.prepare(plan.core, reporter, config.themes, excluded=excluded)
        if not inputs["wordpress"]["translations"]:
            reporter.note("no translations included: the WordPress source has no wp-content/languages/ "
                          "catalogues (the site runs in English; Debian's wordpress-l10n adds them)")
        core.copy_core(source_root, function, excluded)
        kit_files = _function_config(plan, function)
        inputs["wp_config"] = {"sha256": hashlib.sha256(plan.rendered["wordpress/wp-config.php"].encode()).hexdigest()}
        inputs["plugins"] = plugins.install_all(config, function, reporter, fetched)
        # Before vendor/ joins: Composer's packages are the kit's choice, not the site's source.
        private.drop_excluded_and_refuse_private(function, excluded, kit_files, plan.core.location)
        if vendor is not None:
            shutil.move(str(vendor), function / "vendor")

        if _reuses_layer(plan, root, previous):
            reporter.step("runtime layer: unchanged, reusing it")
            _link_tree(root / "layer", layer)
            os.link(root / "layer.zip", tmp / "layer.zip")
            inputs["php"] = previous["inputs"]["php"]  # type: ignore[index]
            inputs["wp_cli"] = previous["inputs"].get("wp_cli")  # type: ignore[index]
        else:
            reporter.step(f"runtime layer (PHP source: {plan.php.kind})")
            inputs["php"] = _build_layer(plan, layer)
            inputs["wp_cli"] = plugins.add_wp_cli(config, layer, reporter)
        inputs["runtime"] = [rel for rel, _ in runtime_files()]
        if plan.opcache_file_cache:
            reporter.step(f"opcache file cache (the tree compiled as {opcache_cache.TASK_ROOT} by the layer's PHP)")
            command, env = opcache_cache.layer_php(layer)
            primed = opcache_cache.prime(function, command, env=env, progress=reporter)
            inputs["opcache_file_cache"] = primed.manifest()
            manifest["warnings"] += primed.warnings()
        elif config.build.opcache_file_cache:
            reporter.note("serve build: no opcache file cache (it is only valid at /var/task)")

        reporter.step("static assets")
        asset_count, asset_bytes = assets.collect(function, tmp / "assets")
        reporter.step("deterministic zips")
        jobs = {"function.zip": function} if (tmp / "layer.zip").exists() else {"function.zip": function,
                                                                               "layer.zip": layer}
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {name: pool.submit(zips.write_zip, tree, tmp / name) for name, tree in jobs.items()}
            results = {name: f.result() for name, f in futures.items()}
        if "layer.zip" not in results:
            results["layer.zip"] = (previous["outputs"]["layer.zip"]["bytes"],  # type: ignore[index]
                                    previous["outputs"]["layer.zip"]["sha256"])  # type: ignore[index]
        shutil.rmtree(work, ignore_errors=True)

        report = sizes(function, layer, {name: size for name, (size, _) in results.items()})
        manifest["sizes"] = report
        manifest["warnings"] += report["warnings"]
        manifest["outputs"] = {name: {"bytes": size, "sha256": sha, "mtime_ns": (tmp / name).stat().st_mtime_ns}
                               for name, (size, sha) in sorted(results.items())}
        manifest["outputs"]["assets"] = {"files": asset_count, "bytes": asset_bytes}
        if target == "deploy" and report["unzipped_total"] > report["limits"]["unzipped"]:
            fix = "drop languages or plugins you do not need"
            if plan.opcache_file_cache:
                fix += " (or set build.opcache_file_cache = false: the cache is the size of the PHP it holds)"
            raise UserError(report["warnings"][0], f"{fix}, then build again")
        atomic_write(tmp / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
