"""serve refuses to present a site whose first home page through the handler is empty."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.helpers import copy_wordpress, run_wplambda
from tests.support.ports import free_port
from tests.support.serve import pid_alive


@pytest.mark.slow
def test_an_empty_home_page_stops_serve_pointing_at_the_php_log(tmp_path: Path) -> None:
    """A theme that is valid to WordPress (style.css, index.php) but prints nothing: the page is
    200 with an empty body, which is what a user would see as a white screen."""
    source = copy_wordpress(tmp_path / "wordpress")
    theme = source / "wp-content" / "themes" / "twentytwentythree"
    shutil.rmtree(theme)
    theme.mkdir()
    (theme / "style.css").write_text("/*\nTheme Name: Twenty Twenty-Three\n*/\n")
    (theme / "index.php").write_text("<?php\n")
    project = tmp_path / "site"
    result = run_wplambda("init", str(project), "--yes", "--name", "blank", "--wordpress-source", str(source))
    assert result.returncode == 0, result.stderr
    result = run_wplambda("serve", "--project", str(project), "--port", str(free_port()), "--install",
                          env={"COLUMNS": "200"}, timeout=300)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 2, output
    assert "the home page answered 200 with an empty body" in output
    assert str(project / ".wplambda" / "local" / "logs" / "handler.log") in output
    assert "Traceback" not in output
    pids = [int(p.read_text()) for p in (project / ".wplambda" / "local" / "run").glob("*.pid")]
    assert not [pid for pid in pids if pid_alive(pid)]
