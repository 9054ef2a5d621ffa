"""Optional step: a primed opcache file cache in the function package (``build.opcache_file_cache``).

A cold instance otherwise compiles every WordPress file it runs; reading the compiled scripts
from a file cache instead shortens the first request (docs/guides/cold-start.md). Three facts shape
this step:

- The cache is keyed by absolute path and ``__FILE__``/``__DIR__`` are compiled in, so the tree
  must be compiled where Lambda runs it, at /var/task. The compile runs in a private mount
  namespace (util-linux ``unshare``) with the tree bind-mounted there; the host's /var/task is
  never touched (if it does not exist, a tmpfs over its parent exists only in the namespace).
- It is only valid for the PHP build that wrote it (its "system id"), so it is made by the
  layer's own ``bin/php``, started as the runtime starts PHP from the layer (its libraries,
  extensions and php.ini): only ``php.source = "dir"`` ships binaries the build can run.
- ``opcache_compile_file`` fails on some files, at times fatally (WordPress's ``noop.php``
  stubs clash with the functions they stand in for), so files are compiled in batches by fresh
  processes, and a file that ended a process is retried in a new one; those still failing are
  left out and compiled at run time as before.

The output is not byte-reproducible: PHP writes uninitialised memory, and a checksum over it,
into the files. Even with address-space randomisation off (``setarch -R``), 145 of WordPress's
958 files still differed between two compiles, so normalising header fields cannot fix it. The
option is therefore off by default, and with it function.zip differs between otherwise
identical builds (docs/guides/cold-start.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from wp_lambda.common.errors import UserError
from wp_lambda.common.report import QuietReporter, Reporter
from wp_lambda.runtime import contract, layout
from wp_lambda.runtime.opcache import PACKAGED

TASK_ROOT = Path("/var/task")
# Reads paths on stdin and answers one character per path, flushed, so that after a fatal error
# the caller knows which file ended the process.
COMPILE_SCRIPT = r"""
foreach (file('php://stdin', FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES) as $path) {
    echo @opcache_compile_file($path) ? '+' : '-';
    flush();
}
"""
# Bind the tree at its run-time path inside the namespace, then run the compiler there.
NAMESPACE_SCRIPT = """set -e
tree=$1 at=$2; shift 2
[ -d "$at" ] || { mount -t tmpfs wplambda "$(dirname "$at")"; mkdir -p "$at"; }
mount --bind "$tree" "$at"
exec "$@"
"""


@dataclass(frozen=True)
class PrimeResult:
    """What the build compiled: files cached, files left to run-time compilation, size, time."""

    files: int
    skipped: list[str]
    bytes: int
    system_ids: list[str]
    seconds: float

    def manifest(self) -> dict[str, object]:
        return {"files": self.files, "skipped": self.skipped, "bytes": self.bytes, "system_ids": self.system_ids}

    def warnings(self) -> list[str]:
        """What makes the cache useless or partial, for the build's warnings."""
        if self.files == 0:
            return ["opcache file cache: no file was compiled into it; every cold start compiles as before "
                    "(set build.opcache_file_cache = false, or check the layer's bin/php runs here)"]
        if len(self.system_ids) != 1:
            return [f"opcache file cache: {len(self.system_ids)} system ids ({', '.join(self.system_ids)}); "
                    "php-fpm reads only the one it computes itself"]
        if self.skipped:
            return [f"opcache file cache: {len(self.skipped)} files could not be compiled ahead "
                    f"(e.g. {self.skipped[0]}); they are compiled at run time as before"]
        return []


def namespace_prefix(tree: Path, at: Path) -> list[str]:
    """The command prefix that runs the rest with ``tree`` visible at ``at`` (nothing if it is there)."""
    if tree.resolve() == at:
        return []
    unshare = shutil.which("unshare")
    if unshare is None:
        raise UserError("build.opcache_file_cache needs util-linux's unshare to compile the tree at "
                        f"{at}", "apt-get install util-linux, or set build.opcache_file_cache = false")
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return [unshare, *user, "--mount", "--propagation", "private", "sh", "-c", NAMESPACE_SCRIPT, "sh",
            str(tree), str(at)]


def namespace_error(tree: Path, at: Path = TASK_ROOT) -> UserError | None:
    """Why this machine cannot show ``tree`` at ``at`` (None: it can), found by doing it once.

    ``prime`` checks it before it creates the cache folder, so a machine that cannot make the
    namespace leaves the tree as it was; the tests ask the same question to know whether the
    compile can run here at all.
    """
    prefix = namespace_prefix(tree, at)
    if not prefix:
        return None
    result = subprocess.run([*prefix, "true"], capture_output=True, text=True, check=False)
    return None if result.returncode == 0 else _start_failure(result.stderr.strip())


