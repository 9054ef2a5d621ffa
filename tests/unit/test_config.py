"""The config schema: defaults are valid, the TOML round-trips, problems name key and line, and the
JSON Schema editors get refuses what ``validate`` refuses."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import tomlkit
from typer.testing import CliRunner

from tests.support.helpers import run_wplambda
from wp_lambda.cli import app
from wp_lambda.config import SECTIONS, Config, ConfigError, json_schema, parse, toml_text


def test_default_config_round_trips() -> None:
    text = toml_text(Config())
    assert "# Lambda memory in MB." in text  # commented for people
    config = parse(text)
    assert config.to_dict() == Config().to_dict()


def test_problem_names_file_key_and_line(tmp_path: Path) -> None:
    text = "[site]\nname = \"blog\"\n\n[function]\nmemory = 64\n"
    with pytest.raises(ConfigError) as info:
        parse(text, path=tmp_path / "wplambda.toml")
    message = str(info.value)
    assert f"{tmp_path / 'wplambda.toml'}:5: function.memory" in message
    assert "128" in message and "10240" in message


def test_a_key_set_twice_is_a_config_error_not_a_traceback() -> None:
    """A fresh file already has `exclude = []` under [build]; adding a second line is the usual way in."""
    with pytest.raises(ConfigError) as info:
        parse('[build]\nexclude = []\nexclude = ["wp-content/updraft"]\n')
    assert "invalid TOML" in str(info.value) and "exclude" in str(info.value)


def test_every_problem_is_reported_at_once() -> None:
    text = "[function]\nmemroy = 1\ntimeout = 0\n[network]\nmode = \"private\"\n"
    with pytest.raises(ConfigError) as info:
        parse(text)
    keys = [p.key for p in info.value.problems]
    assert keys == ["function.memroy", "function.timeout", "network.mode"]
    assert "did you mean 'memory'" in str(info.value)


def _with(section: str, key: str, value: object) -> str:
    doc = tomlkit.parse(toml_text(Config()))
    doc[section][key] = value  # type: ignore[index]
    return tomlkit.dumps(doc)


# pydantic's errors in the kit's words: each kind of rule, and the TOML types Python would blur
# (true is not 1, 30.0 is not 30 days, 1 in a float key is shown as 1.0).
@pytest.mark.parametrize(("text", "key", "message"), [
    (_with("logs", "retention_days", True), "logs.retention_days", "expected an integer, got True"),
    (_with("logs", "retention_days", 30.0), "logs.retention_days", "expected an integer, got 30.0"),
    (_with("logs", "retention_days", 31), "logs.retention_days", "31 is not allowed; use one of: 1, 3, 5,"),
    (_with("network", "mode", 5), "network.mode", "expected a string, got 5"),
    (_with("uploads", "object_acl", "x"), "uploads.object_acl",
     "'x' is not allowed; use one of: 'private', 'public-read', 'bucket-owner-full-control'"),
    (_with("database", "min_acu", -1), "database.min_acu", "-1.0 is below the minimum 0 (allowed: 0-256)"),
    (_with("database", "min_acu", True), "database.min_acu", "expected a number, got True"),
    (_with("function", "memory", 1024.0), "function.memory", "expected an integer, got 1024.0"),
    (_with("cron", "schedule", "every 5"), "cron.schedule",
     "'every 5' does not look right (EventBridge schedule expression."),
    (_with("php", "ini", [1]), "php.ini", "expected a table, got [1]"),
    (_with("php", "version", "8.1"), "php.version", "'8.1' is not allowed; use one of: '8.2', '8.3', '8.4', '8.5'"),
    (_with("build", "composer_repositories", [1]), "build.composer_repositories",
     "expected a list of strings or tables"),
    ("site = 1\n", "site", "expected a [site] table"),
    ("[zzzz]\n", "zzzz", "unknown section; known keys: site, aws, php,"),
    ("[site.extra]\nx = 1\n", "site.extra", "unknown key; known keys: name, title,"),
    ('[plugins]\n"foo.bar" = { version = "1", actve = true }\n', "plugins.foo.bar.actve",
     "unknown key; did you mean 'active'?"),
    ('[plugins]\nfoo = { versoin = "1" }\n', "plugins.foo.versoin", "unknown key; did you mean 'version'?"),
    ('[plugins]\nfoo = 5\n', "plugins.foo", 'expected a pinned version string such as "1.2.3"'),
], ids=["true-days", "float-days", "days-not-offered", "literal-type", "choices-without-empty", "float-shown",
        "bool-number", "float-integer", "pattern", "table", "bref-php", "items", "section-type", "no-close-match",
        "sub-table", "dotted-slug", "misspelt-version", "pin-type"])
def test_pydantic_errors_in_the_kits_words(text: str, key: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text)
    found = [p for p in info.value.problems if p.key == key]
    assert len(found) == 1 and found[0].message.startswith(message), info.value.problems


def test_each_bad_list_item_is_named_with_its_line() -> None:
    text = _with("site", "domains", ["A.com", "blog.example.com", "b..c"])
    with pytest.raises(ConfigError) as info:
        parse(text)
    line = text.splitlines().index(next(raw for raw in text.splitlines() if raw.startswith("domains ="))) + 1
    assert [(p.key, p.message.split()[0], p.line) for p in info.value.problems
            if p.key == "site.domains"] == [("site.domains", "'A.com'", line), ("site.domains", "'b..c'", line)]


def test_a_key_that_failed_is_left_at_its_default_and_the_cross_checks_still_run() -> None:
    # memory is wrong and the network is public: the second problem comes in the same report.
    doc = tomlkit.parse(_with("function", "memory", "lots"))
    doc["network"]["mode"] = "public"  # type: ignore[index]
    with pytest.raises(ConfigError) as info:
        parse(tomlkit.dumps(doc))
    assert [p.key for p in info.value.problems] == ["function.memory", "database.mode"]


def test_json_schema_accepts_the_default_config_and_both_pin_forms() -> None:
    schema = json_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    doc = tomlkit.parse(toml_text(Config())).unwrap()
    doc["plugins"] = {"akismet": "5.0.2", "hello-dolly": {"version": "1.7.2", "active": False}}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(doc)) == []


@pytest.mark.parametrize(("section", "key", "value"), [
    ("function", "memroy", 1024),  # unknown key
    ("function", "memory", 64),  # below the minimum
    ("network", "mode", "private"),  # not one of the modes
    ("php", "version", "8.1"),  # not a PHP Bref publishes
    ("plugins", "Bad Slug", "1.0"),  # not a slug
    ("plugins", "akismet", {"version": "1.0", "active": None}),  # TOML has no null
], ids=["unknown-key", "range", "enum", "bref-php", "slug", "null"])
def test_json_schema_refuses_what_validate_refuses(section: str, key: str, value: object) -> None:
    doc = tomlkit.parse(toml_text(Config())).unwrap()
    doc[section][key] = value
    assert list(jsonschema.Draft7Validator(json_schema()).iter_errors(doc))


def test_json_schema_describes_every_table_and_key() -> None:
    """The descriptions are the config reference and the editor's hover text: none may be missing."""
    schema = json_schema()
    for table, prop in schema["properties"].items():
        assert prop.get("description"), table
    for name, definition in schema["definitions"].items():
        for key, prop in definition["properties"].items():
            assert prop.get("description"), f"{name}.{key}"
    assert set(schema["properties"]) == {*SECTIONS, "plugins", "themes"}


