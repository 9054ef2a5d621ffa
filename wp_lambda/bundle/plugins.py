"""Step 3: plugins and themes pinned in ``wplambda.toml``, from wordpress.org or a mirror.

Every zip comes through :mod:`wp_lambda.common.fetch` from ``<build.plugin_mirror>/plugin/
<slug>.<version>.zip`` (``theme/`` for themes): wordpress.org's own layout, so a URL mirror, a
mirror on 127.0.0.1 and a local directory of zips are the same code path. It is then installed
with wp-cli when one is available (which needs a database: a throwaway MariaDB), otherwise
unpacked directly; either way its sha256 and version go into ``build.json``, and every zip is
checked against ``wplambda.lock`` (:mod:`wp_lambda.bundle.lock`) before anything is installed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wp_lambda.bundle import lock
from wp_lambda.bundle.tools import PinnedPhar
from wp_lambda.bundle.tree import EXEC_MODE, FILE_MODE, stat_signature
from wp_lambda.common import fetch
from wp_lambda.common.errors import UserError
from wp_lambda.common.report import Reporter
from wp_lambda.config import Config
from wp_lambda.runtime import contract

# Where the runtime layer carries wp-cli (/opt/wplambda/wp-cli.phar on Lambda): outside the document
# root, so no URL can reach it; the handler finds it there by the same contract.
from wp_lambda.runtime.contract import WP_CLI_IN_LAYER

KINDS = {"plugin": "plugins", "theme": "themes"}
# The sha512 wp-cli publishes beside the release (``wp-cli-2.12.0.phar.sha512``), pinned here so a
# mirror (WPLAMBDA_WP_CLI_URL) cannot swap the phar by publishing a checksum of its own. The same
# value is pinned by Docker's official image (docker-library/wordpress, cli Dockerfiles:
# WORDPRESS_CLI_SHA512) and by other public build scripts that check the downloaded release; its
# sha256 there (Homebrew's wp-cli formula, among others) is ce34ddd8...68220d85c. It was not checked
# against the official bytes here (this machine has no internet). Bump version, URL and digest together.
WP_CLI_SHA512 = ("be928f6b8ca1e8dfb9d2f4b75a13aa4aee0896f8a9a0a1c45cd5d2c98605e617"
                 "2e6d014dda2e27f88c98befc16c040cbb2bd1bfa121510ea5cdf5f6a30fe8832")
# A wp-cli.phar on this machine that stands in for the pinned release wherever build.wp_cli is
# "pinned" (init's default): an offline machine, or CI holding a copy it has vetted, builds every
# project without editing its config. It is the user's own choice of file, so it is not checked
# against the pin (a copy of the official release is: give it to WPLAMBDA_WP_CLI_URL instead).
ENV_WP_CLI_PHAR = "WPLAMBDA_WP_CLI_PHAR"
WP_CLI = PinnedPhar("wp-cli", "2.12.0", "https://github.com/wp-cli/wp-cli/releases/download/v2.12.0/wp-cli-2.12.0.phar",
                    "sha512", ".sha512", "WPLAMBDA_WP_CLI_URL",
                    f"set {ENV_WP_CLI_PHAR} (or build.wp_cli in wplambda.toml) to a wp-cli.phar on this machine, "
                    "or build.wp_cli = \"\" to build without wp-cli (`wplambda wp` then cannot run)",
                    digest=WP_CLI_SHA512)

def mirror(config: Config) -> str:
    """The download base: a URL, or a local directory (relative to the project)."""
    base = config.build.plugin_mirror
    if fetch.is_url(base):
        return base
    path = Path(base).expanduser()
    path = path if path.is_absolute() else config.root / path
    if not path.is_dir():
        raise UserError(f"build.plugin_mirror: {path} is not a directory",
                        "use a URL such as https://downloads.wordpress.org or a directory holding "
                        "plugin/<slug>.<version>.zip and theme/<slug>.<version>.zip")
    return str(path)


def wanted(config: Config) -> list[tuple[str, str, str]]:
    """(kind, slug, version) of everything to install, in a stable order."""
    return [("plugin", s, v) for s, v in sorted(config.plugins.items())] + \
           [("theme", s, v) for s, v in sorted(config.themes.items())]


def fingerprint(config: Config) -> str:
    """Pinned names and versions, plus the zips' signatures when the mirror is a local directory."""
    base = mirror(config) if wanted(config) else config.build.plugin_mirror
    parts = [base]
    for kind, slug, version in wanted(config):
        parts.append(f"{kind}/{slug}.{version}")
        if not fetch.is_url(base):
            parts.append(stat_signature(Path(fetch.join(base, f"{kind}/{slug}.{version}.zip"))))
    return "\n".join(parts)


