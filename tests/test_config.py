"""The config schema: defaults are valid, the TOML round-trips, problems name key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from wp_lambda.config import Config, ConfigError, parse, toml_text


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


def test_every_problem_is_reported_at_once() -> None:
    text = "[function]\nmemroy = 1\ntimeout = 0\n[network]\nmode = \"private\"\n"
    with pytest.raises(ConfigError) as info:
        parse(text)
    keys = [p.key for p in info.value.problems]
    assert keys == ["function.memroy", "function.timeout", "network.mode"]
    assert "did you mean 'memory'" in str(info.value)