def test_config_schema_command_prints_the_json_schema() -> None:
    result = CliRunner().invoke(app, ["config", "schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json_schema()
    help_text = CliRunner().invoke(app, ["config", "schema", "--help"]).stdout
    assert "#:schema" in help_text


@pytest.mark.parametrize("schedule", ["rate(5 minutes)", "rate(15 minutes)", "cron(0/10 * * * ? *)"])
def test_a_cron_that_keeps_a_pausing_database_awake_is_exit_2(tmp_path: Path, schedule: str) -> None:
    """min_acu = 0 and runs never more than auto_pause_seconds (900) apart: Aurora would never
    pause, so validate refuses, naming both keys and the ways out; nothing is written."""
    doc = tomlkit.parse(toml_text(Config()))
    doc["cron"]["schedule"] = schedule  # type: ignore[index]
    path = tmp_path / "wplambda.toml"
    path.write_text(tomlkit.dumps(doc))
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run_wplambda("validate", "--project", str(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert f"cron.schedule: {schedule} runs wp-cron at least every" in message
    assert "at or below database.auto_pause_seconds = 900" in message and "database.min_acu" in message
    assert 'run cron less often (e.g. "rate(1 hour)")' in message
    assert "Traceback" not in result.stderr and sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize(("changes", "valid"), [
    ({"cron": {"schedule": "rate(16 minutes)"}}, True),  # 960 s apart: it pauses for a minute
    ({"cron": {"schedule": "rate(5 minutes)"}, "database": {"min_acu": 0.5}}, True),  # never pauses anyway
    ({"cron": {"schedule": "rate(5 minutes)", "enabled": False}}, True),
    ({"cron": {"schedule": "cron(0/5 8-17 * * ? *)"}}, True),  # the night is a 14 h gap
    ({"cron": {"schedule": "cron(0/5 * ? * MON-FRI *)"}}, True),  # not counted: not refused either
    ({"database": {"auto_pause_seconds": 3600}}, False),  # the default hourly run, an hour's delay
])
def test_the_cron_check_refuses_only_a_database_that_could_never_pause(changes: dict[str, dict[str, object]],
                                                                        valid: bool) -> None:
    doc = tomlkit.parse(toml_text(Config()))
    for section, values in changes.items():
        for key, value in values.items():
            doc[section][key] = value  # type: ignore[index]
    if valid:
        parse(tomlkit.dumps(doc))
        return
    with pytest.raises(ConfigError) as info:
        parse(tomlkit.dumps(doc))
    assert [p.key for p in info.value.problems] == ["cron.schedule"]


def test_cache_bounds_name_the_key_and_the_limit(tmp_path: Path) -> None:
    """[cache] ttl stays within half a WordPress nonce's life (12 h); stale_ttl is never negative."""
    text = "[cache]\npages = true\nttl = 86400\nstale_ttl = -1\n"
    with pytest.raises(ConfigError) as info:
        parse(text, path=tmp_path / "wplambda.toml")
    assert [p.key for p in info.value.problems] == ["cache.ttl", "cache.stale_ttl"]
    assert "43200" in str(info.value) and f"{tmp_path / 'wplambda.toml'}:3: cache.ttl" in str(info.value)
    assert parse("[cache]\npages = false\nttl = 43200\nstale_ttl = 0\n").cache.pages is False
