"""`wplambda wp --local -- option get siteurl` from the shell, and its parts, beside running the
same wp-cli phar with php directly on the same files and database.

Run: ``.venv/bin/python -m benchmarks.wp_cli [--rounds 5]``. It makes a throwaway project on
Debian's WordPress with ../shared's wp-cli, installs it through the kit, and measures (median of
the rounds):

- the command without `serve` running (it starts the private MariaDB and a console function,
  then stops them), and with `serve` running (through its invoke endpoint);
- its parts with `serve` running: the CLI's own start (`wplambda wp --help`), the invocation
  round trip from Python, and wp-cli's own time inside the function (the handler's durationMs);
- `php wp-cli.phar option get siteurl` on the serve build with the site's environment, against
  serve's MariaDB: what the kit adds to wp-cli is the difference.

Everything started is stopped by PID at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[1]
WP_CLI = REPO.parent / "shared" / "wp-cli" / "wp-cli.phar"
DEBIAN_WORDPRESS = Path("/usr/share/wordpress")
WPLAMBDA = str(Path(sys.executable).with_name("wplambda"))


def median_seconds(action: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(args), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result


def start_serve(project: Path, port: int) -> subprocess.Popen[str]:
    """`wplambda serve` (one handler), returned once it serves."""
    process = subprocess.Popen([WPLAMBDA, "serve", "--project", str(project), "--port", str(port), "--workers", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "COLUMNS": "300"})
    assert process.stdout is not None
    for line in process.stdout:
        if "Ctrl-C stops everything" in line:
            return process
    raise SystemExit("serve did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    if not WP_CLI.is_file():
        raise SystemExit(f"{WP_CLI} is missing: this benchmark needs ../shared's real wp-cli")
    from wp_lambda.remote import EndpointTarget
    from wp_lambda.serve.state import INVOKE_FILE, RunningEndpoint

    with tempfile.TemporaryDirectory(prefix="wplambda-bench-wp-") as tmp:
        project = Path(tmp) / "site"
        run(WPLAMBDA, "init", str(project), "--yes", "--name", "benchwp", "--wordpress-source", str(DEBIAN_WORDPRESS))
        config = project / "wplambda.toml"
        config.write_text(config.read_text().replace('wp_cli = ""', f'wp_cli = "{WP_CLI}"'))
        wp = [WPLAMBDA, "wp", "--local", "--project", str(project), "--"]
        port = free_port()
        run(*wp, "core", "install", f"--url=http://127.0.0.1:{port}", "--title=bench", "--admin_user=admin",
            "--admin_password=bench-password-1", "--admin_email=a@example.com", "--skip-email")
        query = ["option", "get", "siteurl"]

        cold = median_seconds(lambda: run(*wp, *query), rounds)
        serve = start_serve(project, port)
        try:
            warm = median_seconds(lambda: run(*wp, *query), rounds)
            cli_start = median_seconds(lambda: run(WPLAMBDA, "wp", "--help"), rounds)
            # The endpoint's address and this run's credentials, from serve's 0600 state file.
            running = RunningEndpoint.from_json((project / ".wplambda/local/run" / INVOKE_FILE).read_text())
            target = EndpointTarget(running, running.console_function, 900)
            inside: list[int] = []
            invoke = median_seconds(lambda: inside.append(target.wp(query).duration_ms), rounds)
            secrets = json.loads((project / ".wplambda/local/secrets.json").read_text())
            build = project / ".wplambda/build-serve"
            env = {**os.environ, "WORDPRESS_DB_HOST": f"localhost:{project / '.wplambda/local/run/mysqld.sock'}",
                   "WORDPRESS_DB_NAME": "wordpress", "WORDPRESS_DB_USERNAME": "wordpress",
                   "WORDPRESS_DB_PASSWORD": secrets["db_password"], "WORDPRESS_SALT": secrets["salt"],
                   "WPLAMBDA_UPLOADS_DIR": str(project / ".wplambda/local/uploads")}
            php = ["php", str(WP_CLI), f"--path={build / 'function'}", "--allow-root", *query]
            direct = median_seconds(lambda: subprocess.run(php, env=env, capture_output=True, check=True), rounds)
        finally:
            serve.send_signal(signal.SIGINT)
            serve.wait(timeout=60)
    wp_own = statistics.median(inside) / 1000
    rows = [
        ("wplambda wp --local, serve not running", cold),
        ("wplambda wp --local, serve running", warm),
        ("  CLI start (wplambda wp --help)", cli_start),
        ("  invocation round trip (Python, endpoint)", invoke),
        ("    of which wp-cli's own time in the function", wp_own),
        ("    of which the endpoint, Runtime API and handler", invoke - wp_own),
    ]
    print(f"`option get siteurl`, median of {rounds} ({os.cpu_count()} cores)")
    print(f"{'':50} {'seconds':>8} {'vs php wp-cli.phar':>19}")
    for label, seconds in rows:
        print(f"{label:50} {seconds:8.3f} {seconds / direct:18.2f}x")
    print(f"{'php wp-cli.phar directly (same files and DB)':50} {direct:8.3f} {1:18.2f}x")


if __name__ == "__main__":
    main()
