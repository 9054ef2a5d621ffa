"""Refresh the packaged Bref layer lists (``wp_lambda/data/bref/``) from Bref's published ``layers.json``.

Bref publishes, per release, a ``layers.json`` (runtime layers ``php-8X`` / ``arm-php-8X``) and its
extra-extensions project another (``gd-php-8X``, ...). The kit's layer table *is* those files, so an
upgrade is: fetch them (this machine cannot), run this script on them, review the diff, commit.

    .venv/bin/python scripts/refresh_bref_layers.py ../shared/bref --release 3.0.9 \\
        --bref-commit 0d899c6... --extensions-commit e2ef5a7... --extensions-date 2026-06-25 \\
        --php-versions bref-3.0.9-php-versions.json --php-versions-date 2026-07-04

Each SOURCE is a file, a directory or a URL (a release's published ``layers.json``); which list a
file is comes from its content (layer names), not its name.

Which PHP patch release each runtime layer carries is not in ``layers.json``; ``--php-versions``
takes it from Bref's release data (a JSON object ``{"php-84": "8.4.23", "arm-php-84": "8.4.23", ...}``,
a path or URL; ``--php-versions-date`` and ``--php-versions-source`` say where it came from) and
writes ``php-versions.json``. ``--php-security`` replaces ``wp_lambda/data/php_security.json`` (each PHP
branch's end of life and the releases that fixed known vulnerabilities, with their sources) from a
path or URL, after checking its shape:

    .venv/bin/python scripts/refresh_bref_layers.py https://.../layers.json --release 3.1.0 \\
        --php-versions https://.../php-versions.json --php-versions-date 2026-11-20 \\
        --php-security updated-php_security.json

New runtime layers need their PHP releases: ``--php-versions`` must then be given and cover every
runtime layer of the new ``layers.json``, or nothing is written.

Every file is checked before anything is written, the data files are replaced atomically, and
``metadata.json`` (release, source, commit, date, checksum) is written last, also through a temp file
and a rename, so a crash never leaves metadata describing files that are not there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from wp_lambda.common.fetch import NotFound, fetch, is_url  # noqa: E402  (the repository root is only on the path now)
from wp_lambda.common.files import atomic_write  # noqa: E402

DEST = REPO / "wp_lambda" / "data" / "bref"
SECURITY_DEST = REPO / "wp_lambda" / "data" / "php_security.json"
BASE, EXTRA = "layers.json", "extra-php-extensions-layers.json"
PHP_VERSIONS = "php-versions.json"
# Bref's AWS accounts: not in layers.json, stable across releases, so they are kept when absent.
ACCOUNTS = {BASE: "873528684822", EXTRA: "403367587399"}
_BASE_NAME = re.compile(r"^(arm-)?php-\d{2}$")
_EXTRA_NAME = re.compile(r"^[a-z0-9-]+-php-\d{2}$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_RELEASE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_BRANCH = re.compile(r"^\d+\.\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")


def _read_source(source: str) -> bytes:
    """The bytes of a path or URL (this machine has no network: tests pass paths)."""
    try:
        return fetch(source, what=source)
    except NotFound:
        raise SystemExit(f"{source}: not found") from None


def _json(source: str, raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise SystemExit(f"{source}: not JSON ({exc})") from None


def _check_php_versions(source: str, data: Any, base: dict[str, Any]) -> None:
    """A PHP release (8.4.23) for every runtime layer of ``base``, on the branch its name says."""
    if not isinstance(data, dict):
        raise SystemExit(f"{source}: expected an object of runtime layer names and PHP releases")
    for name in base:
        release = data.get(name)
        match = _RELEASE.match(release) if isinstance(release, str) else None
        digits = re.sub(r"\D", "", name)
        if match is None or f"{match[1]}{match[2]}" != digits:
            raise SystemExit(f"{source}: layer {name!r} needs its PHP release on branch {digits[0]}.{digits[1:]} "
                             f"(such as \"{digits[0]}.{digits[1:]}.0\"), not {release!r}")


def _check_php_security(source: str, data: Any) -> None:
    """Each branch's end of life as a date; each advisory's CVEs, fixes per known branch and source."""
    if not isinstance(data, dict) or not isinstance(data.get("branches"), dict) or not data["branches"]:
        raise SystemExit(f"{source}: expected {{\"branches\": {{\"8.4\": {{\"end_of_life\": \"YYYY-MM-DD\"}}}}, ...}}")
    for branch, entry in data["branches"].items():
        if not _BRANCH.match(branch) or not isinstance(entry, dict) or not _DATE.match(str(entry.get("end_of_life"))):
            raise SystemExit(f"{source}: branch {branch!r}: needs an end_of_life date (YYYY-MM-DD)")
    if not data.get("end_of_life_source"):
        raise SystemExit(f"{source}: end_of_life_source is missing: say where the dates come from")
    for adv in data.get("advisories", []):
        ids, fixed = adv.get("ids"), adv.get("fixed_in")
        if not ids or not all(isinstance(i, str) and _CVE.match(i) for i in ids) or not adv.get("source") \
                or not adv.get("summary"):
            raise SystemExit(f"{source}: advisory {ids!r}: needs CVE ids, a summary and a source")
        for branch, release in (fixed or {}).items():
            match = _RELEASE.match(str(release))
            if branch not in data["branches"] or match is None or f"{match[1]}.{match[2]}" != branch:
                raise SystemExit(f"{source}: advisory {ids!r}: fixed_in {branch!r}: {release!r} is not a release "
                                 "of a listed branch")
        if not fixed:
            raise SystemExit(f"{source}: advisory {ids!r}: fixed_in names no release")


def _downloaded(sources: list[str], scratch: Path) -> list[Path]:
    """The SOURCE arguments as paths: a URL is fetched into ``scratch`` under its own file name."""
    out = []
    for number, source in enumerate(sources):
        if is_url(source):
            target = scratch / str(number) / (Path(urlparse(source).path).name or "layers.json")
            target.parent.mkdir()
            target.write_bytes(_read_source(source))
            out.append(target)
        else:
            out.append(Path(source))
    return out


def _load(path: Path) -> dict[str, Any]:
    """Parse one layers.json: {layer name: {region: layer version}}."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(data, dict) or not data:
        raise SystemExit(f"{path}: expected an object of layer names")
    return data


