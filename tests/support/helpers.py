"""Helpers for tests in every area."""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import traceback
import types
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from wp_lambda.bundle.plugins import ENV_WP_CLI_PHAR, WP_CLI

REPO = Path(__file__).resolve().parents[2]
DEBIAN_WORDPRESS = Path("/usr/share/wordpress")
# The PHP branch Debian 12 ships under /usr (php8.2-fpm, php8.2-cli: scripts/setup.sh), for tests
# whose php.source = "dir" points at /usr; php.version's default is a newer branch Bref ships.
DEBIAN_PHP = "8.2"
# Real parts that cannot be downloaded here (wp-cli, S3 Uploads) sit next to the checkout.
SHARED = (REPO.parent / "shared").resolve()
ENV_WP_CLI = "WPLAMBDA_TEST_WP_CLI"
ENV_S3_UPLOADS_REPOSITORIES = "WPLAMBDA_TEST_S3_UPLOADS_REPOSITORIES"
# Bref's layers as if they carried patched PHP: tests/conftest.py points WPLAMBDA_BREF_DATA here for
# the session, so the PHP security check does not refuse every test's deploy (see its README.md).
PATCHED_BREF_DATA = REPO / "tests" / "support" / "bref_patched"


def shared_part(relative: str) -> Path:
    """An absolute path inside ``../shared/``.

    Skips the test only when the checkout has no ``../shared/`` at all (a bare clone elsewhere);
    when ``../shared/`` exists but lacks the part, the test fails, since a skip would hide that
    the real wp-cli or S3 Uploads was never exercised.
    """
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} does not exist: this checkout has no ../shared/ with the real wp-cli and "
                    "S3 Uploads, which cannot be downloaded here")
    path = SHARED / relative
    if not path.exists():
        pytest.fail(f"{path} is missing although {SHARED} exists")
    return path


def real_wp_cli() -> str:
    """The real wp-cli.phar (WP-CLI 2.12.0): ``WPLAMBDA_TEST_WP_CLI`` if set, else ``../shared/``'s."""
    return os.environ.get(ENV_WP_CLI) or str(shared_part("wp-cli/wp-cli.phar"))


# A closed port on loopback (discard): the pinned wp-cli's download URL in every test, so a build
# that would download it fails at once with the offline message instead of reaching GitHub.
UNREACHABLE_WP_CLI_URL = "http://127.0.0.1:9/wp-cli-2.12.0.phar"


def pinned_wp_cli_env() -> dict[str, str]:
    """The environment under which a project of ``init``'s default (``build.wp_cli = "pinned"``)
    builds offline: the real phar stands in for the release (``WPLAMBDA_WP_CLI_PHAR``; the
    official bytes cannot be had here, and ../shared's are a source build that fails the pin), and
    the download URL cannot reach the internet. Set for the whole session by tests/conftest.py;
    the tests of the download itself unset the stand-in. Without ../shared/ only the URL is set."""
    env = {WP_CLI.url_env: UNREACHABLE_WP_CLI_URL}
    phar = os.environ.get(ENV_WP_CLI) or str(SHARED / "wp-cli" / "wp-cli.phar")
    if Path(phar).is_file():
        env[ENV_WP_CLI_PHAR] = phar
    return env


def real_s3_uploads_repositories() -> str:
    """``WPLAMBDA_COMPOSER_REPOSITORIES`` (JSON) holding the real humanmade/s3-uploads and the AWS SDK.

    ``WPLAMBDA_TEST_S3_UPLOADS_REPOSITORIES`` if set, else ``../shared/composer/artifacts`` as an
    artifact repository with Packagist off. The URL is absolute because Composer reads a relative
    one against its working directory, the build's scratch project. No allow-plugins here: the
    kit's own composer.json sets ``composer/installers`` to false (S3 Uploads stays in vendor/).
    """
    override = os.environ.get(ENV_S3_UPLOADS_REPOSITORIES)
    if override:
        return override
    artifacts = shared_part("composer/artifacts")
    return json.dumps([{"type": "artifact", "url": str(artifacts)}, {"packagist.org": False}])


