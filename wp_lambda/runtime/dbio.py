"""``db-export`` / ``db-import`` direct invocations: the site's database through ``dbio.php`` and a URL.

The dump never travels in a Lambda response (6 MB cap): the caller hands over a presigned URL of
the artifact bucket, and this module streams between that URL and PHP. Export pipes PHP's SQL
through gzip into a file under /tmp (a presigned PUT needs the length up front), then PUTs it;
import streams the GET through gunzip straight into PHP's stdin, so no copy of the dump is kept.
Under ``wplambda serve`` (``WPLAMBDA_LOCAL=1``) the URL may also be a ``file://`` path.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import re
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Protocol

from wp_lambda.runtime import contract
from wp_lambda.runtime.layout import PhpLayout

DBIO_PHP = Path(__file__).with_name("dbio.php")
BLOCK = 256 * 1024
# PHP's own ceiling. The dumper holds one row plus one INSERT chunk (1 MB), the restorer one
# statement, so this is headroom for a huge row, not for the size of the database.
MEMORY_LIMIT = "256M"
# Written after a stream that stopped short: the restorer fails on it instead of committing a
# dump that happens to be cut at a statement boundary.
ABORT_STATEMENT = b"\n;\nWPLAMBDA_INPUT_TRUNCATED;\n"
_AMZ_HEADER = re.compile(r"x-amz-[a-z0-9-]+")


class PhpRunner(Protocol):
    """What these invocations need of the handler's runtime (``handler.Runtime``)."""

    php: str
    layout: PhpLayout  # where PHP's ini files are (Bref's layer or the kit's own)
    document_root: str
    environ: dict[str, str]

    def load_secrets(self) -> None: ...


class TransferError(Exception):
    """The URL could not be read or written."""


def _local(environ: Mapping[str, str]) -> bool:
    return environ.get(contract.LOCAL_ENV) == "1"


def _file_path(url: str, environ: Mapping[str, str]) -> Path | None:
    """The path of a ``file://`` URL (only under serve), else None for an http(s) URL."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "file":
        if not _local(environ):
            raise TransferError("file:// URLs are accepted only under `wplambda serve`")
        return Path(urllib.parse.unquote(parsed.path))
    if parsed.scheme not in ("http", "https"):
        raise TransferError(f"expected an http(s) URL, got {parsed.scheme or 'no'} scheme")
    return None


def _signed_headers(event: Mapping[str, Any]) -> dict[str, str] | None:
    """The headers the URL's signature covers (``x-amz-expected-bucket-owner``), which every request
    to it must send; None when the event's are not ``x-amz-*`` names with printable values (nothing
    else is signed into a presigned URL, and a CR or LF would split the request)."""
    headers = event.get(contract.DBIO_HEADERS_KEY, {})
    if not isinstance(headers, dict):
        return None
    for name, value in headers.items():
        if not (isinstance(name, str) and _AMZ_HEADER.fullmatch(name) and isinstance(value, str)
                and value.isprintable()):
            return None
    return headers


@contextlib.contextmanager
def _open_source(url: str, headers: Mapping[str, str], environ: Mapping[str, str],
                 timeout: float) -> Iterator[IO[bytes]]:
    path = _file_path(url, environ)
    if path is not None:
        with path.open("rb") as fh:
            yield fh
        return
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=dict(headers)), timeout=timeout) as response:
            yield response
    except OSError as exc:
        raise TransferError(f"cannot read the dump: {exc}") from exc


def _upload(source: Path, url: str, headers: Mapping[str, str], environ: Mapping[str, str], timeout: float) -> None:
    path = _file_path(url, environ)
    if path is not None:
        tmp = path.with_name(f".{path.name}.part")
        tmp.write_bytes(b"")
        with source.open("rb") as src, tmp.open("wb") as dst:
            while block := src.read(BLOCK):
                dst.write(block)
        os.replace(tmp, path)
        return
    size = source.stat().st_size
    with source.open("rb") as body:
        request = urllib.request.Request(url, data=body, method="PUT",
                                         headers={**headers, "Content-Length": str(size),
                                                  "Content-Type": contract.DUMP_CONTENT_TYPE})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
        except OSError as exc:
            raise TransferError(f"cannot upload the dump: {exc}") from exc


def _php(runtime: PhpRunner, *args: str) -> list[str]:
    return [runtime.php, *runtime.layout.ini_args, "-d", f"memory_limit={MEMORY_LIMIT}", str(DBIO_PHP), *args]


def _result(summary_file: Path, stderr: bytes, code: int) -> dict[str, Any]:
    """PHP's summary, or an error that says what PHP printed when it died before writing one."""
    try:
        result: dict[str, Any] = json.loads(summary_file.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        tail = stderr.decode("utf-8", "replace").strip()[-2000:]
        return {"error": f"dbio.php exited with code {code} before it finished: {tail or 'no output'}"}
    if stderr.strip():
        result["php_stderr"] = stderr.decode("utf-8", "replace")[-4000:]
    return result


def _refused(url: str, runtime: PhpRunner) -> dict[str, Any] | None:
    """The answer for a URL this runtime must not use; None (and the secrets loaded) otherwise."""
    try:
        _file_path(url, runtime.environ)
    except TransferError as exc:
        return {"error": str(exc)}
    runtime.load_secrets()
    return None


def export(runtime: PhpRunner, event: Mapping[str, Any], timeout: float) -> dict[str, Any]:
    """Dump the site's tables (gzip) to ``event["put_url"]``; the summary has rows per table."""
    url, headers = event.get("put_url"), _signed_headers(event)
    if not isinstance(url, str) or headers is None:
        return {"error": 'db-export needs "put_url", a presigned PUT URL (or a file:// path locally), and '
                         f'"{contract.DBIO_HEADERS_KEY}" (strings) if its signature covers any'}
    refused = _refused(url, runtime)
    if refused:
        return refused
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="wplambda-dbio-") as scratch:
        summary_file, dump, errors = Path(scratch, "summary.json"), Path(scratch, "dump.sql.gz"), Path(scratch, "err")
        digest, raw = hashlib.sha256(), 0
        with errors.open("wb") as err, dump.open("wb") as out:
            process = subprocess.Popen(_php(runtime, "export", str(summary_file)), cwd=runtime.document_root,
                                       env=contract.php_environment(runtime.environ), stdout=subprocess.PIPE,
                                       stderr=err)
            assert process.stdout is not None
            with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0) as packed:
                while block := process.stdout.read(BLOCK):
                    raw += len(block)
                    packed.write(block)
            code = _wait(process, started, timeout)
        result = _result(summary_file, errors.read_bytes(), code)
        if code != 0 or "error" in result:
            return result
        with dump.open("rb") as fh:
            while block := fh.read(BLOCK):
                digest.update(block)
        try:
            _upload(dump, url, headers, runtime.environ, max(timeout - (time.monotonic() - started), 30))
        except TransferError as exc:
            return {"error": str(exc)}
        result.update(sha256=digest.hexdigest(), bytes=dump.stat().st_size, sql_bytes=raw,
                      seconds=round(time.monotonic() - started, 3))
        return result


