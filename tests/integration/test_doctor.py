"""``wplambda doctor`` on machine states that lack something, simulated with PATH and fake trees."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.support.helpers import run_wplambda
from wp_lambda import doctor
from wp_lambda.bundle import plugins

FAKE_PHP = """#!/bin/sh
# A PHP 8.2 without gd, imagick or intl: what a machine with only php-cli and php-mysql reports.
case "$1" in
  -r) printf '8.2.7' ;;
  -m) printf '[PHP Modules]\\ncurl\\ndom\\nexif\\nfileinfo\\nmbstring\\nmysqli\\nopenssl\\nxml\\nzip\\n' ;;
esac
"""


def fake_bin(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    php = bin_dir / "php"
    php.write_text(FAKE_PHP)
    php.chmod(0o755)
    return bin_dir


def themeless_project(tmp_path: Path) -> Path:
    source = tmp_path / "wp"
    (source / "wp-includes").mkdir(parents=True)
    (source / "wp-content" / "themes").mkdir(parents=True)
    (source / "wp-settings.php").write_text("<?php\n")
    (source / "wp-includes" / "version.php").write_text("<?php\n$wp_version = '6.1.9';\n")
    result = run_wplambda("init", str(tmp_path / "site"), "--yes", "--name", "bare", "--wordpress-source", str(source))
    assert result.returncode == 0, result.stderr
    return tmp_path / "site"


def test_missing_extensions_and_theme_are_named_with_their_fix_and_exit_1(tmp_path: Path) -> None:
    project = themeless_project(tmp_path)
    result = run_wplambda("doctor", "--project", str(project), env={"PATH": str(fake_bin(tmp_path))})
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout
    assert "missing php extension intl: not loaded" in " ".join(lines.split())
    assert "apt-get install php8.2-intl" in lines
    assert "apt-get install php8.2-gd or php8.2-imagick" in lines
    assert "missing wordpress themes" in " ".join(lines.split())
    assert "wordpress-theme-twentytwentythree" in lines
    assert "ok      php extension mysqli" in lines


def test_json_lists_every_check_and_no_php_at_all_is_missing(tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = run_wplambda("doctor", "--json", "--project", str(tmp_path), env={"PATH": str(empty)})
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    by_name = {c["name"]: c for c in report["checks"]}
    assert report["ok"] is False
    assert by_name["php"]["status"] == "missing" and "php-cli" in by_name["php"]["fix"]
    assert by_name["composer"]["status"] == "warning"  # the build can fall back to the pinned phar
    assert {"php-fpm", "awslambdaric", "mariadb", "cfn-lint", "wplambda.toml"} <= by_name.keys()


def test_this_machine_after_setup_has_everything() -> None:
    """`make setup` ran before the suite, so every required check passes here, project or not."""
    report = doctor.run(Path(__file__).parent)
    missing = [f"{c.name}: {c.detail}" for c in report.checks if not c.ok and c.required]
    assert report.ok, missing


def test_aws_without_credentials_is_reported_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = themeless_project(tmp_path)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_EC2_METADATA_DISABLED": "true", "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
    result = run_wplambda("doctor", "--aws", "--json", "--project", str(project), env=env)
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["aws credentials"]["status"] == "missing"
    assert "no AWS credentials" in checks["aws credentials"]["detail"]


def test_wp_cli_line_for_the_pinned_default_a_stand_in_and_none(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh project's wp-cli is the pinned release; the stand-in is named (and a missing one
    fails); an emptied build.wp_cli is a warning that says `wplambda wp` cannot run and the fix."""
    project = themeless_project(tmp_path)
    monkeypatch.delenv(plugins.ENV_WP_CLI_PHAR, raising=False)
    line = {c.name: c for c in doctor.run(project).checks}["wp-cli"]
    assert line.ok and f"pinned release {plugins.WP_CLI.version}" in line.detail

    missing = tmp_path / "no-such.phar"
    monkeypatch.setenv(plugins.ENV_WP_CLI_PHAR, str(missing))
    line = {c.name: c for c in doctor.run(project).checks}["wp-cli"]
    assert (line.ok, line.required) == (False, True) and str(missing) in line.detail

    config = project / "wplambda.toml"
    config.write_text(config.read_text().replace('wp_cli = "pinned"', 'wp_cli = ""'))
    line = {c.name: c for c in doctor.run(project).checks}["wp-cli"]
    assert (line.ok, line.required) == (False, False)
    assert "`wplambda wp` cannot run" in line.detail and 'build.wp_cli = "pinned"' in line.fix