def _start_failure(stderr: str) -> UserError:
    """The error for a compile that could not start, with the fix for its cause."""
    if "propagation" in stderr:
        # util-linux: "cannot change root filesystem propagation". The kernel makes mounts
        # private only at a mount point, and in a chroot / is none; without private mounts the
        # bind at /var/task could leak into the host's mount table, so the build does not try.
        return UserError(f"build.opcache_file_cache: cannot make a private mount namespace here ({stderr}); "
                         "this happens when the build runs in a chroot, where / is not a mount point",
                         "build outside the chroot (a VM or container is fine), or set "
                         "build.opcache_file_cache = false")
    return UserError(f"build.opcache_file_cache: the compile could not start: {stderr}",
                     "run the build as root (or where unprivileged user namespaces are allowed), "
                     "or set build.opcache_file_cache = false")


def layer_php(layer: Path) -> tuple[list[str], dict[str, str]]:
    """The command and environment that run the layer's CLI as the runtime does on Lambda: the
    runtime's own "dir" layout, with the built layer where /opt will be."""
    php = layout.from_env({contract.PHP_LAYOUT_ENV: "dir", contract.PHP_PREFIX_ENV: str(layer)})
    return [php.php, *php.ini_args], php.environ(os.environ)


def _compile(cmd: list[str], paths: list[str], env: dict[str, str] | None) -> tuple[list[str], list[str]]:
    """Compile ``paths`` in as many fresh processes as fatal errors require: (compiled, failed)."""
    compiled: list[str] = []
    failed: list[str] = []
    rest = paths
    while rest:
        result = subprocess.run(cmd, input="\n".join(rest), capture_output=True, text=True, env=env, check=False)
        answers = result.stdout
        if not answers and result.returncode != 0 and result.stderr.strip():
            raise _start_failure(result.stderr.strip())
        for path, answer in zip(rest, answers, strict=False):
            (compiled if answer == "+" else failed).append(path)
        if len(answers) < len(rest):  # a fatal error ended the process on this file
            failed.append(rest[len(answers)])
        rest = rest[len(answers) + 1:]
    return compiled, failed


def prime(tree: Path, php: list[str], *, env: dict[str, str] | None = None, at: Path = TASK_ROOT,
          progress: Reporter | None = None) -> PrimeResult:
    """Compile every ``.php`` under ``tree``, as seen at ``at``, into ``tree``/.wplambda-opcache.

    ``php`` (with ``env``) runs the CLI of the PHP that will read the cache (:func:`layer_php`);
    ``at`` is where the tree runs (Lambda's /var/task; the benchmark passes the tree itself).
    Failed files are retried in fresh processes as long as a round compiles any of them: a file
    can fail only because one compiled before it in the same process declared the same names.
    """
    started = time.monotonic()
    reporter = progress or QuietReporter()
    problem = namespace_error(tree, at)
    if problem is not None:
        raise problem
    cache = tree / PACKAGED
    if cache.exists():
        shutil.rmtree(cache)
    cache.mkdir()
    # The settings below only steer the compile; the system id comes from the binary and the
    # extensions it loads, so php-fpm started from the same layer finds these files.
    # The tree was just written: without file_update_protection = 0, opcache would skip (and not
    # report) every file modified in the last 2 seconds.
    cmd = [*namespace_prefix(tree, at), *php,
           "-d", "opcache.enable_cli=1", "-d", f"opcache.file_cache={at / PACKAGED}",
           "-d", "opcache.file_cache_only=0", "-d", "opcache.validate_timestamps=0",
           "-d", "opcache.file_update_protection=0",
           "-d", "opcache.memory_consumption=256", "-d", "opcache.max_accelerated_files=100000",
           "-d", "display_errors=0", "-d", "log_errors=0", "-r", COMPILE_SCRIPT]
    sources = sorted(str(p.relative_to(tree)) for p in tree.rglob("*.php") if PACKAGED not in p.relative_to(tree).parts)
    reporter.note(f"opcache file cache: compiling {len(sources)} PHP files as {at}")
    todo = [str(at / rel) for rel in sources]
    while todo:
        done, todo = _compile(cmd, todo, env)
        if not done:
            break
    ids = sorted(p.name for p in cache.iterdir())
    # What is on disk counts, not what opcache_compile_file answered: it also answers true for a
    # file it compiled into memory but did not write.
    written = {str(p.relative_to(cache / name / at.relative_to("/")))[:-len(".bin")]
               for name in ids for p in (cache / name / at.relative_to("/")).rglob("*.php.bin")}
    size = sum(p.stat().st_size for p in cache.rglob("*.bin"))
    skipped = [rel for rel in sources if rel not in written]
    return PrimeResult(len(sources) - len(skipped), skipped, size, ids, time.monotonic() - started)