def download(base: str, kind: str, slug: str, version: str, reporter: Reporter,
             locked: lock.Entries | None = None) -> Path:
    """The zip on disk: a local mirror's file as is, a URL mirror's through the cache.

    With ``locked`` (``wplambda.lock``'s entries) the bytes are checked against the recorded
    sha256 first; a downloaded zip that fails is never cached, so it cannot stick.
    """
    relative = f"{kind}/{slug}.{version}.zip"
    source = fetch.join(base, relative)

    def check(sha256: str, where: str) -> None:
        if locked is not None:
            lock.verify(locked, kind, slug, version, sha256, where)

    if not fetch.is_url(base):
        if not Path(source).is_file():
            raise UserError(f"{KINDS[kind]}.{slug}: {relative} is not in the mirror {base}",
                            "add it there, or fix the pinned version in wplambda.toml")
        check(fetch.file_digest(Path(source)), source)
        return Path(source)
    key = f"{KINDS[kind]}/{hashlib.sha256(base.encode()).hexdigest()[:12]}/{slug}.{version}.zip"

    def produce() -> bytes:
        with reporter.transfer(f"downloading {relative}") as progress:
            try:
                data = fetch.fetch_bytes(source, progress=progress, what=f"{kind} {slug} {version}")
            except fetch.NotFound:
                raise UserError(f"{KINDS[kind]}.{slug}: version {version} is not at {source}",
                                "check the slug and the pinned version in wplambda.toml") from None
        check(hashlib.sha256(data).hexdigest(), source)
        return data

    path = fetch.cached(key, produce)
    check(fetch.file_digest(path), f"{source} (cached as {path})")
    return path


def _header_version(path: Path, kind: str) -> str | None:
    """The ``Version:`` header of a plugin's main file or a theme's style.css."""
    candidates = [path / "style.css"] if kind == "theme" else sorted(path.glob("*.php"))
    for candidate in candidates:
        head = candidate.read_bytes()[:8192].decode(errors="replace")
        if kind == "plugin" and "Plugin Name:" not in head:
            continue
        match = re.search(r"^[ \t/*#@]*Version:\s*(\S+)", head, re.MULTILINE)
        if match:
            return match.group(1)
    return None


def unzip(archive: Path, dest_root: Path, slug: str) -> None:
    """Unpack a wordpress.org zip (one top-level ``<slug>/`` folder) with normalised modes."""
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            for info in infos:
                parts = Path(info.filename).parts
                if info.filename.startswith("/") or ".." in parts or not parts or parts[0] != slug:
                    raise UserError(f"{archive.name}: entry {info.filename!r} is outside {slug}/",
                                    "a wordpress.org zip holds exactly one folder named after the slug")
            target = dest_root / slug
            shutil.rmtree(target, ignore_errors=True)
            for info in infos:
                out = dest_root / info.filename
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(zf.read(info))
                out.chmod(EXEC_MODE if (info.external_attr >> 16) & 0o111 else FILE_MODE)
    except zipfile.BadZipFile as exc:
        raise UserError(f"{archive} is not a valid zip: {exc}", "replace it in the mirror") from None


@dataclass(frozen=True)
class WpCli:
    """How to run wp-cli: ``[php, wp-cli.phar]`` or a ``wp`` on PATH."""

    command: tuple[str, ...]
    origin: str


def _stand_in() -> Path | None:
    """``WPLAMBDA_WP_CLI_PHAR`` as a path, when set."""
    value = os.environ.get(ENV_WP_CLI_PHAR)
    return Path(value).expanduser().absolute() if value else None


