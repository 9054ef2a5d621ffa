"""The rollback mark in a live alias's Description (wp_lambda.deploy.versions): a deploy moves the
alias to the version the mark names, so only the exact text rollback writes counts as one."""

from __future__ import annotations

import pytest

from wp_lambda.deploy.versions import ROLLBACK_MARK, deployed_version


def test_the_mark_rollback_writes_names_the_deployed_version() -> None:
    alias = {"FunctionVersion": "7", "Description": ROLLBACK_MARK.format(deployed=9, rolled_back=7)}
    assert deployed_version(alias) == "9"


@pytest.mark.parametrize("description", [
    ROLLBACK_MARK.format(deployed=9, rolled_back=7) + "\n",  # a trailing newline
    ROLLBACK_MARK.format(deployed="\u0669", rolled_back=7),  # ARABIC-INDIC DIGIT NINE, a \d but no version
    ROLLBACK_MARK.format(deployed="09", rolled_back=7),  # no version number has a leading zero
    "note: " + ROLLBACK_MARK.format(deployed=9, rolled_back=7),
])
def test_anything_else_is_no_mark(description: str) -> None:
    assert deployed_version({"FunctionVersion": "7", "Description": description}) == "7"
