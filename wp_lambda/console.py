"""``wplambda console``: an interactive prompt where each line is one wp-cli invocation.

Lines are split like a shell would split them (quotes, backslashes) but no shell runs: the words
go to wp-cli as they are. ``eval CODE`` and ``php CODE`` take the rest of the line verbatim as PHP
(``wp eval``), so a snippet needs no extra quoting. Every line is a fresh PHP process in the
console function: variables, globals and the current directory never carry over, which the banner
says. History is kept per project with readline, written after every line (temp file, then
rename), so it survives a crash.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from wp_lambda.common.errors import UserError
from wp_lambda.config import Config
from wp_lambda.remote import Target

HISTORY_FILE = Path(".wplambda") / "console_history"
HISTORY_LENGTH = 1000
_PHP_WORDS = ("eval", "php")
_EXIT_WORDS = ("exit", "quit")


def history_path(config: Config) -> Path:
    return config.root / HISTORY_FILE


def parse_line(line: str) -> list[str] | None:
    """wp-cli's arguments for one line; None for a blank line. Raises ValueError on bad quoting."""
    text = line.strip()
    if text.startswith("wp "):
        text = text[3:].lstrip()
    if not text or text.startswith("#"):
        return None
    word, _, rest = text.partition(" ")
    if word in _PHP_WORDS:
        if not rest.strip():
            raise ValueError(f"{word} needs PHP code after it, e.g. {word} echo home_url();")
        return ["eval", rest.strip()]
    return shlex.split(text)


def banner(target: Target) -> str:
    return (f"wp-cli in the {target.name}. Each line is one `wp` command, run on its own: nothing "
            "(variables, state) carries over from one line to the next.\n"
            "`eval CODE` or `php CODE` runs PHP; Ctrl-D (or `exit`) leaves.")


def _save_history(readline: object, path: Path) -> None:
    """Write readline's history beside ``path`` and rename it in place (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    readline.write_history_file(str(tmp))  # type: ignore[attr-defined]
    os.replace(tmp, path)


def run(target: Target, *, history: Path, read: Callable[[str], str] = input,
        out: TextIO = sys.stdout, errout: TextIO = sys.stderr) -> None:
    """The prompt loop until end of input (Ctrl-D) or ``exit``."""
    try:
        import readline
    except ImportError:  # not every Python build has it; the prompt still works without history
        readline = None  # type: ignore[assignment]
    if readline is not None:
        readline.clear_history()
        readline.set_history_length(HISTORY_LENGTH)
        with contextlib.suppress(FileNotFoundError, OSError):
            readline.read_history_file(str(history))
    print(banner(target), file=errout, flush=True)
    while True:
        try:
            line = read("wp> ")
        except EOFError:
            print(file=errout, flush=True)
            return
        except KeyboardInterrupt:
            print("^C", file=errout, flush=True)
            continue
        if line.strip() in _EXIT_WORDS:
            return
        try:
            args = parse_line(line)
        except ValueError as exc:
            print(f"error: {exc}", file=errout, flush=True)
            continue
        if args is None:
            continue
        if readline is not None:
            _save_history(readline, history)
        try:
            result = target.wp(args)
        except UserError as exc:
            print(f"error: {exc}", file=errout, flush=True)
            continue
        except KeyboardInterrupt:
            print("\ninterrupted (the command may still be running in the function)", file=errout, flush=True)
            continue
        out.write(result.stdout)
        if result.stdout and not result.stdout.endswith("\n"):
            out.write("\n")
        out.flush()
        errout.write(result.stderr)
        if result.exit_code != 0:
            errout.write(f"[exit {result.exit_code}]\n")
        errout.flush()
