"""Read-only checks ``wplambda deploy`` (and ``--dry-run``) runs before it creates or changes anything.

Each of these would otherwise fail far into a deploy, after a change set was made and half a stack
created or rolled back: a layer the account cannot read, a certificate that is still pending or
misses a domain, an artifact bucket in another region (the deploy uploads there, CloudFormation
then cannot read it), reserved or provisioned concurrency the account has no room for, a stack in a state no
update can start from, a NAT instance type whose replacement cannot succeed. Every check only
reads (``GetLayerVersion``, ``DescribeCertificate``,
``GetBucketLocation``, ``GetAccountSettings``, ``GetFunctionConcurrency``, ``GetProvisionedConcurrencyConfig``, and with
security.waf ``ListWebACLs`` and ``DescribeStacks`` in us-east-1, ``GetTemplate`` for the deployed NAT
instance's type; the stack's state is the deploy's
one reading of it), and every failure is one line naming the resource and
the fix. The PHP the site would run must be supported and patched (:mod:`wp_lambda.php_security`,
offline), and ``GetLayerVersionByArn`` on the versions after each pinned layer's says whether a
newer one is published (a note, not a failure). A check that cannot reach AWS (network, a service error, an
endpoint that lacks the call) is not a failure: it is reported as not run, and the deploy goes on
to meet the same problem, if there is one, where it would have anyway.

Two checks weigh what only AWS knows: whether the region still offers the Aurora engine version the
stack creates its cluster with (RDS ``DescribeDBEngineVersions``), and whether the function fits in
Lambda's unzipped size limit once the layers it does not build (Bref's) are counted.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions
import botocore.parsers

from wp_lambda import php_security, ses
from wp_lambda import stack as stack_mod
from wp_lambda.aws import Aws, client_config, error_code
from wp_lambda.bundle import sizes
from wp_lambda.bundle.pipeline import read_manifest
from wp_lambda.common.errors import UserError
from wp_lambda.config import Config, graviton_instance, php_extension_layer_arns, php_layer_arn
from wp_lambda.config.aurora import ENGINE, engine_version, pauses, release
from wp_lambda.config.concurrency import UNRESERVED_MINIMUM, reservation
from wp_lambda.deploy import emulator, waf
from wp_lambda.deploy.plan import BUILD_DIR, NOT_OWNED_CODES, managed_bucket_name, not_owned

# CloudFront reads certificates from us-east-1 only.
CERTIFICATE_REGION = "us-east-1"
# A stack name is at most 128 characters:
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
MAX_STACK_NAME = 128
# Few retries: a preflight that cannot get an answer says so rather than holding up the deploy.
_CLIENT_OPTIONS: dict[str, Any] = {"retries": {"max_attempts": 2, "mode": "standard"}, "connect_timeout": 5,
                                   "read_timeout": 15}
_UNREACHABLE = (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)
# How many versions past a pinned layer's the preflight asks about: Bref publishes a version per
# release, so a pin this far behind already says "refresh" as loudly as an exact count would.
NEWER_LAYER_LOOKAHEAD = 5


class _NotRun(Exception):
    """The check could not get an answer from AWS; the message says why."""


@dataclass
class Preflight:
    """What the checks found: failures (exit 2), notes (checks that could not run, and what the deploy
    itself will ask about), and the checks that passed."""

    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)

    def raise_if_failed(self) -> None:
        if self.failures:
            raise UserError("deploy preflight: " + (f"{len(self.failures)} problems" if len(self.failures) > 1
                                                    else "1 problem") + ", nothing was created:\n  "
                            + "\n  ".join(self.failures),
                            "fix each as its line says, then deploy again (`wplambda deploy --dry-run` "
                            "runs these checks alone)")

    def lines(self) -> list[str]:
        """What the deploy prints when nothing failed."""
        out = [f"preflight: {len(self.passed)} checks passed ({', '.join(self.passed)})" if self.passed
               else "preflight: nothing to check"]
        out += [f"preflight: {line}" for line in self.notes]
        return out


def _client(aws: Aws, service: str, region: str | None = None) -> Any:
    # The service name is a runtime string, so boto3's per-service overloads cannot match it.
    return aws.session.client(service, region_name=region or aws.region,  # type: ignore[call-overload]
                              config=client_config(**_CLIENT_OPTIONS))


def _call(what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """One read call; raises :class:`_NotRun` when AWS gave no usable answer (network, throttling, a 5xx
    or an endpoint that does not implement the call), and the ClientError when AWS said no."""
    try:
        return fn(**kwargs)
    except _UNREACHABLE as exc:
        raise _NotRun(f"{what}: could not run ({exc})") from None
    except botocore.exceptions.ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if status >= 500 or error_code(exc) in ("Throttling", "ThrottlingException", "TooManyRequestsException"):
            raise _NotRun(f"{what}: could not run (AWS answered {status or error_code(exc)})") from None
        raise


def _account(aws: Aws, what: str) -> str:
    """The caller's account id (STS), or :class:`_NotRun` naming the check that needed it."""
    try:
        return str(_call(what, _client(aws, "sts").get_caller_identity)["Account"])
    except botocore.exceptions.ClientError as exc:
        raise _NotRun(f"{what}: could not run (STS: {error_code(exc)})") from None


