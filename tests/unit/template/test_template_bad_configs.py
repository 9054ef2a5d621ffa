"""Bad ``wplambda.toml`` files through the real console script: one clear message, exit 2, nothing written.

Each case starts from a valid rendered project, breaks its config the way a person would, runs
``wplambda validate`` and ``wplambda render``, and checks the message names the file, line and key
with the fix, and that every file in the project is byte-for-byte as before (no partial render).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomlkit

from tests.support.helpers import run_wplambda
from wp_lambda.project import init_project

Edit = Callable[[str], str]


def _set(section: str, **values: object) -> Edit:
    """Set keys of one table, keeping the file's comments and layout (so line numbers are real)."""
    def edit(text: str) -> str:
        doc = tomlkit.parse(text)
        for key, value in values.items():
            doc[section][key] = value  # type: ignore[index]
        return tomlkit.dumps(doc)
    return edit


def _append(raw: str) -> Edit:
    return lambda text: text + raw


def _replace(old: str, new: str) -> Edit:
    def edit(text: str) -> str:
        assert old in text
        return text.replace(old, new, 1)
    return edit


@dataclass(frozen=True)
class Bad:
    id: str
    edit: Edit
    key: str  # the key the message must name ("" when the file cannot even be parsed)
    expected: str  # what the message must say


def _chain(*edits: Edit) -> Edit:
    def edit(text: str) -> str:
        for step in edits:
            text = step(text)
        return text
    return edit


