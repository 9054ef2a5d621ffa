"""The command line loads boto3 only when a command talks to AWS.

Every `wplambda` run imports all command modules; boto3 and botocore's client machinery were a
third of the start-up of a command like `wplambda wp --local` (docs/benchmarks.md#wp-cli,
python -m benchmarks.wp_cli). This keeps them out of that path, and shows that a command that
does talk to AWS still gets them.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("boto3", "botocore.config", "botocore.client", "s3transfer")


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_importing_the_command_line_loads_no_aws_client_code() -> None:
    assert _loaded_after("import wp_lambda.cli") == set()


def test_a_client_config_brings_botocore_when_asked_for() -> None:
    assert "botocore.config" in _loaded_after("from wp_lambda.aws import client_config\n"
                                              "client_config(connect_timeout=5)")