def check_layers(config: Config, aws: Aws, result: Preflight) -> None:
    """Every layer ARN the template attaches exists in the stack's region, is readable by this
    account, and is built for the function's architecture."""
    php = php_layer_arn(config)
    arns = ([php] if php else []) + php_extension_layer_arns(config)
    if not arns:
        return
    client = _client(aws, "lambda")
    own = _account(aws, "layers") if emulator.is_emulated(aws.endpoint_url) else None
    checked = 0
    for arn in arns:
        if own is not None and arn.split(":")[4] != own:
            # An emulator (moto) keeps each account's layers to itself: it cannot answer for a public
            # layer of another account as AWS does, so "not found" there would be a false failure.
            result.notes.append(f"layer {arn}: not checked: the emulator at {aws.endpoint_url} holds no "
                                "other account's layers")
            continue
        checked += 1
        # GetLayerVersion with the layer's ARN is GetLayerVersionByArn's twin (same answer, same
        # lambda:GetLayerVersion permission, another account's layers too) that moto also implements.
        layer_arn, _, version = arn.rpartition(":")
        try:
            layer = _call(f"layer {arn}", client.get_layer_version, LayerName=layer_arn, VersionNumber=int(version))
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code == "ResourceNotFoundException":
                result.failures.append(
                    f"layer {arn}: does not exist in {aws.region}; fix: refresh the pinned Bref list "
                    "(scripts/refresh_bref_layers.py) or correct php.layer_arn / php.extensions")
            elif code in ("AccessDeniedException", "AccessDenied"):
                result.failures.append(
                    f"layer {arn}: this account may not read it in {aws.region} ({code}); fix: use a layer "
                    "that is public or shared with this account, and allow lambda:GetLayerVersion to your "
                    "credentials")
            else:
                result.failures.append(f"layer {arn}: {code}: {exc}; fix: correct the ARN in wplambda.toml")
            continue
        built_for = layer.get("CompatibleArchitectures") or []
        if built_for and config.aws.architecture not in built_for:
            result.failures.append(
                f"layer {arn}: built for {', '.join(built_for)}, but the function is {config.aws.architecture}; "
                "fix: set aws.architecture to match, or use the layer built for it")
        try:
            newest = newer_layer_version(client, arn)
        except _NotRun as exc:
            result.notes.append(str(exc))
            newest = None
        if newest is not None:
            result.notes.append(f"layer {arn}: version {newest} of {layer_arn} is published, newer than the "
                                f"pinned {version}; a newer Bref layer may carry PHP's security fixes: refresh "
                                "Bref's data (scripts/refresh_bref_layers.py) and review the diff")
    if checked:
        result.passed.append(f"{checked} layers")


# How many of the region's versions a refusal names, newest first.
NAMED_VERSIONS = 3


