"""What a long-running service tells its caller while it runs.

Services never print: they call a :class:`Reporter`, which the CLI implements with rich (progress
bars, colours) and tests and ``serve`` implement however they like. Build, serve, import/export
and the remote console all report through it, so it lives below all of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol

from wp_lambda.common.fetch import ProgressFn


class Reporter(Protocol):
    def step(self, message: str) -> None:
        """A build step starts."""

    def note(self, message: str) -> None:
        """Something the user should know (e.g. a throwaway database was started)."""

    def warn(self, message: str) -> None:
        """Something that may bite later (missing extension, size close to a limit)."""

    def transfer(self, label: str) -> contextlib.AbstractContextManager[ProgressFn]:
        """A download is running; the yielded callback receives (received, total)."""


class QuietReporter:
    """Records messages instead of printing them (the default for library callers)."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def step(self, message: str) -> None:
        self.messages.append(message)

    def note(self, message: str) -> None:
        self.messages.append(message)

    def warn(self, message: str) -> None:
        self.messages.append(f"warning: {message}")

    @contextlib.contextmanager
    def transfer(self, label: str) -> Iterator[ProgressFn]:
        self.messages.append(label)
        yield lambda received, total: None
