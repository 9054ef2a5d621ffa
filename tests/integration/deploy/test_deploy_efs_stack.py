"""EFS mode end to end through the console scripts: `wplambda deploy` syncs wp-content through the
stack's console function, and `wplambda plugin adopt --stack` reads EFS through it.

The stack is deployed to moto; moto cannot run functions (that needs Docker), so the console
function is reached, by boto3 as against AWS, at `wplambda serve`'s local Lambda invoke endpoint
(AWS_ENDPOINT_URL_LAMBDA), where it runs the real handler on serve's EFS stand-in.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.deploy.conftest import write_zip
from tests.support.helpers import run_wplambda
from tests.support.ports import free_port
from tests.support.serve import init_site, invoke_env, serving

STACK = "efsstack"


def _words(text: str) -> str:
    return " ".join(text.split())  # rich may wrap long lines


def test_deploy_syncs_and_adopt_reads_efs_through_the_console_function(
        tmp_path: Path, debian_wordpress: Path, aws_env: dict[str, str]) -> None:
    """``aws_env`` (deploy/conftest.py) points the kit at moto, with no real ~/.aws in reach."""
    project = init_site(tmp_path / "site", STACK, "--storage", "efs")
    build = project / ".wplambda" / "build"  # small stand-ins: moto stores the zips, never runs them
    write_zip(build / "function.zip", {"index.php": "<?php\n"})
    write_zip(build / "layer.zip", {"python/wp_lambda/__init__.py": "\n"})
    (build / "assets" / "wp-includes").mkdir(parents=True, exist_ok=True)
    (build / "assets" / "wp-includes" / "a.css").write_text("a{}\n")
    efs = project / ".wplambda" / "local" / "efs"

    with serving(project, "--invoke-port", str(free_port()), "--workers", "1") as served:
        env = {**aws_env, **invoke_env(served.project)}  # moto takes the endpoint's key pair as well

        first = run_wplambda("deploy", "--stack", STACK, "--yes", "--skip-build", cwd=project, env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "syncing wp-content on EFS" in first.stderr
        # serve's invoke endpoint answers only Invoke: the versions step says it did not run, and the deploy stands.
        assert "function versions: not reconciled (501)" in _words(first.stderr)
        assert "EFS: pinned plugins and themes on EFS are up to date" in _words(first.stdout)  # serve seeded it

        # As if installed from wp-admin (tests/e2e/serve/test_serve_efs.py does that in a browser).
        (efs / "plugins" / "by-hand").mkdir()
        (efs / "plugins" / "by-hand" / "by-hand.php").write_text("<?php\n/*\nPlugin Name: By hand\nVersion: 2.0\n*/\n")
        second = run_wplambda("deploy", "--stack", STACK, "--yes", "--skip-build", cwd=project, env=env)
        assert second.returncode == 0, second.stdout + second.stderr
        assert ("EFS: installed from wp-admin, not in wplambda.toml: plugin by-hand 2.0 "
                "(pin it: wplambda plugin adopt by-hand)") in _words(second.stdout)

        adopted = run_wplambda("plugin", "adopt", "by-hand", "--stack", STACK, "--json", "--project", str(project),
                               env=env)
        assert adopted.returncode == 0, adopted.stdout + adopted.stderr
        assert json.loads(adopted.stdout) == {"kind": "plugin", "slug": "by-hand", "version": "2.0",
                                              "source": f"EFS of stack {STACK}"}
        assert 'by-hand = "2.0"' in (project / "wplambda.toml").read_text()

        missing = run_wplambda("plugin", "adopt", "nothing-here", "--stack", STACK, "--project", str(project),
                               env=env)
        assert missing.returncode == 2 and "no plugin 'nothing-here' on EFS" in _words(missing.stderr)
        assert "Traceback" not in missing.stderr