def _offered(client: Any, version: str | None) -> list[dict[str, Any]]:
    """RDS's available Aurora MySQL engine versions in the client's region (only ``version``, if
    given). DescribeDBEngineVersions lists only available versions unless IncludeAll is set:
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBEngineVersions.html"""
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"Engine": ENGINE, **({"EngineVersion": version} if version else {})}
    what = f"Aurora engine version {version}" if version else "Aurora engine versions"
    while True:
        try:
            page = _call(what, client.describe_db_engine_versions, **kwargs)
        except botocore.parsers.ResponseParserError:
            # An endpoint without the call (moto answers it with an HTML error page) gives no answer.
            raise _NotRun(f"{what}: could not run (the endpoint has no DescribeDBEngineVersions)") from None
        found += page.get("DBEngineVersions") or []
        if not page.get("Marker"):
            return found
        kwargs["Marker"] = page["Marker"]


def check_engine_version(config: Config, aws: Aws, result: Preflight, creating: bool = True,
                         deployed: str = "") -> None:
    """The Aurora MySQL version the stack creates its cluster with is one the region still offers
    (Aurora retires minor versions: creating a cluster on one then fails) and, with min_acu = 0, one
    that can pause. Only when the stack makes the cluster now: an existing cluster keeps its version
    (``deployed``) unless database.engine_version names another, so there an unoffered version is a
    note; a named newer one is an in-place upgrade, said before it happens, and an older one is
    refused, since Aurora does not downgrade a cluster."""
    if config.database.mode != "aurora-serverless-v2":
        return  # database.mode = "external": the stack creates no database
    version = engine_version(config, deployed)
    if deployed and version != deployed:
        if (release(version) or (0, 0, 0)) < (release(deployed) or (0, 0, 0)):
            result.failures.append(
                f"Aurora engine version {version}: the cluster runs {deployed}, and Aurora cannot go back to an "
                f"older version; fix: set database.engine_version = \"{deployed}\" (or \"\" to keep the one it runs)")
            return
        result.notes.append(f"Aurora engine version: this deploy upgrades DatabaseCluster in place from {deployed} "
                            f"to {version} (database.engine_version): the database restarts, and there is no way "
                            "back; set database.engine_version = \"\" to keep the version it runs")
    client = _client(aws, "rds")
    try:
        listed = _offered(client, version)
    except botocore.exceptions.ClientError as exc:
        raise _NotRun(f"Aurora engine version {version}: could not run ({error_code(exc)})") from None
    entry = next((e for e in listed if e.get("EngineVersion") == version and e.get("Status", "available")
                  == "available"), None)
    if entry is None:
        wanted = pauses if config.database.min_acu == 0 else release
        current = sorted((str(e["EngineVersion"]) for e in _offered(client, None)
                          if e.get("Status", "available") == "available" and wanted(str(e.get("EngineVersion", "")))),
                         key=lambda v: release(v) or (0, 0, 0), reverse=True)[:NAMED_VERSIONS]
        kind = "Aurora MySQL version that can pause" if config.database.min_acu == 0 else "Aurora MySQL version"
        named = f"it offers {', '.join(current)}" if current else f"it lists no {kind}"
        line = (f"Aurora engine version {version}: {aws.region} no longer offers it for new clusters ({named}); "
                "fix: refresh the kit's pin (scripts/refresh_aurora_version.py), or set database.engine_version "
                "to one of those")
        (result.failures if creating else result.notes).append(line)
        return
    # ServerlessV2FeaturesSupport.MinCapacity is 0 where the version can pause:
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ServerlessV2FeaturesSupport.html
    floor = (entry.get("ServerlessV2FeaturesSupport") or {}).get("MinCapacity")
    if config.database.min_acu == 0 and floor is not None and floor > 0:
        result.failures.append(f"Aurora engine version {version}: its Serverless v2 minimum is {floor} ACU, so it "
                               "cannot pause at database.min_acu = 0; fix: set database.engine_version to a newer "
                               f"version, or database.min_acu = {floor}")
        return
    result.passed.append(f"Aurora engine version {version}")