def _check(path: Path, data: dict[str, Any]) -> None:
    """Every layer has regions, each a plausible region name with a positive layer version."""
    for name, regions in data.items():
        if not isinstance(regions, dict) or not regions:
            raise SystemExit(f"{path}: layer {name!r} has no regions")
        for region, version in regions.items():
            if not _REGION.match(region) or not isinstance(version, int) or isinstance(version, bool) or version < 1:
                raise SystemExit(f"{path}: layer {name!r}: bad entry {region!r}: {version!r}")


def _kind(data: dict[str, Any]) -> str | None:
    """Which packaged file this list is, from its layer names; None for anything else (Bref v2's list)."""
    if all(_BASE_NAME.match(name) for name in data):
        return BASE
    if all(_EXTRA_NAME.match(name) and not _BASE_NAME.match(name) for name in data):
        return EXTRA
    return None


def _sources(paths: list[Path]) -> dict[str, tuple[Path, dict[str, dict[str, int]]]]:
    """Every JSON file named or inside a named directory, keyed by the packaged file it replaces."""
    found: dict[str, tuple[Path, dict[str, dict[str, int]]]] = {}
    for given in paths:
        for path in sorted(given.glob("*.json")) if given.is_dir() else [given]:
            data = _load(path)
            kind = _kind(data)
            if kind is None and given.is_dir():
                # A directory may hold other lists too (Bref v2's, kept for comparison).
                print(f"skipped {path}: not Bref v3 runtime or extra-extension layers")
                continue
            if kind is None:
                raise SystemExit(f"{path}: neither Bref's runtime layers (php-8X) nor its extra extensions "
                                 "(gd-php-8X)")
            _check(path, data)
            if kind in found:
                raise SystemExit(f"{path} and {found[kind][0]} are both {kind}; pass one")
            found[kind] = (path, data)
    if not found:
        raise SystemExit("no layers.json found in " + ", ".join(map(str, paths)))
    return found


