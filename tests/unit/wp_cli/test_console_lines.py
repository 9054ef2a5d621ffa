"""How a console line becomes wp-cli's arguments (no shell runs; the pty test drives the prompt)."""

from __future__ import annotations

import pytest

from wp_lambda.console import parse_line


@pytest.mark.parametrize(("line", "args"), [
    ("plugin list --format=json", ["plugin", "list", "--format=json"]),
    ("  wp option get home  ", ["option", "get", "home"]),
    ("post create --post_title='Hello world'", ["post", "create", "--post_title=Hello world"]),
    ("option get 'x; rm -rf /'", ["option", "get", "x; rm -rf /"]),
    ("eval echo 'a  b'; echo \"c\";", ["eval", "echo 'a  b'; echo \"c\";"]),
    ("php   var_dump(home_url());", ["eval", "var_dump(home_url());"]),
    ("", None),
    ("   ", None),
    ("# a comment", None),
])
def test_lines(line: str, args: list[str] | None) -> None:
    assert parse_line(line) == args


@pytest.mark.parametrize("line", ["option get 'unterminated", "eval", "php   "])
def test_bad_lines_say_why(line: str) -> None:
    with pytest.raises(ValueError):
        parse_line(line)