# The commands that only read and write project files: no service, no AWS client, no signal
# handler. run_wplambda runs them in this process (one import of the kit instead of a console
# script's start-up of about 0.7 s each); the subprocess tests in tests/integration/test_cli_process.py
# show that both ways print the same and exit with the same code.
IN_PROCESS_COMMANDS = frozenset({"init", "render", "validate", "cost", "layers", "config"})


def wplambda_cmd() -> list[str]:
    """The real console script of the environment running the tests."""
    script = Path(sys.executable).with_name("wplambda")
    return [str(script)] if script.exists() else [sys.executable, "-m", "wp_lambda"]


def run_wplambda(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                 timeout: float = 300, in_process: bool | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``wplambda ARGS``: in this process for IN_PROCESS_COMMANDS (unless ``in_process`` says
    otherwise), else the real console script in a subprocess. Either way the result carries the
    exit code and stdout and stderr apart; ``env`` is added to this process's environment."""
    if in_process is None:
        in_process = bool(args) and args[0] in IN_PROCESS_COMMANDS
    if in_process:
        return run_in_process(*args, cwd=cwd, env=env)
    return subprocess.run([*wplambda_cmd(), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, check=False)


def run_in_process(*args: str, cwd: Path | None = None,
                   env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``wplambda ARGS`` through the console script's own ``main()``, inside typer's CliRunner
    isolation: stdin empty, stdout and stderr captured apart, ``env`` set for the call, ``cwd``
    the working directory. ``main()`` itself (not the typer app) runs, so a UserError or a usage
    error maps to its exit code exactly as in the console script; an exception that escapes it is
    exit 1 with the traceback on stderr, as Python would do."""
    from typer.testing import CliRunner

    from wp_lambda.cli import main

    # typer's own runner (typer 0.29 carries its own click) keeps stderr apart; older ones, built on
    # click 8.1's, mix it into stdout unless told not to.
    separate = {"mix_stderr": False} if "mix_stderr" in inspect.signature(CliRunner).parameters else {}
    runner = CliRunner(**separate)  # type: ignore[arg-type]
    with contextlib.chdir(cwd or Path.cwd()), runner.isolation(env=env) as streams, \
            pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", ["wplambda", *args])
        # click names the program after __main__'s package when there is one ("python -m pytest"
        # here); a console script's __main__ has none, so its usage lines say "wplambda".
        mp.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
        try:
            main()
            code = 0
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except Exception:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        stdout, stderr = streams[0].getvalue(), streams[1].getvalue()  # type: ignore[union-attr]
    return subprocess.CompletedProcess(["wplambda", *args], code, stdout.decode(), stderr.decode())


def copy_wordpress(dest: Path) -> Path:
    """Copy Debian's WordPress with symlinks dereferenced, without Debian's own config files."""
    shutil.copytree(DEBIAN_WORDPRESS, dest, symlinks=False)
    for name in ("wp-config.php", ".htaccess"):
        (dest / name).unlink(missing_ok=True)
    return dest


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's server on localhost on a random port; yields its endpoint URL.

    Servers in one process share moto's backends, so the state is reset when it stops and the
    next test module starts empty.
    """
    server = ThreadedMotoServer(ip_address="localhost", port=0, verbose=False)
    server.start()
    endpoint = f"http://localhost:{server._server.server_port}"  # type: ignore[union-attr]
    try:
        yield endpoint
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
        server.stop()


@contextlib.contextmanager
def moto_aws_env(home: Path, region: str = "us-east-1") -> Iterator[dict[str, str]]:
    """moto's server, fake credentials and no ~/.aws in reach: the environment a test hands the
    ``wplambda`` subprocesses it runs against a stack in moto (``home`` stands in for $HOME)."""
    with moto_server() as endpoint, pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_LAMBDA"):
            mp.delenv(name, raising=False)
        yield {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": region, "AWS_CONFIG_FILE": str(home / "config"),
               "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"), "HOME": str(home)}


class Clock:
    """A monotonic clock a test moves by hand (``clock.now += 900``), for code that takes ``clock=``."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
