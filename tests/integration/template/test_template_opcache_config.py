"""``build.opcache_file_cache`` in a bad ``wplambda.toml``: refused with exit 2, the file, line and key
named with the fix, through the real console script; a valid one is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomlkit

from tests.support.helpers import run_wplambda
from wp_lambda.config import CONFIG_FILE
from wp_lambda.project import init_project


def _project(root: Path, php: dict[str, object], value: object) -> Path:
    init_project(root, {})
    path = root / CONFIG_FILE
    doc = tomlkit.parse(path.read_text())
    for key, setting in php.items():
        doc["php"][key] = setting  # type: ignore[index]
    doc.setdefault("build", tomlkit.table())
    doc["build"]["opcache_file_cache"] = value  # type: ignore[index]
    path.write_text(tomlkit.dumps(doc))
    return path


def _line(path: Path, key: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), start=1)
                if line.split("=")[0].strip() == key)


@pytest.mark.parametrize(("value", "expected"), [
    (True, "only valid for the PHP binary that wrote it"),
    ("yes", "expected true or false, got 'yes'"),
], ids=["with-bref", "not-a-boolean"])
def test_bad_opcache_file_cache_is_refused(tmp_path: Path, value: object, expected: str) -> None:
    path = _project(tmp_path / "site", {"source": "bref"}, value)
    before = path.read_bytes()
    result = run_wplambda("validate", "--project", str(path.parent))
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert f"{path}:{_line(path, 'opcache_file_cache')}: build.opcache_file_cache:" in message
    assert expected in message
    assert "Traceback" not in result.stderr
    assert path.read_bytes() == before


def test_opcache_file_cache_with_a_dir_source_is_valid(tmp_path: Path) -> None:
    path = _project(tmp_path / "site", {"source": "dir", "dir": "/usr"}, True)
    result = run_wplambda("validate", "--project", str(path.parent))
    assert result.returncode == 0, result.stdout + result.stderr