def _release(args: argparse.Namespace, sources: dict[str, tuple[Path, Any]], old: dict[str, Any]) -> str:
    """The Bref release: --release, else from a ``bref-X.Y.Z-layers.json`` name, else unchanged."""
    if args.release:
        return str(args.release)
    if BASE in sources:
        match = re.match(r"^bref-(\d+\.\d+\.\d+)-layers\.json$", sources[BASE][0].name)
        if match:
            return match.group(1)
        raise SystemExit("pass --release: the runtime layers changed and their file name does not say the release")
    return str(old["bref_release"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="*", help="layers.json files, directories holding them, or URLs")
    parser.add_argument("--release", help="Bref release the lists belong to, e.g. 3.0.9")
    parser.add_argument("--bref-commit", help="brefphp/bref commit of the release tag")
    parser.add_argument("--bref-date", help="date of that commit (YYYY-MM-DD)")
    parser.add_argument("--extensions-tag", help="brefphp/extra-php-extensions tag (default: the release)")
    parser.add_argument("--extensions-commit", help="brefphp/extra-php-extensions commit of that tag")
    parser.add_argument("--extensions-date", help="date of that commit (YYYY-MM-DD)")
    parser.add_argument("--php-versions", help="path or URL of Bref's {layer name: PHP release} data")
    parser.add_argument("--php-versions-date", help="date Bref last updated PHP in its layers (YYYY-MM-DD)")
    parser.add_argument("--php-versions-source", help="where that data was published (URL or words)")
    parser.add_argument("--php-security", help="path or URL of a new php_security.json")
    parser.add_argument("--dest", type=Path, default=DEST, help=f"where the packaged files live (default {DEST})")
    parser.add_argument("--security-dest", type=Path, default=SECURITY_DEST,
                        help=f"where php_security.json lives (default {SECURITY_DEST})")
    args = parser.parse_args(argv)
    if not (args.sources or args.php_versions or args.php_security):
        parser.error("nothing to refresh: pass layers.json sources, --php-versions or --php-security")

    meta_path = args.dest / "metadata.json"
    old: dict[str, Any] = json.loads(meta_path.read_text()) if meta_path.is_file() else {"files": {}}
    # Everything is read and checked before anything is written.
    security_raw = _read_source(args.php_security) if args.php_security else None
    if security_raw is not None:
        _check_php_security(args.php_security, _json(args.php_security, security_raw))
    with tempfile.TemporaryDirectory() as scratch:
        sources = _sources(_downloaded(args.sources, Path(scratch))) if args.sources else {}
        return _write(args, old, sources, security_raw)


def _write(args: argparse.Namespace, old: dict[str, Any], sources: dict[str, tuple[Path, Any]],
           security_raw: bytes | None) -> int:
    """Check the PHP releases against the runtime layers that end up packaged, then write."""
    meta_path = args.dest / "metadata.json"
    base = sources[BASE][1] if BASE in sources else (
        json.loads((args.dest / BASE).read_text()) if (args.dest / BASE).is_file() else {})
    versions_raw = _read_source(args.php_versions) if args.php_versions else None
    if versions_raw is not None and BASE not in sources:
        # The releases describe one Bref release's layers: newer releases beside the old ARNs would
        # mark a still-pinned vulnerable layer as patched.
        raise SystemExit(f"--php-versions describes the layers of one Bref release: pass that release's "
                         f"{BASE} too, so the ARNs and their PHP releases move together")
    if versions_raw is not None:
        _check_php_versions(args.php_versions, _json(args.php_versions, versions_raw), base)
    elif BASE in sources:
        # New runtime layers with the old releases would claim PHP versions nobody checked.
        raise SystemExit(f"the runtime layers change: pass --php-versions with the PHP release each one carries "
                         f"(the PHP security check reads {PHP_VERSIONS})")
    if security_raw is not None:
        atomic_write(args.security_dest, security_raw)
        print(f"{args.security_dest.name}: from {args.php_security}")
    if not sources and versions_raw is None:
        return 0
    release = _release(args, sources, old)
    files: dict[str, Any] = dict(old.get("files", {}))
    missing = sorted(set(ACCOUNTS) - set(files) - set(sources))
    if missing:
        raise SystemExit(f"no {', '.join(missing)} packaged yet: pass it too")
    given = {BASE: ("brefphp/bref", release, args.bref_commit, args.bref_date),
             EXTRA: ("brefphp/extra-php-extensions", args.extensions_tag or release, args.extensions_commit,
                     args.extensions_date)}
    for kind, (path, _data) in sorted(sources.items()):
        # Bref's bytes, unchanged: the checksum then matches the file in Bref's repository.
        raw = path.read_bytes()
        atomic_write(args.dest / kind, raw)
        repo, tag, commit, date = given[kind]
        # A replaced file's provenance is what was passed now: stale commits or dates are not carried over.
        files[kind] = {"repository": repo, "tag": tag, "commit": commit, "date": date,
                       "account": files.get(kind, {}).get("account", ACCOUNTS[kind]),
                       "sha256": hashlib.sha256(raw).hexdigest()}
    if versions_raw is not None:
        atomic_write(args.dest / PHP_VERSIONS, versions_raw)
        files[PHP_VERSIONS] = {"repository": "brefphp/aws-lambda-layers", "tag": release,
                               "source": args.php_versions_source or args.php_versions,
                               "date": args.php_versions_date, "sha256": hashlib.sha256(versions_raw).hexdigest()}
        print(f"{PHP_VERSIONS}: PHP releases of {len(base)} runtime layers from {args.php_versions}")
    metadata = {"bref_release": release, "files": files}
    atomic_write(meta_path, json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    for kind, (path, data) in sorted(sources.items()):
        print(f"{kind}: {len(data)} layers from {path}")
    print(f"{meta_path.name}: Bref {release}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
