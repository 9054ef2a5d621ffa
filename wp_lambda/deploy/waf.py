"""security.waf: the companion stack ``STACK-waf`` in us-east-1 that holds the site's web ACL.

A web ACL for a CloudFront distribution has scope CLOUDFRONT, and such a web ACL (with anything it
uses) can only be created in US East (N. Virginia), us-east-1, whatever region the site is in:
https://docs.aws.amazon.com/waf/latest/developerguide/how-aws-waf-works-resources.html
A CloudFormation stack creates resources in its own region only, so the web ACL cannot be a
resource of the site's stack unless that stack is in us-east-1. The kit takes one path for every
region: the web ACL is the one resource of a small companion stack, ``STACK-waf`` in us-east-1,
rendered from the config (``waf.yaml``, :data:`wp_lambda.config.schema.WAF_TEMPLATE`). Its output
``WebAclArn`` reaches the site's template as the parameter of that name, which the distribution
names as its ``WebACLId`` (for a WAFv2 web ACL, its ARN), so the site's template stays a function
of the config. The site's template declares ``WebAclArn`` whether the WAF is on or not (empty: no
web ACL), so switching it changes a value, never the template; that also spares moto, whose
UpdateStack keeps a stack's previous parameters when an update passes none.

The order follows what depends on what:

- waf on: the companion stack is created or updated first (the same plan, submit and wait as the
  site's stack, :mod:`wp_lambda.deploy.execute`), then the site's stack gets its ARN;
- waf off: the site's stack is updated first, which detaches the web ACL from the distribution,
  and only then is the companion stack deleted (WAF refuses to delete a web ACL a distribution
  still uses);
- ``wplambda destroy``: the site's stack goes first, then the companion stack.

The companion stack carries the tag ``wplambda:waf-for = STACK``: the kit only ever updates or
deletes a ``STACK-waf`` that carries it, so a stack of that name that is someone else's is left
alone (the preflight refuses to deploy over it).
"""

from __future__ import annotations

import hashlib

import botocore.exceptions

from wp_lambda import __version__
from wp_lambda import stack as stack_mod
from wp_lambda.aws import Aws, error_code
from wp_lambda.common.errors import UserError
from wp_lambda.config import Config
from wp_lambda.config.schema import WAF_REGION, WAF_TEMPLATE
from wp_lambda.deploy import execute
from wp_lambda.deploy.operations import delete_stack
from wp_lambda.deploy.plan import DeployPlan

OUTPUT = "WebAclArn"
OWNER_TAG = "wplambda:waf-for"
# What a dry run passes the site's change set while the companion stack does not exist yet (its
# ARN ends with an id WAF assigns at creation); it matches the template's AllowedPattern.
PENDING_ARN = "arn:aws:wafv2:us-east-1:000000000000:global/webacl/pending/known-after-the-waf-stack-is-created"


def companion_name(stack: str) -> str:
    """The companion stack of ``stack``, in us-east-1."""
    return f"{stack}-waf"


def in_waf_region(aws: Aws) -> Aws:
    """The same session (credentials, profile, endpoint) in us-east-1."""
    if aws.region == WAF_REGION:
        return aws
    return Aws(session=aws.session, region=WAF_REGION, profile=aws.profile)


def is_ours(state: stack_mod.StackState, stack: str) -> bool:
    """Whether ``state`` is the companion stack the kit made for ``stack`` (its owner tag says so)."""
    tags = {t["Key"]: t["Value"] for t in (state.description or {}).get("Tags", [])}
    return tags.get(OWNER_TAG) == stack


def read(aws: Aws, stack: str) -> stack_mod.StackState:
    """``stack``'s companion stack in us-east-1 (one DescribeStacks; its one resource is never looked up)."""
    name = companion_name(stack)
    return stack_mod.StackState(name, stack_mod.describe(in_waf_region(aws).client("cloudformation"), name))