def check_layer_sizes(config: Config, aws: Aws, result: Preflight) -> None:
    """The build's function and kit layer, with the other layers the template attaches (Bref's PHP and
    extension layers, at their published zipped size), fit in Lambda's unzipped limit. The build
    measures only what it makes; the rest is known only to Lambda (GetLayerVersion's
    ``Content.CodeSize``: https://docs.aws.amazon.com/lambda/latest/dg/API_LayerVersionContentOutput.html)."""
    php = php_layer_arn(config)
    arns = ([php] if php else []) + php_extension_layer_arns(config)
    report = (read_manifest(config.root / BUILD_DIR) or {}).get("sizes") or {}
    if not arns or "unzipped_total" not in report:
        return  # nothing attached beyond the kit's layer, or no build to weigh (the deploy builds first)
    client = _client(aws, "lambda")
    own = _account(aws, "layer sizes") if emulator.is_emulated(aws.endpoint_url) else None
    zipped: dict[str, int] = {}
    for arn in arns:
        if own is not None and arn.split(":")[4] != own:
            result.notes.append(f"size of layer {arn}: not counted: the emulator at {aws.endpoint_url} holds no "
                                "other account's layers")
            continue
        layer_arn, _, version = arn.rpartition(":")
        try:
            layer = _call(f"size of layer {arn}", client.get_layer_version, LayerName=layer_arn,
                          VersionNumber=int(version))
        except botocore.exceptions.ClientError as exc:
            # check_layers reports the layer itself; here it is only a size that cannot be added.
            result.notes.append(f"size of layer {arn}: not counted ({error_code(exc)})")
            continue
        zipped[arn] = int(layer["Content"]["CodeSize"])
    problem = sizes.with_layers(int(report["unzipped_total"]), zipped)
    if problem:
        result.failures.append(problem)
    elif zipped:
        floor = int(report["unzipped_total"]) + sum(zipped.values())
        result.passed.append(f"size with {len(zipped)} layers (at least {floor / sizes.MB:.1f} of "
                             f"{sizes.UNZIPPED_LIMIT // sizes.MB} MB)")


def newer_layer_version(client: Any, arn: str) -> int | None:
    """The newest published version of ``arn``'s layer after the pinned one (looking at most
    NEWER_LAYER_LOOKAHEAD ahead), or None when the next version does not exist.

    GetLayerVersionByArn answers ResourceNotFoundException for a version that was never published (or
    was deleted) and reads another account's public layers, with lambda:GetLayerVersion:
    https://docs.aws.amazon.com/lambda/latest/api/API_GetLayerVersionByArn.html
    For another account's layer, a version that does not exist has no public permission either, and
    Lambda answers AccessDeniedException (reported in aws/aws-sdk-pandas#1357); the pinned version
    was readable (check_layers), so that answer also means "not published". Any other answer
    (throttling, a service error) leaves the question open: this only adds a note when it knows.
    """
    layer_arn, _, pinned = arn.rpartition(":")
    newest = None
    for candidate in range(int(pinned) + 1, int(pinned) + 1 + NEWER_LAYER_LOOKAHEAD):
        try:
            _call(f"layer {arn}: newer versions", client.get_layer_version_by_arn, Arn=f"{layer_arn}:{candidate}")
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in ("ResourceNotFoundException", "AccessDeniedException"):
                break
            raise _NotRun(f"layer {arn}: newer versions not checked ({error_code(exc)})") from None
        newest = candidate
    return newest


def check_php_security(config: Config, aws: Aws, result: Preflight) -> None:
    """The PHP the function would run is within PHP's support and has every recorded security fix;
    risks the config accepts (php.accept_vulnerable_php) are warnings on every deploy."""
    found = php_security.assess(config)
    result.notes.extend(found.warnings())
    if found.ok:
        result.passed.append("php security")
    else:
        result.failures.append(found.refusal())


def covers(names: list[str], domain: str) -> bool:
    """Whether a certificate for ``names`` covers ``domain``: an exact name, or a wildcard
    (``*.example.com``) that stands for exactly one label."""
    for name in names:
        name = name.lower().rstrip(".")
        if name == domain:
            return True
        if name.startswith("*.") and domain.count(".") >= 2 and domain.split(".", 1)[1] == name[2:]:
            return True
    return False


