"""Running ``php`` or ``wp`` as a direct invocation: the subprocess runner and its answer's shape.

Apart from the handler so that the client side (``wp_lambda/remote.py``) can name a command the
same way the function logs it, without importing the handler (which starts php-fpm at import
inside Lambda).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Mapping
from typing import Any

# Each of stdout and stderr of a php/wp invocation, once JSON-escaped: both fit Lambda's 6 MB response.
OUTPUT_LIMIT = 2 * 1024 * 1024
# After a command is killed at its deadline: how long to read what it wrote before answering.
_DRAIN_SECONDS = 0.5


def command_words(args: list[str]) -> str:
    """``wp`` and its subcommand words, for logs and messages: never an option's value or an
    ``eval`` snippet, either of which may hold a secret (``--user_pass=...``)."""
    words = ["wp"]
    for arg in args[:2]:
        if not re.fullmatch(r"[a-z][a-z0-9-]*", arg):
            break
        words.append(arg)
    return " ".join(words)


def run_cli(command: list[str], cwd: str, env: Mapping[str, str], timeout: float) -> dict[str, Any]:
    """Run ``command`` (no shell) until it ends or ``timeout`` seconds pass; the invocation's answer.

    The command gets a process group of its own, so a timeout kills whatever it started too.
    Each stream is cut to fit the invocation's response limit, and the answer says so.
    """
    started = time.monotonic()
    try:
        process = subprocess.Popen(command, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, process_group=0)
    except OSError as exc:
        return {"stdout": "", "stderr": f"wplambda: cannot run {command[0]}: {exc}\n", "exitCode": 127,
                "durationMs": 0, "truncated": False, "timedOut": False}
    timed_out = False
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        try:
            stdout, stderr = process.communicate(timeout=_DRAIN_SECONDS)
        except subprocess.TimeoutExpired as exc:  # a process that left the group still holds the pipes
            stdout, stderr = exc.stdout or b"", exc.stderr or b""
            process.wait()
    duration = int((time.monotonic() - started) * 1000)
    out, cut_out = _clip(stdout)
    err, cut_err = _clip(stderr)
    if timed_out:
        err += f"\nwplambda: stopped after {duration / 1000:.1f} s: the invocation's deadline was near\n"
    return {"stdout": out, "stderr": err, "exitCode": 124 if timed_out else process.returncode,
            "durationMs": duration, "truncated": cut_out or cut_err, "timedOut": timed_out}


def _clip(data: bytes) -> tuple[str, bool]:
    """One stream as text that fits its share of the 6 MB response once JSON-escaped (a control
    character or non-ASCII letter takes up to 6 bytes there); whether it was cut."""
    text = data.decode("utf-8", "replace")
    size = len(json.dumps(text))
    if size <= OUTPUT_LIMIT:
        return text, False
    while size > OUTPUT_LIMIT:
        text = text[:int(len(text) * OUTPUT_LIMIT / size * 0.95)]
        size = len(json.dumps(text))
    return text + "\n[output truncated]", True
