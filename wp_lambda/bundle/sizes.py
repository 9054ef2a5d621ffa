"""The size report a build ends with: bytes per part, biggest contributors, Lambda's limits."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from wp_lambda.bundle.tree import walk

MB = 1024 * 1024
# Lambda's limits: code and layers together unzipped, and a zip uploaded directly. The unzipped one is
# on "a function's deployment package and layers when they're extracted" (AccountLimit.CodeSizeUnzipped):
# https://docs.aws.amazon.com/lambda/latest/api/API_AccountLimit.html
UNZIPPED_LIMIT = 250 * MB
ZIPPED_LIMIT = 50 * MB


def part_of(rel: str) -> str:
    """Which part of the function a file belongs to, for the size report."""
    parts = rel.split("/")
    if parts[0] == "vendor":
        return "vendor"
    if parts[0] == "wp-content" and len(parts) > 2:
        if parts[1] == "languages":
            return "languages"
        if parts[1] in ("plugins", "themes"):
            return parts[1]
        if parts[1] == "mu-plugins":
            return "kit"
    return "core"


def contributor_of(rel: str) -> str:
    """The directory a file is charged to when naming the biggest contributors."""
    parts = rel.split("/")
    depth = 3 if parts[0] == "wp-content" or parts[0] == "vendor" else 2
    return "/".join(parts[:depth]) if len(parts) > depth else "/".join(parts[:-1]) or "(root files)"


def sizes(function_dir: Path, layer_dir: Path, zips: dict[str, int]) -> dict[str, Any]:
    """Bytes per part, the biggest contributors, and the checks against Lambda's limits."""
    by_part: dict[str, int] = defaultdict(int)
    by_dir: dict[str, int] = defaultdict(int)
    for rel, path in walk(function_dir):
        size = path.stat().st_size
        by_part[part_of(rel)] += size
        by_dir[contributor_of(rel)] += size
    for rel, path in walk(layer_dir):
        size = path.stat().st_size
        by_part["layer"] += size
        by_dir["layer/" + "/".join(rel.split("/")[:2])] += size
    unzipped = sum(by_part.values())
    biggest = sorted(by_dir.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    warnings = []
    named = ", ".join(f"{name} ({size / MB:.1f} MB)" for name, size in biggest)
    if unzipped > UNZIPPED_LIMIT:
        warnings.append(f"function + layer is {unzipped / MB:.1f} MB unzipped, over Lambda's "
                        f"{UNZIPPED_LIMIT // MB} MB limit; biggest: {named}")
    if zips.get("function.zip", 0) > ZIPPED_LIMIT:
        warnings.append(f"function.zip is {zips['function.zip'] / MB:.1f} MB, over the {ZIPPED_LIMIT // MB} MB "
                        f"direct-upload limit (deploy uploads it to S3 first, which allows it); biggest: {named}")
    return {
        "parts": dict(sorted(by_part.items())),
        "unzipped_total": unzipped,
        "zips": zips,
        "biggest": [{"path": name, "bytes": size} for name, size in biggest],
        "limits": {"unzipped": UNZIPPED_LIMIT, "zipped": ZIPPED_LIMIT},
        "warnings": warnings,
    }


def with_layers(unzipped: int, layers: dict[str, int]) -> str | None:
    """Why the function does not fit once the other attached layers (Bref's PHP and extension layers)
    are counted, or None when it may. ``unzipped`` is the build's function and kit layer, measured;
    ``layers`` maps each other layer's ARN to its published ``Content.CodeSize``, the size of its
    zip. A layer is never smaller unzipped than zipped (beyond the zip's few bytes of headers), but
    how much larger is not published, so the sum is a floor of the real total: over the limit is
    certain, under it is not a promise."""
    floor = unzipped + sum(layers.values())
    if floor <= UNZIPPED_LIMIT:
        return None
    named = "; ".join(f"{arn}: {size / MB:.1f} MB zipped" for arn, size in layers.items())
    return (f"function + kit layer is {unzipped / MB:.1f} MB unzipped, and with the attached layers at least "
            f"{floor / MB:.1f} MB, over Lambda's {UNZIPPED_LIMIT // MB} MB limit for a function and all its layers "
            f"unzipped (layers counted at their zipped size, which is less than they take unzipped: {named}); fix: "
            "drop languages or plugins you do not need, or php.extensions you do not use, then build again")