def check_certificate(config: Config, aws: Aws, result: Preflight) -> None:
    """The ACM certificate is in us-east-1, ISSUED, and covers every domain of ``site.domains``."""
    arn = config.site.certificate_arn
    if not arn:
        return
    region = arn.split(":")[3] if arn.count(":") >= 5 else ""
    if region != CERTIFICATE_REGION:
        result.failures.append(f"certificate {arn}: is in {region or 'no region'}, but CloudFront only uses "
                               f"certificates from {CERTIFICATE_REGION}; fix: request one there")
        return
    client = _client(aws, "acm", CERTIFICATE_REGION)
    try:
        certificate = _call(f"certificate {arn}", client.describe_certificate, CertificateArn=arn)["Certificate"]
    except botocore.exceptions.ClientError as exc:
        result.failures.append(f"certificate {arn}: not found in {CERTIFICATE_REGION} for this account "
                               f"({error_code(exc)}); fix: check site.certificate_arn, or request a certificate "
                               "in us-east-1")
        return
    status = certificate.get("Status", "")
    if status != "ISSUED":
        fix = ("finish its DNS validation (the CNAME records ACM lists)" if status == "PENDING_VALIDATION"
               else "request a new certificate for the domains")
        result.failures.append(f"certificate {arn}: is {status}, not ISSUED; fix: {fix}")
    names = certificate.get("SubjectAlternativeNames") or [certificate.get("DomainName", "")]
    missing = [domain for domain in config.site.domains if not covers(names, domain)]
    if missing:
        result.failures.append(f"certificate {arn}: does not cover {', '.join(missing)} (it covers "
                               f"{', '.join(names)}); fix: request a certificate that names every domain in "
                               "site.domains, or remove those domains")
    if status == "ISSUED" and not missing:
        result.passed.append("certificate")


def _bucket_region(location: dict[str, Any]) -> str:
    # GetBucketLocation answers null for us-east-1 and the legacy "EU" for eu-west-1.
    constraint = location.get("LocationConstraint") or "us-east-1"
    return "eu-west-1" if constraint == "EU" else str(constraint)


def check_artifact_bucket(config: Config, aws: Aws, result: Preflight) -> None:
    """The artifact bucket, if it exists, is this account's, in the stack's region and readable; a
    configured one must exist (the kit creates only its own)."""
    configured = config.aws.artifact_bucket
    account = _account(aws, f"artifact bucket {configured}" if configured else "artifact bucket")
    bucket = configured or managed_bucket_name(account, aws.region)
    try:
        location = _call(f"artifact bucket {bucket}", _client(aws, "s3").get_bucket_location, Bucket=bucket,
                         ExpectedBucketOwner=account)
    except botocore.exceptions.ClientError as exc:
        code = error_code(exc)
        if code in ("NoSuchBucket", "404") and not configured:
            result.passed.append("artifact bucket (created on deploy)")
        elif code in ("NoSuchBucket", "404"):
            result.failures.append(f"artifact bucket {bucket}: does not exist; fix: create it in {aws.region}, or "
                                   "empty aws.artifact_bucket to let the kit manage one")
        elif code in NOT_OWNED_CODES:
            problem, fix = not_owned(bucket, account, aws.region, configured=bool(configured))
            result.failures.append(f"artifact bucket {bucket}: {problem} ({code}); fix: {fix}")
        else:
            result.failures.append(f"artifact bucket {bucket}: not readable by this account ({code}); fix: "
                                   "grant s3:GetBucketLocation on it, or set aws.artifact_bucket to a bucket of "
                                   f"yours in {aws.region}")
        return
    region = _bucket_region(location)
    if region != aws.region:
        result.failures.append(f"artifact bucket {bucket}: is in {region}, the stack in {aws.region}; fix: set "
                               f"aws.artifact_bucket to a bucket in {aws.region}, or empty it")
        return
    result.passed.append("artifact bucket")