BAD = [
    Bad("aurora-without-vpc", _set("network", mode="public"), "database.mode",
        'aurora-serverless-v2 needs a VPC; set network.mode to "vpc-nat-instance"'),
    Bad("http-api-timeout-31", _set("function", timeout=31), "function.timeout",
        "31 s is over the HTTP API's 30 s limit"),
    Bad("domain-without-certificate", _set("site", domains=["blog.example.com"]), "site.certificate_arn",
        "site.domains is set but no certificate is"),
    Bad("certificate-outside-us-east-1",
        _set("site", domains=["blog.example.com"],
             certificate_arn="arn:aws:acm:eu-west-1:123456789012:certificate/0b1f3c52-8d4e-4a3b-9a57-2f0d1e6c7a10"),
        "site.certificate_arn", "the certificate is in eu-west-1, but CloudFront only accepts certificates "
        "from us-east-1"),
    Bad("unknown-key-typo", _replace("memory = 1024", "memroy = 1024"), "function.memroy",
        "unknown key; did you mean 'memory'?"),
    Bad("unknown-section", _replace("[site]", "[sites]"), "sites", "unknown section; did you mean 'site'?"),
    Bad("bad-enum", _set("network", mode="private"), "network.mode",
        "'private' is not allowed; use one of: 'public', 'vpc-nat-gateway', 'vpc-nat-instance'"),
    Bad("memory-too-small", _set("function", memory=64), "function.memory",
        "64 is below the minimum 128 (allowed: 128-10240)"),
    Bad("memory-too-large", _set("function", memory=20480), "function.memory",
        "20480 is above the maximum 10240 (allowed: 128-10240)"),
    Bad("memory-wrong-type", _replace("memory = 1024", 'memory = "1024"'), "function.memory",
        "expected an integer, got '1024'"),
    Bad("toml-syntax", _append("\n[function\nmemory = 1\n"), "", "invalid TOML"),
    Bad("external-db-without-host",
        _set("database", mode="external", user="wp",
             secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"),
        "database.host", 'database.mode = "external" needs database.host'),
    Bad("php-dir-source-without-dir", _set("php", source="dir"), "php.dir",
        'php.source = "dir" needs php.dir, the directory holding php-fpm and php'),
    Bad("php-dir-missing", _set("php", source="dir", dir="no-such-dir"), "php.dir", "is not a directory"),
    # Bref v3 publishes PHP 8.2 to 8.5; the allowed set comes from its layers.json.
    Bad("php-version-bref-dropped", _set("php", version="8.1"), "php.version", "'8.2', '8.3', '8.4', '8.5'"),
    Bad("no-bref-layer-in-region", _set("aws", region="il-central-1"), "aws.region",
        "Bref publishes no PHP 8.3 layer for x86_64 in il-central-1"),
    Bad("layer-arn-other-region",
        _set("php", layer_arn="arn:aws:lambda:eu-west-1:873528684822:layer:php-82:23"), "php.layer_arn",
        "the layer is not in us-east-1"),
    # php.extensions: Bref's extra layers are x86_64 only, named per PHP version and region, and count
    # against Lambda's 5 layers per function.
    Bad("gd-on-arm64", _set("aws", architecture="arm64"), "php.extensions",
        "gd cannot be attached on arm64: Bref publishes its extra-extension layers for x86_64 only"),
    Bad("unknown-extension", _set("php", extensions=["gdx"]), "php.extensions",
        "Bref publishes no gdx layer for PHP 8.3; it publishes: amqp,"),
    Bad("extension-not-in-region",
        _chain(_set("aws", region="il-central-1"),
               _set("php", layer_arn="arn:aws:lambda:il-central-1:123456789012:layer:my-php:1")),
        "php.extensions", "Bref publishes no gd-php-83 layer in il-central-1"),
    Bad("extension-not-a-name", _set("php", extensions=[{"name": "gd"}]), "php.extensions",
        'expected a list of extension names such as ["gd"]'),
    Bad("six-layers", _set("php", extensions=["gd", "imagick", "redis-igbinary", "pcov"]), "php.extensions",
        "the function would get 6 layers (PHP, 4 extension layers and the wplambda runtime); Lambda attaches "
        "at most 5"),
    Bad("vpc-cidr-host-bits", _set("network", vpc_cidr="10.42.1.0/16"), "network.vpc_cidr",
        "'10.42.1.0/16' is not a network address"),
    Bad("min-acu-above-max", _set("database", min_acu=4.0, max_acu=2.0), "database.min_acu",
        "min_acu 4.0 is above max_acu 2.0"),
    Bad("uploads-max-size-over-s3-post", _set("uploads", max_size=6000), "uploads.max_size",
        "6000 is above the maximum 5120 (allowed: 1-5120)"),
    Bad("uploads-max-size-zero", _set("uploads", max_size=0), "uploads.max_size",
        "0 is below the minimum 1 (allowed: 1-5120)"),
]


@pytest.fixture(scope="module")
def valid_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid project, rendered once; each case copies it."""
    root = tmp_path_factory.mktemp("valid") / "site"
    init_project(root, {})
    return root


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _line_of(text: str, key: str) -> int:
    """The line a problem about ``section.key`` must point at (the key, or the table header)."""
    section, _, name = key.partition(".")
    current = ""
    header = 0
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            current = stripped.strip("[]")
            header = number if current == section else header
        elif name and current == section and stripped.split("=")[0].strip() == name:
            return number
    return header


def test_there_are_at_least_ten_bad_configs() -> None:
    assert len(BAD) >= 10
    assert len({b.id for b in BAD}) == len(BAD)


@pytest.mark.parametrize("command", ["validate", "render"])
@pytest.mark.parametrize("bad", BAD, ids=[b.id for b in BAD])
def test_bad_config_is_refused_and_nothing_changes(bad: Bad, command: str, valid_project: Path,
                                                   tmp_path: Path) -> None:
    root = tmp_path / "site"
    shutil.copytree(valid_project, root)
    config_path = root / "wplambda.toml"
    text = bad.edit(config_path.read_text())
    config_path.write_text(text)
    before = _snapshot(root)

    result = run_wplambda(command, "--project", str(root))

    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())  # rich may wrap long lines
    assert bad.expected in message
    if bad.key:
        assert f"{config_path}:{_line_of(text, bad.key)}: {bad.key}:" in message
    else:
        assert f"{config_path}" in message
    assert "Traceback" not in result.stderr
    assert _snapshot(root) == before