def pinned_phar(reporter: Reporter) -> tuple[Path, str]:
    """The phar behind ``build.wp_cli = "pinned"`` and what it is: ``WPLAMBDA_WP_CLI_PHAR``'s file
    when set (said in the output, since it skips the pin), else the pinned release, from the cache
    or downloaded and checked against its sha512 (an offline build stops here with the fixes)."""
    stand_in = _stand_in()
    if stand_in is None:
        return WP_CLI.path(reporter), f"wp-cli {WP_CLI.version} (pinned, sha512 verified)"
    if not stand_in.is_file():
        raise UserError(f"{ENV_WP_CLI_PHAR}={stand_in} does not exist",
                        f"point it at a wp-cli.phar, or unset it to download the pinned wp-cli {WP_CLI.version}")
    reporter.note(f"wp-cli: {ENV_WP_CLI_PHAR}={stand_in} stands in for the pinned release {WP_CLI.version} "
                  "(your file, not checked against the pinned sha512)")
    return stand_in, f"{stand_in.name} ({ENV_WP_CLI_PHAR})"


def prefetch_wp_cli(config: Config, reporter: Reporter) -> None:
    """Bring the pinned release into the cache (``WP_CLI.path``) before the build writes anything,
    so an offline build without it stops with the fixes and no half-written output."""
    if config.build.wp_cli == "pinned" and _stand_in() is None:
        WP_CLI.path(reporter)


def find_wp_cli(config: Config, reporter: Reporter) -> WpCli | None:
    """``build.wp_cli``: a phar path, "pinned" (download the pinned release), or empty (``wp`` on PATH)."""
    setting = config.build.wp_cli
    php = shutil.which("php") or "php"
    if setting == "pinned":
        phar, origin = pinned_phar(reporter)
        return WpCli((php, str(phar)), origin)
    path = _wp_cli_file(config)
    if path is not None:
        if not path.is_file():
            raise UserError(f"build.wp_cli: {path} does not exist", "point it at a wp-cli.phar, or leave it empty")
        return WpCli((php, str(path)), path.name)
    on_path = shutil.which("wp")
    return WpCli((on_path,), "wp on PATH") if on_path else None


def _wp_cli_file(config: Config) -> Path | None:
    """``build.wp_cli`` as a file path (None for "pinned" and for empty)."""
    setting = config.build.wp_cli
    if not setting or setting == "pinned":
        return None
    path = Path(setting).expanduser()
    return path if path.is_absolute() else config.root / path


def wp_cli_signature(config: Config) -> str:
    """What decides the layer's wp-cli, cheaply: the pinned release, or the phar's size and mtime."""
    path = _wp_cli_file(config)
    if path is None and config.build.wp_cli == "pinned":
        path = _stand_in()
        if path is None:
            return f"pinned {WP_CLI.version}"
    if path is None:
        return "none"
    return f"{path} {stat_signature(path)}" if path.is_file() else f"{path} missing"


def add_wp_cli(config: Config, layer: Path, reporter: Reporter) -> dict[str, Any] | None:
    """Put the configured wp-cli phar into the runtime layer (``WP_CLI_IN_LAYER``); its manifest entry.

    Only a phar can ship: "pinned" or a path. With ``build.wp_cli`` empty the layer has none, and
    ``wplambda wp`` says how to add one.
    """
    if not config.build.wp_cli:
        reporter.warn("build.wp_cli is empty: the runtime layer carries no wp-cli, so `wplambda wp`, `console` "
                      "and `import --from-url` cannot run; set build.wp_cli = \"pinned\" in wplambda.toml for "
                      f"wp-cli {WP_CLI.version}")
        return None
    if config.build.wp_cli == "pinned":
        path, _origin = pinned_phar(reporter)
        source = "pinned" if _stand_in() is None else f"{ENV_WP_CLI_PHAR}={path}"
    else:
        found = _wp_cli_file(config)
        assert found is not None
        path, source = found, str(found)
    if not path.is_file():
        raise UserError(f"build.wp_cli: {path} does not exist", "point it at a wp-cli.phar, or use \"pinned\"")
    dest = layer / WP_CLI_IN_LAYER
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, dest)
    dest.chmod(FILE_MODE)
    return {"source": source, "bytes": dest.stat().st_size, "sha512": fetch.file_digest(dest, "sha512")}