def check_concurrency(config: Config, aws: Aws, result: Preflight, function: str | None = None) -> None:
    """``function.reserved_concurrency`` (or, without one, ``function.provisioned_concurrency``)
    fits in the account's unreserved concurrency while leaving Lambda's minimum of 100 unreserved
    (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html). What this stack's
    ``function`` holds already counts as room: the update keeps or replaces it. With a reservation,
    provisioned concurrency is taken out of it, so the reservation is what the account must spare
    (validate has checked that the one fits in the other)."""
    reserved = reservation(config).instances
    if reserved is not None:
        _check_room(aws, result, "reserved_concurrency", reserved,
                    lambda: _current_reserved(aws, function) if function else 0,
                    f"reserves {reserved} concurrent executions for the site",
                    lambda room: (f"set function.reserved_concurrency to {room} or less, " if room >= 1 else "")
                    + "ask for a higher Lambda concurrency quota (Service Quotas), or set "
                    "function.reserved_concurrency = \"off\" (the function is then uncapped, and a spike can open "
                    "more database connections than the database holds)")
        return
    wanted = config.function.provisioned_concurrency
    if not wanted:
        return
    _check_room(aws, result, "provisioned_concurrency", wanted,
                lambda: _current_provisioned(aws, function) if function else 0,
                f"needs {wanted} concurrent executions",
                lambda room: f"lower function.provisioned_concurrency to {max(room, 0)} or less, or ask for a higher "
                "Lambda concurrency quota (Service Quotas)")


def _check_room(aws: Aws, result: Preflight, key: str, wanted: int, held_now: Callable[[], int], what: str,
                fix: Callable[[int], str]) -> None:
    """``wanted`` executions for function.``key`` fit in the account's unreserved concurrency, with
    what this stack's function holds now (``held_now``, asked after the account) counted as room
    and Lambda's minimum kept."""
    unreserved = _unreserved(aws)
    current = held_now()
    room = unreserved + current - UNRESERVED_MINIMUM
    if wanted <= room:
        result.passed.append("concurrency")
        return
    held = f" (this stack's function holds {current} of them already)" if current else ""
    result.failures.append(
        f"account concurrency in {aws.region}: function.{key} = {wanted} {what}; the account has {unreserved} "
        f"unreserved{held}, and Lambda keeps {UNRESERVED_MINIMUM} unreserved (room: {max(room, 0)}); "
        f"fix: {fix(room)}")


def _unreserved(aws: Aws) -> int:
    try:
        settings = _call("account concurrency", _client(aws, "lambda").get_account_settings)
    except botocore.exceptions.ClientError as exc:
        # Not being allowed to read the account's settings says nothing about the room in it.
        raise _NotRun(f"account concurrency: could not run ({error_code(exc)})") from None
    return int(settings["AccountLimit"]["UnreservedConcurrentExecutions"])


def _current_reserved(aws: Aws, function: str) -> int:
    """Reserved concurrency ``function`` holds now; 0 if none (GetFunctionConcurrency then answers
    without the key)."""
    try:
        found = _call("account concurrency", _client(aws, "lambda").get_function_concurrency, FunctionName=function)
    except botocore.exceptions.ClientError:
        return 0  # not there (yet): nothing held
    return int(found.get("ReservedConcurrentExecutions") or 0)


def _current_provisioned(aws: Aws, function: str) -> int:
    """Provisioned concurrency allocated now to ``function`` (alias ``live``); 0 if none."""
    try:
        config = _call("account concurrency", _client(aws, "lambda").get_provisioned_concurrency_config,
                       FunctionName=function, Qualifier=stack_mod.FUNCTION_ALIAS)
    except botocore.exceptions.ClientError:
        return 0  # no provisioned concurrency on it
    return int(config.get("AllocatedProvisionedConcurrentExecutions") or 0)


