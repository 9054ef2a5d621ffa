"""Reconciling the live site with wplambda.toml: the pure planner, then a real deploy.

The deploy goes to moto's CloudFormation; the stack's console function is played by the local
site's invoke endpoint (``wp_lambda.remote.local_target``: the serve build, the private MariaDB,
the real wp-cli from ../shared), which boto3 reaches through ``AWS_ENDPOINT_URL_LAMBDA`` exactly
as it would reach Lambda. Moto itself cannot run a python3.13 function with a PHP layer.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomlkit
from conftest import make_project
from helpers import moto_server, real_s3_uploads_repositories, real_wp_cli, run_wplambda
from plugin_directory import PLUGIN, THEME, Directory

from wp_lambda import remote
from wp_lambda.config import load, parse
from wp_lambda.plugins import reconcile
from wp_lambda.plugins.reconcile import Action, Live

OTHER = "bye-wplambda"  # declared active = false
ADMIN_PASSWORD = "reconcile-admin-pass-5c1e"


def _live(**statuses: str) -> dict[str, Live]:
    return {slug.replace("_", "-"): Live(slug.replace("_", "-"), status, "1") for slug, status in statuses.items()}


def test_plan_touches_only_what_is_declared_and_is_idempotent() -> None:
    config = parse(f'[plugins]\n{PLUGIN} = {{ version = "1", active = true }}\n{OTHER} = {{ version = "1", '
                   'active = false }\nakismet = "5"\n'
                   f'[themes]\n{THEME} = {{ version = "1", active = true }}\n')
    plugins = _live(hello_wplambda="inactive", bye_wplambda="active", akismet="active")
    themes = _live(wplambda_plain="inactive", twentytwentythree="active")
    planned = reconcile.plan(config, plugins, themes)
    assert planned.actions == [Action("plugin", OTHER, "deactivate", "active"),
                               Action("plugin", PLUGIN, "activate", "inactive"),
                               Action("theme", THEME, "activate", "inactive")]
    assert planned.problems == []
    after = reconcile.plan(config, _live(hello_wplambda="active", bye_wplambda="inactive", akismet="active"),
                           _live(wplambda_plain="active", twentytwentythree="inactive"))
    assert after.actions == [] and after.problems == []


def test_plan_reports_what_it_cannot_do() -> None:
    config = parse(f'[plugins]\n{PLUGIN} = {{ version = "1", active = true }}\n'
                   'mu = { version = "1", active = true }\n'
                   f'[themes]\n{THEME} = {{ version = "1", active = true }}\n')
    planned = reconcile.plan(config, _live(mu="must-use"), {})
    assert planned.actions == []
    assert [p.split(" ")[1] for p in planned.problems] == [PLUGIN, "mu", THEME]


@pytest.fixture()
def site(tmp_path: Path, wp_source: Path, directory: Directory, cache: Path) -> Path:
    directory.publish("plugin", OTHER, "2.0")
    root = make_project(tmp_path / "site", wp_source, {"plugin_mirror": directory.url,
                                                      "plugin_api": directory.url, "wp_cli": real_wp_cli()})
    path = root / "wplambda.toml"
    doc = tomlkit.parse(path.read_text())
    doc["plugins"][PLUGIN] = {"version": "1.0.0", "active": True}  # type: ignore[index]
    doc["plugins"][OTHER] = {"version": "2.0", "active": False}  # type: ignore[index]
    doc["themes"][THEME] = {"version": "1.0", "active": True}  # type: ignore[index]
    path.write_text(tomlkit.dumps(doc))
    return root


@pytest.fixture()
def aws_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    home = tmp_path / "home"
    home.mkdir()
    with moto_server() as endpoint:
        env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "HOME": str(home),
               "AWS_CONFIG_FILE": str(home / "aws-config"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "creds"),
               "WPLAMBDA_COMPOSER_REPOSITORIES": real_s3_uploads_repositories()}
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        yield env


def _statuses(target: remote.Target) -> dict[str, str]:
    plugins, themes = reconcile.survey(target)
    return {**{f"plugin {s}": p.status for s, p in plugins.items()},
            **{f"theme {s}": t.status for s, t in themes.items()}}


def test_deploy_reconciles_the_live_site_and_a_second_deploy_changes_nothing(site: Path,
                                                                             aws_env: dict[str, str]) -> None:
    config = load(site)
    with remote.local_target(config) as target:
        assert isinstance(target, remote.EndpointTarget)
        installed = target.wp(["core", "install", "--url=http://127.0.0.1:8080", "--title=reconcile",
                               "--admin_user=admin", "--admin_email=admin@example.com",
                               f"--admin_password={ADMIN_PASSWORD}", "--skip-email"])
        assert installed.exit_code == 0, installed.stderr
        # Someone switched things by hand: the declared-inactive plugin on, an undeclared one on.
        assert target.wp(["plugin", "activate", OTHER, "akismet"]).exit_code == 0
        before = _statuses(target)
        assert (before[f"plugin {PLUGIN}"], before[f"plugin {OTHER}"], before[f"theme {THEME}"]) == \
            ("inactive", "active", "inactive")

        # boto3 sends the deploy's Lambda Invoke to the local site's endpoint; everything else goes to moto.
        parts = urllib.parse.urlsplit(target.url)
        env = {**aws_env, "AWS_ENDPOINT_URL_LAMBDA": f"{parts.scheme}://{parts.netloc}"}
        first = run_wplambda("deploy", "--stack", "blog", "--yes", "--project", str(site), env=env, timeout=900)
        assert first.returncode == 0, first.stdout + first.stderr
        assert f"plugins: ran wp plugin activate {PLUGIN} (was inactive)" in first.stdout
        assert f"plugins: ran wp plugin deactivate {OTHER} (was active)" in first.stdout
        assert f"plugins: ran wp theme activate {THEME} (was inactive)" in first.stdout
        after = _statuses(target)
        assert (after[f"plugin {PLUGIN}"], after[f"plugin {OTHER}"], after[f"theme {THEME}"]) == \
            ("active", "inactive", "active")
        # Nothing undeclared changed: akismet stays on, the old theme is merely no longer the active one.
        assert {k: v for k, v in after.items() if k not in (f"plugin {PLUGIN}", f"plugin {OTHER}", f"theme {THEME}",
                                                             "theme twentytwentythree")} == \
            {k: v for k, v in before.items() if k not in (f"plugin {PLUGIN}", f"plugin {OTHER}", f"theme {THEME}",
                                                          "theme twentytwentythree")}
        assert after["plugin akismet"] == "active"

        second = run_wplambda("deploy", "--stack", "blog", "--yes", "--project", str(site), env=env, timeout=900)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "plugins: the site's activation and theme already match wplambda.toml" in second.stdout
        assert " ran wp " not in second.stdout
        assert _statuses(target) == after

        status = run_wplambda("plugin", "status", "--stack", "blog", "--json", "--project", str(site), env=env)
        assert status.returncode == 0, status.stderr
        rows = {(r["kind"], r["slug"]): r for r in json.loads(status.stdout)["items"]}
        assert rows[("plugin", PLUGIN)] == {"kind": "plugin", "slug": PLUGIN, "pinned": "1.0.0", "deployed": "1.0.0",
                                            "status": "active", "declared_active": True, "pending": None}
        assert rows[("plugin", "akismet")]["pinned"] is None and rows[("plugin", "akismet")]["status"] == "active"
        for output in (first, second, status):
            assert ADMIN_PASSWORD not in output.stdout + output.stderr