@contextlib.contextmanager
def _wp_cli_session(cli: WpCli, function_dir: Path, reporter: Reporter) -> Iterator[Callable[..., None]]:
    """wp-cli bound to a throwaway MariaDB and a throwaway install of the build tree."""
    from wp_lambda.local.mariadb import MariaDB

    reporter.note("wp-cli needs a database to load WordPress: starting a throwaway local MariaDB "
                  "(deleted after the build)")
    with tempfile.TemporaryDirectory(prefix="wplambda-build-db-") as tmp, MariaDB.start(Path(tmp) / "data") as db:
        password = secrets.token_hex(16)
        db.ensure_database("wplambda_build", "wplambda_build", password)
        scratch = Path(tmp)
        # The caller's WORDPRESS_*/S3_UPLOADS_* settings (a shell set up for `serve` or a deploy)
        # must not point the throwaway site at another database or a bucket.
        inherited = {k: v for k, v in os.environ.items()
                     if not k.startswith(("WORDPRESS_", "S3_UPLOADS_", "WPLAMBDA_", "WP_CLI_"))}
        env = {**inherited, contract.DB_HOST_ENV: db.wordpress_host, contract.DB_NAME_ENV: "wplambda_build",
               contract.DB_USER_ENV: "wplambda_build", contract.DB_PASSWORD_ENV: password,
               contract.SALT_ENV: secrets.token_hex(32), "WP_HOME": "http://build.invalid",
               # `core install` creates this month's uploads folder; the kit's local-uploads
               # mu-plugin sends it to the scratch dir, or a dated empty dir would reach the zip.
               contract.UPLOADS_DIR_ENV: str(scratch / "uploads"), "WP_TEMP_DIR": str(scratch),
               # storage.mode = "efs": wp-config.php puts wp-content on the EFS mount unless told
               # otherwise, and the build must install into its own tree, never the host's /mnt.
               contract.CONTENT_DIR_ENV: str(function_dir / "wp-content"),
               # wp-cli's cache and config stay out of the builder's home; no wp-cli.yml applies.
               "WP_CLI_CACHE_DIR": str(scratch / "wp-cli-cache"),
               "WP_CLI_CONFIG_PATH": str(scratch / "wp-cli-config.yml")}
        base = [*cli.command, f"--path={function_dir}"]
        if os.geteuid() == 0:
            base.append("--allow-root")

        def run(*args: str) -> None:
            result = subprocess.run([*base, *args], capture_output=True, text=True, env=env, cwd=scratch,
                                    check=False)
            if result.returncode != 0:
                raise UserError(f"wp-cli {' '.join(args[:3])} failed: {(result.stderr or result.stdout).strip()}",
                                "check the zip in the mirror, or leave build.wp_cli empty to unpack zips directly")

        run("core", "install", "--url=http://build.invalid", "--title=build", "--admin_user=build",
            "--admin_email=build@example.invalid", f"--admin_password={secrets.token_hex(16)}", "--skip-email")
        yield run
        # wp-cli's scratch space; nothing of the throwaway site stays in the tree.
        shutil.rmtree(function_dir / "wp-content" / "upgrade", ignore_errors=True)


Zip = tuple[str, str, str, Path]  # kind, slug, version, the zip on disk


def fetch_all(config: Config, reporter: Reporter, locked: lock.Entries) -> list[Zip]:
    """Every pinned zip, downloaded and checked against the lock: the build calls this before it
    writes anything, so a changed zip stops it with the previous build and files untouched."""
    items = wanted(config)
    if not items:
        return []
    base = mirror(config)
    return [(kind, slug, version, download(base, kind, slug, version, reporter, locked))
            for kind, slug, version in items]


def install_all(config: Config, function_dir: Path, reporter: Reporter, zips: list[Zip]) -> list[dict[str, Any]]:
    """Install the fetched zips into ``function_dir``; return the manifest entries."""
    if not zips:
        return []
    cli = find_wp_cli(config, reporter)
    installer = cli.origin if cli else "unzip"
    if cli:
        with _wp_cli_session(cli, function_dir, reporter) as wp:
            for kind, slug, _version, archive in zips:
                reporter.step(f"wp {kind} install {slug}")
                wp(kind, "install", str(archive), "--force")
    else:
        for kind, slug, _version, archive in zips:
            reporter.step(f"unpacking {kind} {slug}")
            unzip(archive, function_dir / "wp-content" / KINDS[kind], slug)
    entries = []
    for kind, slug, version, archive in zips:
        installed = _header_version(function_dir / "wp-content" / KINDS[kind] / slug, kind)
        if installed and installed != version:
            reporter.warn(f"{KINDS[kind]}.{slug} is pinned to {version} but the zip says Version: {installed}")
        entries.append({"kind": kind, "slug": slug, "version": version, "header_version": installed,
                        "sha256": fetch.file_digest(archive), "source": f"{kind}/{slug}.{version}.zip",
                        "installer": installer})
    return entries
