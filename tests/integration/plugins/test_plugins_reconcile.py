"""Reconciling the live site with wplambda.toml: the pure planner, then a real deploy.

The deploy goes to moto's CloudFormation; the stack's console function is played by the local
site's invoke endpoint (``wp_lambda.remote.local_target``: the serve build, the private MariaDB,
the real wp-cli from ../shared), which boto3 reaches through ``AWS_ENDPOINT_URL_LAMBDA`` exactly
as it would reach Lambda. Moto itself cannot run a python3.13 function with a PHP layer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomlkit

from tests.support.helpers import moto_server, real_s3_uploads_repositories, real_wp_cli, run_wplambda
from tests.support.plugin_directory import PLUGIN, THEME, Directory
from tests.support.plugins import make_project
from tests.support.serve import invoke_env
from wp_lambda import remote
from wp_lambda.common.errors import UserError
from wp_lambda.config import load, parse
from wp_lambda.plugins import reconcile
from wp_lambda.plugins.reconcile import Action, Live
from wp_lambda.project import init_project

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


class RecordingTarget:
    """A stand-in console function for the planner's edge cases (the real one is tested below)."""

    name = "recording site"

    def __init__(self, installed: bool, plugins: list[dict[str, str]]) -> None:
        self.installed = installed
        self.plugins = plugins
        self.calls: list[list[str]] = []

    def wp(self, args: list[str], *, timeout: float | None = None) -> remote.WpResult:
        self.calls.append(args)
        if args[:2] == ["core", "is-installed"]:
            code, out = (0 if self.installed else 1), ""
        else:
            code, out = 0, json.dumps(self.plugins if args[0] == "plugin" else [])
        return remote.WpResult(out, "", code, 1, "req", False)

    def invoke(self, event: dict[str, object], *, timeout: float | None = None) -> dict[str, object]:
        raise AssertionError("reconcile only runs wp-cli")


def test_uninstalled_site_is_skipped_and_a_problem_stops_before_any_change() -> None:
    config = parse(f'[plugins]\n{PLUGIN} = {{ version = "1", active = true }}\n'
                   f'{OTHER} = {{ version = "1", active = true }}\n')
    fresh = RecordingTarget(installed=False, plugins=[])
    assert "not installed" in reconcile.reconcile(config, fresh).skipped
    assert fresh.calls == [["core", "is-installed"]]

    missing = RecordingTarget(installed=True, plugins=[{"name": PLUGIN, "status": "inactive", "version": "1"}])
    with pytest.raises(UserError, match=f"plugin {OTHER} is declared active = true but is not installed"):
        reconcile.reconcile(config, missing)
    assert not [c for c in missing.calls if c[1] in ("activate", "deactivate")]  # nothing was changed
    assert reconcile.reconcile(config, missing, dry_run=True).problems  # a dry run reports instead


def test_deploy_refuses_declarations_without_wp_cli_before_touching_anything(tmp_path: Path,
                                                                             aws_env: dict[str, str]) -> None:
    root = tmp_path / "nocli"
    init_project(root, {})
    path = root / "wplambda.toml"
    path.write_text(path.read_text().replace("[plugins]\n", f'[plugins]\n{PLUGIN} = {{ version = "1", '
                                                              'active = true }\n')
                    .replace('wp_cli = "pinned"', 'wp_cli = ""'))  # init's default ships wp-cli
    result = run_wplambda("deploy", "--stack", "nocli", "--yes", "--project", str(root))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "build.wp_cli is empty" in " ".join(result.stderr.split())
    assert not (root / ".wplambda").exists()  # not even a build was started


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
        # The session's endpoint and key pair, from its 0600 state file (moto takes the key pair too).
        env = {**aws_env, **invoke_env(site)}
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
        # The file now says the plugin is off: a dry run shows the change and makes none,
        # `plugin reconcile` applies it.
        toml = site / "wplambda.toml"
        doc = tomlkit.parse(toml.read_text())
        doc["plugins"][PLUGIN]["active"] = False  # type: ignore[index]
        toml.write_text(tomlkit.dumps(doc))
        dry = run_wplambda("deploy", "--stack", "blog", "--yes", "--dry-run", "--project", str(site), env=env,
                           timeout=900)
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert f"plugins: would run wp plugin deactivate {PLUGIN} (was active)" in dry.stdout
        assert _statuses(target)[f"plugin {PLUGIN}"] == "active"
        applied = run_wplambda("plugin", "reconcile", "--stack", "blog", "--json", "--project", str(site), env=env)
        assert applied.returncode == 0, applied.stderr
        assert json.loads(applied.stdout)["actions"] == [{"kind": "plugin", "slug": PLUGIN, "verb": "deactivate",
                                                          "was": "active"}]
        assert _statuses(target)[f"plugin {PLUGIN}"] == "inactive"
    # The same view of this machine's site, in a console session of its own (same database).
    local = run_wplambda("plugin", "status", "--local", "--project", str(site), env=aws_env)
    assert local.returncode == 0, local.stderr
    line = next(row for row in local.stdout.splitlines() if row.startswith(f"plugin  {PLUGIN} "))
    assert line.split() == ["plugin", PLUGIN, "1.0.0", "1.0.0", "inactive", "false", "-"]
    # No secret of the site (admin password, the local DB password and salt) reaches any output or the lock.
    local_secrets = json.loads((site / ".wplambda" / "local" / "secrets.json").read_text())
    secrets = [ADMIN_PASSWORD, local_secrets["db_password"], local_secrets["salt"]]
    for text in [o.stdout + o.stderr for o in (first, second, status, dry, applied, local)] + \
            [(site / "wplambda.lock").read_text()]:
        assert not [secret for secret in secrets if secret in text]