def make_plan(config: Config, aws: Aws, stack: str, state: stack_mod.StackState, artifact_bucket: str) -> DeployPlan:
    """The companion stack's request: the rendered ``waf.yaml`` as it is (plain CloudFormation: no
    transform, no artifacts), with the emulator step when the endpoint is not AWS."""
    from wp_lambda.validate import load_template

    path = config.root / WAF_TEMPLATE
    if not path.is_file():
        raise UserError(f"security.waf is on, but {path} is missing",
                        "run `wplambda render` (deploy renders it unless --no-render), then deploy again")
    try:
        template = load_template(path)
    except ValueError as exc:
        raise UserError(f"cannot parse {WAF_TEMPLATE}: {exc}", "run `wplambda render` again") from None
    return DeployPlan(
        stack=companion_name(stack), region=WAF_REGION, root=config.root,
        # The template is a few KB, far under the TemplateBody limit, so nothing is ever uploaded.
        artifact_bucket=artifact_bucket, change_set_type="UPDATE" if state.created else "CREATE",
        uploads=(), template=template,
        tags={"wplambda:stack": stack, "wplambda:version": __version__, OWNER_TAG: stack},
        hashes={WAF_TEMPLATE: hashlib.sha256(path.read_bytes()).hexdigest()}).for_endpoint(aws.endpoint_url)


def apply(config: Config, aws: Aws, stack: str, artifact_bucket: str, say: execute.Say) -> str:
    """Create or update the companion stack and return its web ACL's ARN.

    "No updates" is the usual answer and costs one call. An empty stack a dry run left
    (REVIEW_IN_PROGRESS) and a failed first create (ROLLBACK_COMPLETE) hold nothing, so they are
    deleted and the stack is created afresh.
    """
    east = in_waf_region(aws)
    name = companion_name(stack)
    state = read(aws, stack)
    if state.status in ("REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE"):
        say(f"deleting stack {name} in {WAF_REGION} ({state.status}: it holds nothing) before creating it")
        delete_stack(east, name)
        state = stack_mod.StackState(name, None)
    plan = make_plan(config, aws, stack, state, artifact_bucket)
    for note in plan.notes:
        say(f"emulator at {aws.endpoint_url}: {name}: {note}")
    say(f"updating stack {name} in {WAF_REGION} (the AWS WAF web ACL)")
    final = execute.apply(east, plan, say)
    description = final or stack_mod.require(east.client("cloudformation"), name)
    arn = stack_mod.outputs(description).get(OUTPUT)
    if not arn:
        raise UserError(f"stack {name} in {WAF_REGION} has no {OUTPUT} output",
                        f"delete it (`aws cloudformation delete-stack --region {WAF_REGION} --stack-name {name}`) "
                        "and deploy again")
    return arn


def preview(config: Config, aws: Aws, stack: str, artifact_bucket: str, say: execute.Say) -> str:
    """The dry run: the companion stack's plan and change set (created, never executed), said line
    by line; returns the ARN the site's change set is made with (:data:`PENDING_ARN` until the
    companion stack exists)."""
    state = read(aws, stack)
    plan = make_plan(config, aws, stack, state, artifact_bucket)
    for note in plan.notes:
        say(f"emulator at {aws.endpoint_url}: {plan.stack}: {note}")
    for line in plan.describe():
        say(line)
    changes = execute.preview(in_waf_region(aws), plan)
    for change in changes:
        say(f"change set for {plan.stack}: {change.action} {change.logical_id} ({change.resource_type})")
    if not changes:
        say(f"no changes to stack {plan.stack} in {WAF_REGION}")
    arn = stack_mod.outputs(state.description or {}).get(OUTPUT) if state.created else None
    return arn or PENDING_ARN


def remove(aws: Aws, stack: str, say: execute.Say, *, dry_run: bool = False) -> bool:
    """Delete ``stack``'s companion stack if it exists and is the kit's; True when there was one.

    Called only once the site's distribution no longer names the web ACL (see the module docstring).
    A site that never had the WAF must still deploy where the credentials may not read us-east-1
    (an organization's region policy): then this says so and deletes nothing.
    """
    try:
        state = read(aws, stack)
    except botocore.exceptions.ClientError as exc:
        say(f"not checked for a WAF stack {companion_name(stack)} in {WAF_REGION} ({error_code(exc)}); if one is "
            f"left from security.waf, delete it there")
        return False
    if state.description is None or not is_ours(state, stack):
        return False
    name = companion_name(stack)
    if dry_run:
        say(f"plan: delete stack {name} in {WAF_REGION} (security.waf is off) once the distribution no longer uses it")
        return True
    say(f"deleting stack {name} in {WAF_REGION} (security.waf is off; the distribution no longer uses it)")
    delete_stack(in_waf_region(aws), name)
    return True
