"""Errors a user can act on.

Every command catches :class:`UserError` at the CLI boundary and turns it into one clear message
and exit code 2, so service functions can fail early without knowing anything about typer.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a missing prerequisite: the message says what and how to fix it."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.hint}" if self.hint else self.message
