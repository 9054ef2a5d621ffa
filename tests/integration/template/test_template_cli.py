"""``init``, ``render`` and ``validate`` end to end through the real console script, plus ``sam``.

A fresh project must validate with no edits, re-rendering must be a byte-for-byte no-op, and
the repository's own template.yaml must be what the default config renders to.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.helpers import REPO, run_wplambda
from wp_lambda import bref_layers
from wp_lambda.config import Config
from wp_lambda.render import render_text

PUBLIC_EXTERNAL = ["--network", "public", "--db-host", "db.example.com", "--db-user", "wordpress",
                   "--db-secret-arn", "arn:aws:secretsmanager:us-east-1:123456789012:secret:wp-db-AbCdEf"]
PROJECT_FILES = ["wplambda.toml", "template.yaml", "wordpress/wp-config.php", "php-layer/php.ini",
                 "php-layer/php-fpm.conf"]


@pytest.fixture(scope="module")
def fresh_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``wplambda init --yes`` in an empty directory (the current one, as a user would type it)."""
    root = tmp_path_factory.mktemp("fresh")
    result = run_wplambda("init", "--yes", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def _state(root: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_init_writes_the_project(fresh_project: Path) -> None:
    for rel in PROJECT_FILES:
        assert (fresh_project / rel).is_file(), rel
    assert "# Lambda memory in MB." in (fresh_project / "wplambda.toml").read_text()
    assert ".wplambda/" in (fresh_project / ".gitignore").read_text().splitlines()


def test_init_then_validate_passes(fresh_project: Path) -> None:
    result = run_wplambda("validate", cwd=fresh_project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid (cfn-lint, sam-transform, kit-rules, php-lint, php-security)" in result.stdout
    # It explains function.reserved_concurrency: AWS's 90 connections at 2 ACU, less 7.
    assert "concurrency: 83 instances at most, one database connection each" in " ".join(result.stdout.split())


def test_validate_refuses_a_reserved_concurrency_the_database_cannot_hold(fresh_project: Path,
                                                                          tmp_path: Path) -> None:
    project = tmp_path / "over"
    shutil.copytree(fresh_project, project)
    toml = project / "wplambda.toml"
    toml.write_text(toml.read_text().replace('reserved_concurrency = "auto"', "reserved_concurrency = 200"))
    result = run_wplambda("validate", cwd=project)
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "function.reserved_concurrency: 200 instances could open 200 database connections, but 83 are there" in \
        message and "set it to 83 or less" in message


def test_validate_json_reports_every_check(fresh_project: Path) -> None:
    result = run_wplambda("validate", "--json", "--project", str(fresh_project))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["errors"] == []
    assert report["checks"] == ["cfn-lint", "sam-transform", "kit-rules", "php-lint", "php-security"]
    assert report["summary"]["network"] == "vpc-nat-instance"


def test_validate_refuses_the_shipped_bref_layers_naming_the_cves(fresh_project: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """With Bref's data as shipped (not the session's patched fixture), the default PHP is refused."""
    monkeypatch.delenv(bref_layers.DATA_ENV)
    result = run_wplambda("validate", "--json", "--project", str(fresh_project))
    assert result.returncode == 2
    (error,) = json.loads(result.stdout)["errors"]
    assert error.startswith("Bref's php-83 layer (PHP 8.3.32) is unfit to serve a site: CVE-2026-109618 (")
    assert "CVE-2026-109619" in error and "php.accept_vulnerable_php" in error


def test_render_is_byte_identical_on_rerun(fresh_project: Path) -> None:
    before = _state(fresh_project)
    result = run_wplambda("render", cwd=fresh_project)
    assert result.returncode == 0, result.stderr
    assert "nothing changed" in result.stdout
    assert _state(fresh_project) == before  # same bytes, and not even rewritten


def test_render_rewrites_only_what_the_config_changes(tmp_path: Path, fresh_project: Path) -> None:
    root = tmp_path / "site"
    shutil.copytree(fresh_project, root)
    config = root / "wplambda.toml"
    config.write_text(config.read_text().replace("memory = 1024", "memory = 2048", 1))
    result = run_wplambda("render", cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wrote", "template.yaml"]
    assert "MemorySize: 2048" in (root / "template.yaml").read_text()


def test_init_refuses_to_overwrite_without_force(tmp_path: Path, fresh_project: Path) -> None:
    root = tmp_path / "site"
    shutil.copytree(fresh_project, root)
    before = _state(root)
    result = run_wplambda("init", "--yes", *PUBLIC_EXTERNAL, cwd=root)
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert "already has wplambda.toml, template.yaml" in message and "pass --force" in message
    assert _state(root) == before

    forced = run_wplambda("init", "--yes", *PUBLIC_EXTERNAL, "--force", cwd=root)
    assert forced.returncode == 0, forced.stderr
    text = (root / "template.yaml").read_text()
    assert "AWS::EC2::VPC" not in text and 'WORDPRESS_DB_HOST: "db.example.com"' in text
    validated = run_wplambda("validate", cwd=root)
    assert validated.returncode == 0, validated.stdout + validated.stderr


def test_init_into_a_new_directory_with_flags(tmp_path: Path) -> None:
    result = run_wplambda("init", str(tmp_path / "Shop Blog"), "--yes", "--arch", "arm64",
                          "--network", "vpc-nat-gateway", "--front-door", "function-url", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "Shop Blog"
    validated = run_wplambda("validate", "--project", str(root))
    assert validated.returncode == 0, validated.stdout + validated.stderr
    text = (root / "template.yaml").read_text()
    assert "(shop-blog, vpc-nat-gateway" in text
    assert "873528684822:layer:arm-php-83:" in text and "AWS::Lambda::Url" in text and "AWS::EC2::NatGateway" in text


@pytest.mark.parametrize(("rel", "template"), [("template.yaml", "template.yaml.j2"),
                                               ("php-layer/php.ini", "php.ini.j2"),
                                               ("php-layer/php-fpm.conf", "php-fpm.conf.j2")])
def test_committed_renderings_are_the_default_config(rel: str, template: str) -> None:
    """Refresh with `make template` after changing a template under wp_lambda/templates/."""
    committed = (REPO / rel).read_text()
    assert committed == render_text(template, Config(root=REPO)), f"{rel} is stale: run `make template`, commit it"


def test_sam_validate_lint_accepts_the_default_template(fresh_project: Path, tmp_path: Path) -> None:
    """The real SAM CLI, offline: HOME points at an empty directory, so no profile or cache is used."""
    sam = Path(sys.executable).with_name("sam")
    assert sam.exists(), "aws-sam-cli is missing from the venv: run `make setup`"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_DEFAULT_REGION": "us-east-1",
           "SAM_CLI_TELEMETRY": "0", "LANG": "C.UTF-8"}
    result = subprocess.run([str(sam), "validate", "--lint", "--template", "template.yaml"], cwd=fresh_project,
                            env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_init_public_without_database_settings_writes_nothing(tmp_path: Path) -> None:
    """A public network needs an external database; init says which settings are missing."""
    result = run_wplambda("init", "--yes", "--network", "public", cwd=tmp_path)
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    for key in ("database.host", "database.user", "database.secret_arn"):
        assert f"{key}: database.mode = \"external\" needs {key}" in message
    assert list(tmp_path.iterdir()) == []