def _wait(process: subprocess.Popen[bytes], started: float, timeout: float) -> int:
    try:
        return process.wait(timeout=max(timeout - (time.monotonic() - started), 1))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return 124


def import_(runtime: PhpRunner, event: Mapping[str, Any], timeout: float) -> dict[str, Any]:
    """Restore the dump at ``event["get_url"]`` into the site's tables through a temporary prefix.

    ``from_prefix`` is the dump's table prefix (checked by the CLI before the upload); dbio.php
    picks the temporary prefix the tables are built under until the swap.
    """
    url, source, headers = event.get("get_url"), event.get("from_prefix"), _signed_headers(event)
    if not (isinstance(url, str) and isinstance(source, str)) or headers is None:
        return {"error": f'db-import needs "get_url" and "from_prefix", and "{contract.DBIO_HEADERS_KEY}" if the '
                         "URL's signature covers any (strings)"}
    refused = _refused(url, runtime)
    if refused:
        return refused
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="wplambda-dbio-") as scratch:
        summary_file, errors = Path(scratch, "summary.json"), Path(scratch, "err")
        with errors.open("wb") as err:
            process = subprocess.Popen(_php(runtime, "import", str(summary_file), source),
                                       cwd=runtime.document_root, env=contract.php_environment(runtime.environ),
                                       stdin=subprocess.PIPE, stderr=err, stdout=subprocess.DEVNULL)
            assert process.stdin is not None
            problem = None
            try:
                with _open_source(url, headers, runtime.environ, timeout) as stream:
                    problem = _feed(stream, process.stdin)
            except (TransferError, OSError) as exc:
                problem = str(exc)
            if problem:
                with contextlib.suppress(BrokenPipeError):
                    process.stdin.write(ABORT_STATEMENT)
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()
            code = _wait(process, started, timeout)
        result = _result(summary_file, errors.read_bytes(), code)
        if problem:
            result["error"] = f"{problem} (nothing was changed)"
        result["seconds"] = round(time.monotonic() - started, 3)
        return result


def _feed(stream: IO[bytes], sink: IO[bytes]) -> str | None:
    """Copy the dump into PHP, gunzipping when it is gzip; a problem with the input, or None."""
    first = stream.read(BLOCK)
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if first[:2] == b"\x1f\x8b" else None
    block = first
    try:
        while block:
            sink.write(inflater.decompress(block) if inflater else block)
            block = stream.read(BLOCK)
        if inflater is not None:
            sink.write(inflater.flush())
    except zlib.error as exc:
        return f"the gzip data is corrupt: {exc}"
    except BrokenPipeError:
        return None  # PHP stopped reading: it failed, and its summary says why
    if inflater is not None and not inflater.eof:
        return "the gzip data ends early (a truncated .gz)"
    return None


def maintenance(runtime: PhpRunner, event: Mapping[str, Any], timeout: float) -> dict[str, Any]:
    """``db-status`` (tables, rows, URL, admins, kept backups), ``db-drop-backups`` (drop the tables
    earlier imports kept) or ``db-revert`` (swap the backup ``backup_prefix`` back in)."""
    runtime.load_secrets()
    kind = str(event.get("wplambda"))
    with tempfile.TemporaryDirectory(prefix="wplambda-dbio-") as scratch:
        summary_file = Path(scratch, "summary.json")
        args = [kind.removeprefix("db-"), str(summary_file)]
        if kind == "db-revert":
            args.append(str(event.get("backup_prefix", "")))
        try:
            done = subprocess.run(_php(runtime, *args), cwd=runtime.document_root,
                                  env=contract.php_environment(runtime.environ), capture_output=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return {"error": f"{kind} did not finish within {timeout:.0f} s"}
        return _result(summary_file, done.stderr, done.returncode)
