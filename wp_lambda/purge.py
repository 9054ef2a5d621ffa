"""``wplambda purge``: take paths out of a deployed site's CloudFront cache by hand.

The site purges what a change affects by itself (wp_lambda/runtime/purge.py and the kit's
mu-plugin); this is for what it cannot know: a theme's template edited, a plugin's setting that
changes every page, or ``--all`` after a deploy that changed the markup. Paths follow CloudFront's
invalidation rules (contract: a leading "/", "*" only at the end); a bad one is refused before any
call, naming the path and the fix. One invalidation for the whole list, as the runtime sends:
each path is billed past the account's first 1,000 a month, a wildcard path the same as any
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Invalidation.html#PayingForInvalidation).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from wp_lambda import stack as stack_mod
from wp_lambda.aws import error_code
from wp_lambda.common.errors import UserError
from wp_lambda.runtime import contract
from wp_lambda.runtime.purge import path_problem


@dataclass(frozen=True)
class Invalidation:
    """What was sent: the invalidation's id and status as CloudFront answered, on which distribution."""

    id: str
    status: str
    distribution: str
    paths: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"invalidation": self.id, "status": self.status, "distribution": self.distribution,
                "paths": self.paths, "count": len(self.paths)}


def checked_paths(paths: list[str], everything: bool) -> list[str]:
    """The paths to send (once each, in order; ``everything``: just PURGE_ALL), or a UserError naming
    the first bad one and how to write it. A path without its leading "/" is refused rather than
    fixed: "page/*" might be meant as "/page/*" or "/*page/*", and a purge cannot be taken back."""
    if everything:
        if paths:
            raise UserError(f"--all purges every path, and {len(paths)} paths were given too",
                            "pass either --all or the paths")
        return [contract.PURGE_ALL]
    if not paths:
        raise UserError("no paths to purge", "name them (`wplambda purge /hello-world/ \"/category/news/*\"`), "
                                             "or pass --all for every page")
    for path in paths:
        problem = path_problem(path)
        if problem is not None:
            raise UserError(f"{path[:200]!r} is not a CloudFront invalidation path: {problem}",
                            "write it as the URL's path from its leading \"/\", URL-encoded, with \"*\" only at "
                            "the end (\"/hello-world/\", \"/category/news/*\", \"/*\" for everything)")
    return list(dict.fromkeys(paths))


def distribution_id(cfn: Any, stack: str) -> str:
    """The stack's distribution: its DistributionId output, else the Distribution resource."""
    description = stack_mod.require(cfn, stack)
    found = stack_mod.outputs(description).get("DistributionId") or \
        stack_mod.physical_id(cfn, stack, stack_mod.DISTRIBUTION)
    if not found:
        raise UserError(f"stack {stack!r} has no CloudFront distribution (no DistributionId output, no "
                        f"{stack_mod.DISTRIBUTION} resource)", "deploy the kit's template to it first")
    return found


def invalidate(cloudfront: Any, distribution: str, paths: list[str]) -> Invalidation:
    """One CreateInvalidation for ``paths`` (already checked). CallerReference is unique per call,
    or CloudFront would take a second purge of the same paths for a repeat of the first
    (https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CreateInvalidation.html)."""
    try:
        answer = cloudfront.create_invalidation(
            DistributionId=distribution,
            InvalidationBatch={"Paths": {"Quantity": len(paths), "Items": paths},
                               "CallerReference": f"wplambda-cli-{time.time_ns()}-{uuid.uuid4().hex[:8]}"})
    except Exception as exc:
        # At most 15 wildcard paths, and 3,000 exact ones, in progress per distribution:
        # https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/InvalidationLimits.html
        if error_code(exc) == "TooManyInvalidationsInProgress":
            raise UserError(f"CloudFront refused the purge of {len(paths)} paths on {distribution}: too many "
                            "invalidations are in progress (at most 15 wildcard paths and 3,000 others at once)",
                            "wait a minute for them to finish, then run it again; \"/*\" is one path") from None
        raise
    made = answer["Invalidation"]
    return Invalidation(made["Id"], made.get("Status", ""), distribution, paths)
