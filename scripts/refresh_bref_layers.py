"""Refresh the packaged Bref layer lists (``wp_lambda/data/bref/``) from Bref's published ``layers.json``.

Bref publishes, per release, a ``layers.json`` (runtime layers ``php-8X`` / ``arm-php-8X``) and its
extra-extensions project another (``gd-php-8X``, ...). The kit's layer table *is* those files, so an
upgrade is: fetch them (this machine cannot), run this script on them, review the diff, commit.

    .venv/bin/python scripts/refresh_bref_layers.py ../shared/bref --release 3.0.9 \\
        --bref-commit 0d899c6... --extensions-commit e2ef5a7... --extensions-date 2026-06-25

Each SOURCE is a file or a directory; which list a file is comes from its content (layer names),
not its name. Every file is checked before anything is written, the data files are replaced
atomically, and ``metadata.json`` (release, source, commit, date, checksum) is written last, also
through a temp file and a rename, so a crash never leaves metadata describing files that are not there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from wp_lambda.common.files import atomic_write  # noqa: E402  (the repository root is only on the path now)

DEST = REPO / "wp_lambda" / "data" / "bref"
BASE, EXTRA = "layers.json", "extra-php-extensions-layers.json"
# Bref's AWS accounts: not in layers.json, stable across releases, so they are kept when absent.
ACCOUNTS = {BASE: "873528684822", EXTRA: "403367587399"}
_BASE_NAME = re.compile(r"^(arm-)?php-\d{2}$")
_EXTRA_NAME = re.compile(r"^[a-z0-9-]+-php-\d{2}$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")


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
    parser.add_argument("sources", nargs="+", type=Path, help="layers.json files or directories holding them")
    parser.add_argument("--release", help="Bref release the lists belong to, e.g. 3.0.9")
    parser.add_argument("--bref-commit", help="brefphp/bref commit of the release tag")
    parser.add_argument("--bref-date", help="date of that commit (YYYY-MM-DD)")
    parser.add_argument("--extensions-tag", help="brefphp/extra-php-extensions tag (default: the release)")
    parser.add_argument("--extensions-commit", help="brefphp/extra-php-extensions commit of that tag")
    parser.add_argument("--extensions-date", help="date of that commit (YYYY-MM-DD)")
    parser.add_argument("--dest", type=Path, default=DEST, help=f"where the packaged files live (default {DEST})")
    args = parser.parse_args(argv)

    meta_path = args.dest / "metadata.json"
    old: dict[str, Any] = json.loads(meta_path.read_text()) if meta_path.is_file() else {"files": {}}
    sources = _sources(args.sources)
    release = _release(args, sources, old)
    files: dict[str, Any] = dict(old.get("files", {}))
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
    missing = sorted(set(ACCOUNTS) - set(files))
    if missing:
        raise SystemExit(f"no {', '.join(missing)} packaged yet: pass it too")
    metadata = {"bref_release": release, "files": files}
    atomic_write(meta_path, json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    for kind, (path, data) in sorted(sources.items()):
        print(f"{kind}: {len(data)} layers from {path}")
    print(f"{meta_path.name}: Bref {release}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