def check_waf(config: Config, aws: Aws, result: Preflight, stack: str) -> None:
    """security.waf: the credentials may use AWS WAF in us-east-1 (the one region a CloudFront web
    ACL can be made in, whatever the stack's region), and ``STACK-waf`` there is either free or this
    site's own companion stack in a state a deploy can start from (:mod:`wp_lambda.deploy.waf`)."""
    if not config.security.waf:
        return
    name, region = waf.companion_name(stack), waf.WAF_REGION
    if len(name) > MAX_STACK_NAME:
        result.failures.append(f"stack {stack}: security.waf needs a companion stack {name!r}, over CloudFormation's "
                               f"{MAX_STACK_NAME} characters; fix: deploy under a shorter --stack")
        return
    try:
        _call(f"AWS WAF in {region}", _client(aws, "wafv2", region).list_web_acls, Scope="CLOUDFRONT", Limit=1)
    except botocore.exceptions.ClientError as exc:
        result.failures.append(
            f"AWS WAF in {region}: these credentials may not use it ({error_code(exc)}); a CloudFront web ACL can only "
            f"be made in {region}; fix: allow wafv2 (ListWebACLs, CreateWebACL, GetWebACL, UpdateWebACL, DeleteWebACL) "
            f"and CloudFormation on stack {name} in {region}, or set security.waf = false")
        return
    try:
        found = _call(f"stack {name}", _client(aws, "cloudformation", region).describe_stacks, StackName=name)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
            result.passed.append(f"AWS WAF in {region} (stack {name} created on deploy)")
            return
        raise
    state = stack_mod.StackState(name, dict(found["Stacks"][0]))
    status = state.status or ""
    # An empty stack a dry run left (REVIEW_IN_PROGRESS) may not show its tags yet; it holds nothing.
    if status != "REVIEW_IN_PROGRESS" and not waf.is_ours(state, stack):
        result.failures.append(f"stack {name} in {region}: exists but is not the WAF stack of {stack} (it lacks the "
                               f"tag {waf.OWNER_TAG} = {stack}); fix: use another --stack or delete that stack")
    elif status in stack_mod.BLOCKED_STATES and status != "ROLLBACK_COMPLETE":
        result.failures.append(f"stack {name} in {region} is in {status}: {stack_mod.BLOCKED_STATES[status]}; fix: see "
                               f"the CloudFormation console's Events tab in {region}")
    elif status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        result.failures.append(f"stack {name} in {region} is busy ({status}); fix: wait for it to finish")
    else:
        result.passed.append(f"AWS WAF in {region} (stack {name}: {status})")


# The NAT instance's logical id in the kit's template (vpc-nat-instance).
NAT_INSTANCE = "NatInstance"


def check_nat_architecture(config: Config, aws: Aws, result: Preflight, state: stack_mod.StackState) -> None:
    """Refuse a NAT instance type of the other architecture (x86_64 <-> arm64) than the deployed one.

    The AMI follows the architecture, and a new ImageId replaces the instance. CloudFormation makes
    the replacement before it deletes the old one, and the new instance is to boot with the stack's
    fixed interface (NatInterface, which keeps the Elastic IP and the private route) as its primary
    interface, which the old instance still holds and cannot let go of while running: the update
    fails and rolls back. Two deploys go around it (the fix the failure names). The deployed type
    is read from the stack's own template, so it is what CloudFormation compares against.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-instance.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-eni.html
    """
    if config.network.mode != "vpc-nat-instance" or state.physical_id(NAT_INSTANCE) is None:
        return
    cfn = _client(aws, "cloudformation")
    try:
        deployed = _call("NAT instance", stack_mod.template, cfn=cfn, stack=state.name)
    except botocore.exceptions.ClientError as exc:
        raise _NotRun(f"NAT instance: could not run (CloudFormation: {error_code(exc)})") from None
    old = deployed.get("Resources", {}).get(NAT_INSTANCE, {}).get("Properties", {}).get("InstanceType")
    if not isinstance(old, str):
        return
    new = config.network.nat_instance_type

    def arch(instance_type: str) -> str:
        return "arm64" if graviton_instance(instance_type) else "x86_64"

    if arch(old) == arch(new):
        result.passed.append(f"NAT instance ({old} -> {new})" if old != new else f"NAT instance ({new})")
        return
    result.failures.append(
        f"network.nat_instance_type = {new!r} ({arch(new)}) would replace the deployed NAT instance {old!r} "
        f"({arch(old)}): the new instance needs the network interface the old one still holds, so the update "
        f"fails and rolls back; fix: choose an {arch(old)} type (like {old!r}), or change it in two deploys: "
        f"1. set network.mode = \"vpc-nat-gateway\" and deploy (the NAT instance and its interface are deleted; a "
        f"NAT gateway serves meanwhile), 2. set network.mode = \"vpc-nat-instance\" with nat_instance_type = "
        f"{new!r} and deploy again")


