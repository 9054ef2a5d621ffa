"""Finding the local PHP that serve runs (wp_lambda/local/php.py), on fake layouts in temp dirs."""

from __future__ import annotations

from pathlib import Path

import pytest

from wp_lambda.common.errors import UserError
from wp_lambda.local import php

FAKE = "#!/bin/sh\n[ \"$1\" = -r ] && printf '{version}'\n"


def binary(folder: Path, name: str, version: str = "8.3") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(FAKE.format(version=version))
    path.chmod(0o755)
    return path


def test_debian_is_found_first_on_this_machine() -> None:
    found = php.find("8.2", environ={})
    assert (found.fpm, found.cli, found.version) == (Path("/usr/sbin/php-fpm8.2"), Path("/usr/bin/php8.2"), "8.2")


def test_the_preferred_version_then_the_newest(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    for version in ("8.1", "8.3", "8.4"):
        binary(bin_dir, f"php-fpm{version}", version)
        binary(bin_dir, f"php{version}", version)
    assert php.find("8.3", environ={}, path=str(bin_dir)).fpm == bin_dir / "php-fpm8.3"
    assert php.find("7.4", environ={}, path=str(bin_dir)).fpm == bin_dir / "php-fpm8.4"


def test_a_plain_php_fpm_on_path_and_its_version_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(php, "SBIN", ())
    bin_dir = tmp_path / "opt-php" / "bin"
    fpm, cli = binary(bin_dir, "php-fpm", "8.4"), binary(bin_dir, "php", "8.4")
    assert php.find("8.2", environ={}, path=str(bin_dir)) == php.LocalPhp(fpm, cli, "8.4")


def test_the_variables_override_and_go_together(tmp_path: Path) -> None:
    fpm, cli = binary(tmp_path, "my-fpm", "8.3"), binary(tmp_path, "my-php", "8.3")
    assert php.find("8.2", environ={php.FPM_ENV: str(fpm), php.CLI_ENV: str(cli)}) == php.LocalPhp(fpm, cli, "8.3")
    with pytest.raises(UserError, match="go together"):
        php.find("8.2", environ={php.FPM_ENV: str(fpm)})
    with pytest.raises(UserError, match="not a working php-fpm and php"):
        php.find("8.2", environ={php.FPM_ENV: str(tmp_path / "none"), php.CLI_ENV: str(cli)})


def test_nothing_found_names_where_it_looked_and_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(php, "SBIN", ())
    with pytest.raises(UserError) as caught:
        php.find("8.2", environ={}, path=str(tmp_path))
    assert "no local php-fpm found" in caught.value.message and php.FPM_ENV in (caught.value.hint or "")
