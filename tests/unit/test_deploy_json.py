"""`wplambda deploy --json`: one object saying what the deploy did, the rotation of the origin
secret included as a yes/no and a version id (never a value). The deploy itself is replaced by a
finished outcome here; the rotation against moto is tests/integration/deploy/test_deploy_rotation.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from wp_lambda.cli import app
from wp_lambda.cli import deploy as deploy_cli
from wp_lambda.deploy import run as run_mod
from wp_lambda.deploy.plan import DeployPlan, Rotation


def _outcome(rotated: bool) -> run_mod.DeployOutcome:
    plan = DeployPlan(stack="blog", region="us-east-1", root=Path(), artifact_bucket="b", change_set_type="UPDATE",
                      uploads=(), template={}, rotation=Rotation("arn:aws:secretsmanager:x", "0f1e-version", True)
                      if rotated else None)
    return run_mod.DeployOutcome(stack="blog", first_deploy=False, stack_changed=True, dry_run=False, plan=plan,
                                 outputs={"SiteUrl": "https://blog.example.com"}, origin_secret_rotated=rotated)


@pytest.mark.parametrize("rotated", [True, False])
def test_json_says_whether_the_origin_secret_was_rotated(monkeypatch: pytest.MonkeyPatch, rotated: bool) -> None:
    seen: dict[str, Any] = {}

    def fake_deploy(*_args: Any, **kwargs: Any) -> run_mod.DeployOutcome:
        seen.update(kwargs)
        return _outcome(rotated)

    monkeypatch.setattr(deploy_cli, "_session", lambda *_a: (None, None, "blog"))
    monkeypatch.setattr(run_mod, "deploy", fake_deploy)
    args = ["deploy", "--json", "--yes"] + (["--rotate-origin-secret"] if rotated else [])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert seen["rotate_origin_secret"] is rotated
    assert shown["origin_secret"] == {"rotated": rotated, "version": "0f1e-version" if rotated else None}
    assert shown["stack"] == "blog" and shown["stack_changed"] and shown["outputs"]["SiteUrl"]