def check_mail(config: Config, aws: Aws, result: Preflight, state: stack_mod.StackState) -> None:
    """[mail]: the From address may send through SES in mail.region, and the account is out of the
    sandbox. Warnings only (notes): a new site is often deployed before either is true, and the
    stack itself may be what creates the identity (mail.create_identity). One failure: an identity
    mail.create_identity would make that already exists outside this stack (made by hand, or kept by
    a deleted stack's DeletionPolicy), which CloudFormation refuses with AlreadyExists mid-deploy."""
    if not config.mail.enabled:
        return
    try:
        found = ses.status(config, aws.session)
    except _UNREACHABLE as exc:
        raise _NotRun(f"mail: could not run ({exc})") from None
    except botocore.exceptions.ClientError as exc:
        raise _NotRun(f"mail: could not run (SES: {error_code(exc)})") from None
    warnings = found.warnings()
    domain = config.site.domains[0] if config.mail.create_identity else ""
    existing = next((i for i in found.identities if i.name == domain and i.status != "missing"), None)
    if existing is not None and state.physical_id(stack_mod.MAIL_IDENTITY) is None:
        result.failures.append(
            f"mail.create_identity: the SES identity {domain} already exists in {found.region} "
            f"({existing.status.lower()}), outside stack {state.name!r}, and CloudFormation cannot create it again; "
            "fix: set mail.create_identity = false (the site sends through the existing identity; "
            "`wplambda mail verify` shows its DNS records)")
    if config.mail.create_identity and not found.verified:
        warnings = [w for w in warnings if "may not send" not in w]
        warnings.append(f"mail: the stack creates the SES identity of {config.site.domains[0]}; after the deploy, "
                        "add the DNS records it prints (`wplambda mail verify` shows them and their status)")
    result.notes.extend(warnings)
    if not warnings:
        result.passed.append("mail identity and SES account")


def stack_state_problem(stack: str, description: dict[str, Any] | None) -> UserError | None:
    """Why CloudFormation cannot update ``stack`` from its current state, or None when it can.

    ``ROLLBACK_COMPLETE`` is included; ``deploy`` (not a dry run) offers to delete such a stack first.
    """
    if description is None:
        return None
    status = description["StackStatus"]
    if status in stack_mod.BLOCKED_STATES:
        fix = (f"run `wplambda destroy --stack {stack}` (or deploy without --dry-run, which offers to delete it)"
               if status == "ROLLBACK_COMPLETE" else "see the CloudFormation console's Events tab for the "
               "failed resource")
        return UserError(f"stack {stack!r} is in {status}: {stack_mod.BLOCKED_STATES[status]}", fix)
    if status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        return UserError(f"stack {stack!r} is busy ({status})", "wait for it to finish, then deploy again")
    return None


def run(config: Config, aws: Aws, state: stack_mod.StackState, *, offer_delete: bool) -> Preflight:
    """Every check, on the deploy's one reading of the stack; ``offer_delete`` leaves a
    ``ROLLBACK_COMPLETE`` stack to the deploy's own prompt."""
    result = Preflight()
    checks = (check_php_security, check_layers, check_certificate, check_artifact_bucket,
              functools.partial(check_concurrency, function=state.physical_id(stack_mod.FUNCTION)),
              functools.partial(check_waf, stack=state.name),
              functools.partial(check_engine_version, creating=not state.created,
                                deployed=stack_mod.deployed_engine_version(aws.client("cloudformation"), state)),
              check_layer_sizes,
              functools.partial(check_nat_architecture, state=state),
              functools.partial(check_mail, state=state))
    for check in checks:
        try:
            check(config, aws, result)
        except _NotRun as exc:
            result.notes.append(str(exc))
    description = state.description
    problem = stack_state_problem(state.name, description)
    if problem is None:
        if description is not None:
            result.passed.append(f"stack state ({description['StackStatus']})")
    elif offer_delete and description is not None and description["StackStatus"] == "ROLLBACK_COMPLETE":
        result.notes.append(f"{problem.message}; the deploy asks before deleting it")
    else:
        result.failures.append(f"{problem.message}; fix: {problem.hint}")
    return result
