"""Deploy preflight: read-only checks before anything is created, one line per problem, exit 2.

Against moto's server (real HTTP, real botocore): layers (layers published to moto stand in for
Bref's: GetLayerVersion by ARN, which moto implements), ACM certificates (one requested, so
PENDING_VALIDATION; one imported, so ISSUED with the names of a real self-signed certificate), the
artifact bucket's region, the stack state, and `wplambda deploy --dry-run` end to end. moto has no
GetAccountSettings and no cross-account layer permissions, so the concurrency check and the
AccessDenied mapping are botocore ``Stubber`` tests of the exact request and the error mapping;
each test says which it is.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto.cloudformation.models import cloudformation_backends

from tests.integration.deploy.conftest import REGION, config_with, lay_out_build, make_project
from tests.support.helpers import run_wplambda
from wp_lambda import stack as stack_mod
from wp_lambda.aws import connect
from wp_lambda.config import Config, php_extension_layer_arns, php_layer_arn
from wp_lambda.deploy import preflight

CERT_REGION = "us-east-1"


@pytest.fixture(scope="module")
def project(aws_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("preflight"), name="pre", network="public", database="external",
                        db_host="db.example.com", db_user="wp",
                        db_secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf")
    lay_out_build(root)
    return root


def _layer(name: str, architectures: list[str] | None = None) -> str:
    """A layer published to moto, standing in for one of Bref's."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("bin/php", "#!/bin/sh\n")
    extra = {"CompatibleArchitectures": architectures} if architectures else {}
    published = boto3.client("lambda").publish_layer_version(LayerName=name, Content={"ZipFile": buf.getvalue()},
                                                             **extra)
    return str(published["LayerVersionArn"])


def _run(config: Config, stack: str = "pre", description: dict[str, Any] | None = None,
         offer_delete: bool = False) -> preflight.Preflight:
    """The preflight on a reading of ``stack`` with ``description`` (as the deploy reads it, once).
    [mail] off: its notes are test_deploy_preflight_mail.py's."""
    config = config.model_copy(update={"mail": config.mail.model_copy(update={"enabled": False})})
    found = stack_mod.resources(boto3.client("cloudformation"), stack) if description is not None else {}
    state = stack_mod.StackState(stack, description, found)
    return preflight.run(config, connect(config), state, offer_delete=offer_delete)


def _self_signed(names: list[str]) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


# -- layers (moto) -------------------------------------------------------------------------------

def test_layers_published_in_the_region_pass(project: Path) -> None:
    """moto: a PHP layer published in the stack's region, built for x86_64, passes. Bref's pinned gd
    layer lives in Bref's account (403367587399), which moto cannot read across: not checked, said so."""
    php = _layer("php-82", ["x86_64"])
    result = _run(config_with(project, php={"layer_arn": php, "extensions": []}))
    assert result.failures == [] and "1 layers" in result.passed
    config = config_with(project, php={"layer_arn": php, "extensions": ["gd"]})
    result = _run(config)
    assert result.failures == [] and "1 layers" in result.passed
    # The PHP security check can only judge this layer's branch; moto has no GetLayerVersionByArn.
    assert result.notes == [f"PHP {config.php.version} from php.layer_arn is your own build: the kit checks its "
                            "branch's end of life but has no record of its patch release; keep it at 8.3.36 or "
                            "later (CVE-2026-109618, CVE-2026-109619)",
                            f"layer {php}: newer versions: could not run (AWS answered 500)",
                            f"layer {php_extension_layer_arns(config)[0]}: not checked: the emulator at "
                            f"{os.environ['AWS_ENDPOINT_URL']} holds no other account's layers"]


def test_missing_layer_version_and_wrong_architecture_fail(project: Path) -> None:
    """moto: a version that was never published; a layer built only for arm64 on an x86_64 function."""
    php = _layer("php-83", ["x86_64"])
    missing = php.rsplit(":", 1)[0] + ":7"
    (failure,) = _run(config_with(project, php={"layer_arn": missing, "extensions": []})).failures
    assert failure == (f"layer {missing}: does not exist in {REGION}; fix: refresh the pinned Bref list "
                       "(scripts/refresh_bref_layers.py) or correct php.layer_arn / php.extensions")
    arm = _layer("arm-php-83", ["arm64"])
    (failure,) = _run(config_with(project, php={"layer_arn": arm, "extensions": []})).failures
    assert failure.startswith(f"layer {arm}: built for arm64, but the function is x86_64; fix: ")


def _stubbed(monkeypatch: pytest.MonkeyPatch, service: str) -> Stubber:
    """The preflight's ``service`` client never leaves the process: the Stubber answers for AWS (the
    other services still go to moto)."""
    client = boto3.client(service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    real = preflight._client
    monkeypatch.setattr(preflight, "_client", lambda aws, name, region=None:
                        client if name == service else real(aws, name, region))
    return Stubber(client)


def test_layer_access_denied_and_service_errors_stubbed(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stubber (moto has no cross-account layer permissions): the exact GetLayerVersion request, an
    AccessDeniedException as one failure line, and a 5xx as a check that could not run."""
    arn = "arn:aws:lambda:us-east-1:873528684822:layer:php-83:21"
    config = config_with(project, php={"layer_arn": "", "extensions": []})
    assert php_layer_arn(config) == arn
    aws = connect(config)
    stub = _stubbed(monkeypatch, "lambda")
    # As on AWS (not an emulator): the layer check calls AWS whatever account the layer is in. Only the
    # layer check runs, so nothing else looks for the (now unset) endpoint.
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    expected = {"LayerName": "arn:aws:lambda:us-east-1:873528684822:layer:php-83", "VersionNumber": 21}
    stub.add_client_error("get_layer_version", "AccessDeniedException", "User is not authorized", 403,
                          expected_params=expected)
    stub.add_client_error("get_layer_version", "ServiceException", "boom", 500, expected_params=expected)
    denied, unavailable = preflight.Preflight(), preflight.Preflight()
    with stub:
        preflight.check_layers(config, aws, denied)
        with pytest.raises(preflight._NotRun) as not_run:
            preflight.check_layers(config, aws, unavailable)
        stub.assert_no_pending_responses()
    (failure,) = denied.failures
    assert failure.startswith(f"layer {arn}: this account may not read it in us-east-1 (AccessDeniedException); "
                              "fix: use a layer that is public or shared with this account")
    assert unavailable.failures == []
    assert str(not_run.value) == f"layer {arn}: could not run (AWS answered 500)"


# -- certificate (moto) --------------------------------------------------------------------------

def test_pending_certificate_fails(project: Path) -> None:
    """moto: a requested certificate stays PENDING_VALIDATION (no DNS validation happens)."""
    acm = boto3.client("acm", region_name=CERT_REGION)
    arn = acm.request_certificate(DomainName="blog.example.com", ValidationMethod="DNS")["CertificateArn"]
    config = config_with(project, site={"domains": ["blog.example.com"], "certificate_arn": arn},
                     php={"source": "dir"})
    (failure,) = _run(config).failures
    assert failure == (f"certificate {arn}: is PENDING_VALIDATION, not ISSUED; fix: finish its DNS validation "
                       "(the CNAME records ACM lists)")


def test_issued_certificate_must_cover_every_domain(project: Path) -> None:
    """moto: an imported certificate is ISSUED, with the names of the real certificate imported."""
    cert, key = _self_signed(["example.com", "*.example.com"])
    arn = boto3.client("acm", region_name=CERT_REGION).import_certificate(Certificate=cert, PrivateKey=key)[
        "CertificateArn"]
    covered = config_with(project, site={"domains": ["example.com", "blog.example.com"], "certificate_arn": arn},
                      php={"source": "dir"})
    result = _run(covered)
    assert result.failures == [] and "certificate" in result.passed
    deep = config_with(project, site={"domains": ["www.blog.example.com", "example.org"], "certificate_arn": arn},
                   php={"source": "dir"})
    (failure,) = _run(deep).failures
    assert failure.startswith(f"certificate {arn}: does not cover www.blog.example.com, example.org (it covers ")


def test_unknown_certificate_fails(project: Path) -> None:
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    config = config_with(project, site={"domains": ["blog.example.com"], "certificate_arn": arn}, php={"source": "dir"})
    (failure,) = _run(config).failures
    assert failure.startswith(f"certificate {arn}: not found in us-east-1 for this account (")


def test_wildcards_cover_exactly_one_label() -> None:
    names = ["*.example.com", "example.net"]
    assert preflight.covers(names, "blog.example.com") and preflight.covers(names, "example.net")
    assert not preflight.covers(names, "example.com") and not preflight.covers(names, "a.b.example.com")


# -- artifact bucket (moto) ----------------------------------------------------------------------

def test_artifact_bucket_in_another_region_fails(project: Path) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="pre-artifacts-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.create_bucket(Bucket="pre-artifacts-us")
    config = config_with(project, aws={"artifact_bucket": "pre-artifacts-eu"}, php={"source": "dir"})
    (failure,) = _run(config).failures
    assert failure == ("artifact bucket pre-artifacts-eu: is in eu-west-1, the stack in us-east-1; fix: set "
                       "aws.artifact_bucket to a bucket in us-east-1, or empty it")
    assert _run(config_with(project, aws={"artifact_bucket": "pre-artifacts-us"}, php={"source": "dir"})).failures == []
    (missing,) = _run(config_with(project, aws={"artifact_bucket": "pre-nowhere"}, php={"source": "dir"})).failures
    assert missing.startswith("artifact bucket pre-nowhere: does not exist; fix: create it in us-east-1")
    managed = _run(config_with(project, aws={"artifact_bucket": ""}, php={"source": "dir"}))
    assert managed.failures == [] and "artifact bucket (created on deploy)" in managed.passed


# -- concurrency (Stubber: moto has no GetAccountSettings) ----------------------------------------

@pytest.fixture
def account_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    stub = _stubbed(monkeypatch, "lambda")
    with stub:
        yield stub
        stub.assert_no_pending_responses()


def _settings(unreserved: int) -> dict[str, Any]:
    return {"AccountLimit": {"ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": unreserved,
                             "TotalCodeSize": 1, "CodeSizeUnzipped": 1, "CodeSizeZipped": 1}}


def test_provisioned_concurrency_must_leave_100_unreserved(project: Path, account_settings: Stubber) -> None:
    """Stubber: GetAccountSettings takes no parameters; 150 unreserved leaves room for 50."""
    account_settings.add_response("get_account_settings", _settings(150), expected_params={})
    account_settings.add_response("get_account_settings", _settings(150), expected_params={})
    too_many = config_with(project, function={"provisioned_concurrency": 60}, php={"source": "dir"})
    (failure,) = _run(too_many).failures
    assert failure == ("account concurrency in us-east-1: function.provisioned_concurrency = 60 needs 60 concurrent "
                       "executions; the account has 150 unreserved, and Lambda keeps 100 unreserved (room: 50); fix: "
                       "lower function.provisioned_concurrency to 50 or less, or ask for a higher Lambda concurrency "
                       "quota (Service Quotas)")
    fits = _run(config_with(project, function={"provisioned_concurrency": 50}, php={"source": "dir"}))
    assert fits.failures == [] and "concurrency" in fits.passed


def test_concurrency_already_held_by_the_stack_counts_as_room(project: Path, account_settings: Stubber) -> None:
    """moto + Stubber: the stack (moto's CloudFormation) already has a WordPressFunction whose alias holds
    60 provisioned executions (GetProvisionedConcurrencyConfig, stubbed: moto lacks it); 150 unreserved
    are left, so keeping 60 fits (150 + 60 - 100 = 110) and 120 does not."""
    boto3.client("cloudformation").create_stack(StackName="pre-pc", TemplateBody=(
        '{"Resources": {"WordPressFunction": {"Type": "AWS::SQS::Queue"}}}'))
    cfn = boto3.client("cloudformation")
    description = dict(cfn.describe_stacks(StackName="pre-pc")["Stacks"][0])
    physical = cfn.describe_stack_resource(StackName="pre-pc", LogicalResourceId="WordPressFunction")[
        "StackResourceDetail"]["PhysicalResourceId"]
    held = {"RequestedProvisionedConcurrentExecutions": 60, "AllocatedProvisionedConcurrentExecutions": 60,
            "Status": "READY"}
    for _ in range(2):
        account_settings.add_response("get_account_settings", _settings(150), expected_params={})
        account_settings.add_response("get_provisioned_concurrency_config", held,
                                      expected_params={"FunctionName": physical, "Qualifier": "live"})
    keep = _run(config_with(project, function={"provisioned_concurrency": 60}, php={"source": "dir"}), "pre-pc",
                description)
    assert keep.failures == [] and "concurrency" in keep.passed
    (more,) = _run(config_with(project, function={"provisioned_concurrency": 120}, php={"source": "dir"}), "pre-pc",
                   description).failures
    assert "the account has 150 unreserved (this stack's function holds 60 of them already)" in more
    assert "(room: 110)" in more


def test_reserved_concurrency_must_leave_100_unreserved(project: Path, account_settings: Stubber) -> None:
    """Stubber: a new stack (no function yet, so no GetFunctionConcurrency) asks to reserve 60: 150
    unreserved leave room for 50 (refused), 160 for 60 (fits); a new account's 10 leave none, and the
    fix then names the quota and "off" only. The reservation is what counts, not the provisioned
    concurrency inside it."""
    for unreserved in (150, 160, 10):
        account_settings.add_response("get_account_settings", _settings(unreserved), expected_params={})
    sixty = {"reserved_concurrency": 60, "provisioned_concurrency": 5}
    (failure,) = _run(config_with(project, function=sixty, php={"source": "dir"})).failures
    assert failure == ("account concurrency in us-east-1: function.reserved_concurrency = 60 reserves 60 concurrent "
                       "executions for the site; the account has 150 unreserved, and Lambda keeps 100 unreserved "
                       "(room: 50); fix: set function.reserved_concurrency to 50 or less, ask for a higher Lambda "
                       "concurrency quota (Service Quotas), or set function.reserved_concurrency = \"off\" (the "
                       "function is then uncapped, and a spike can open more database connections than the "
                       "database holds)")
    fits = _run(config_with(project, function=sixty, php={"source": "dir"}))
    assert fits.failures == [] and "concurrency" in fits.passed
    (none,) = _run(config_with(project, function=sixty, php={"source": "dir"})).failures
    assert "the account has 10 unreserved" in none and "(room: 0); fix: ask for a higher Lambda concurrency" in none


def test_reserved_concurrency_the_stack_holds_counts_as_room(project: Path, account_settings: Stubber) -> None:
    """moto + Stubber: the stack's WordPressFunction (moto's CloudFormation) holds 83 reserved
    (GetFunctionConcurrency, stubbed); 100 unreserved are left, so keeping 83 fits and 84 does not;
    "off" asks nothing."""
    boto3.client("cloudformation").create_stack(StackName="pre-rc", TemplateBody=(
        '{"Resources": {"WordPressFunction": {"Type": "AWS::SQS::Queue"}}}'))
    cfn = boto3.client("cloudformation")
    description = dict(cfn.describe_stacks(StackName="pre-rc")["Stacks"][0])
    physical = cfn.describe_stack_resource(StackName="pre-rc", LogicalResourceId="WordPressFunction")[
        "StackResourceDetail"]["PhysicalResourceId"]
    for _ in range(2):
        account_settings.add_response("get_account_settings", _settings(100), expected_params={})
        account_settings.add_response("get_function_concurrency", {"ReservedConcurrentExecutions": 83},
                                      expected_params={"FunctionName": physical})
    keep = _run(config_with(project, function={"reserved_concurrency": 83}, php={"source": "dir"}), "pre-rc",
                description)
    assert keep.failures == [] and "concurrency" in keep.passed
    (more,) = _run(config_with(project, function={"reserved_concurrency": 84}, php={"source": "dir"}), "pre-rc",
                   description).failures
    assert "the account has 100 unreserved (this stack's function holds 83 of them already)" in more
    assert "(room: 83); fix: set function.reserved_concurrency to 83 or less" in more
    off = _run(config_with(project, function={"reserved_concurrency": "off"}, php={"source": "dir"}), "pre-rc",
               description)
    assert off.failures == [] and "concurrency" not in off.passed


def test_concurrency_unreadable_is_not_run(project: Path, account_settings: Stubber) -> None:
    """Stubber: AccessDenied on GetAccountSettings says nothing about the room: not run, no failure."""
    account_settings.add_client_error("get_account_settings", "AccessDeniedException", "no", 403)
    result = _run(config_with(project, function={"provisioned_concurrency": 5}, php={"source": "dir"}))
    assert result.failures == []
    # The other note is the PHP security check's on php.dir's own PHP.
    concurrency = [note for note in result.notes if "php.dir" not in note]
    assert concurrency == ["account concurrency: could not run (AccessDeniedException)"]


def test_no_network_is_not_a_failure(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An endpoint nobody listens on (a closed loopback port): every AWS check reports it could not run."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:9")
    config = config_with(project, aws={"artifact_bucket": "pre-artifacts-us"},
                     function={"provisioned_concurrency": 5}, php={"layer_arn": "", "extensions": ["gd"]})
    result = _run(config)
    assert result.failures == []
    php, layers, bucket, concurrency = result.notes
    assert php.startswith("WARNING: ") and "(WPLAMBDA_BREF_DATA), not from the kit's packaged data" in php  # offline
    assert layers.startswith("layers: could not run (Could not connect")
    assert bucket.startswith("artifact bucket pre-artifacts-us: could not run (Could not connect")
    assert concurrency.startswith("account concurrency: could not run (Could not connect")


# -- stack state (moto) and the CLI --------------------------------------------------------------

def _stack_in(name: str, status: str) -> None:
    """A stack left in ``status`` inside the running moto server (its CloudFormation never fails so)."""
    boto3.client("cloudformation").create_stack(StackName=name, TemplateBody='{"Resources": {"Q": {"Type": '
                                                '"AWS::SQS::Queue"}}}')
    backend = cloudformation_backends["123456789012"][REGION]
    next(s for s in backend.stacks.values() if s.name == name).status = status


def test_stack_states_an_update_cannot_start_from(project: Path) -> None:
    _stack_in("pre-busy", "UPDATE_IN_PROGRESS")
    _stack_in("pre-stuck", "UPDATE_ROLLBACK_FAILED")
    cfn = boto3.client("cloudformation")
    config = config_with(project, php={"source": "dir"})

    def described(name: str) -> dict[str, Any]:
        return dict(cfn.describe_stacks(StackName=name)["Stacks"][0])

    (busy,) = _run(config, "pre-busy", described("pre-busy")).failures
    assert busy == "stack 'pre-busy' is busy (UPDATE_IN_PROGRESS); fix: wait for it to finish, then deploy again"
    (stuck,) = _run(config, "pre-stuck", described("pre-stuck")).failures
    assert stuck.startswith("stack 'pre-stuck' is in UPDATE_ROLLBACK_FAILED: an update could not roll back")
    # A failed first deploy: a dry run refuses it; a deploy leaves it to its own delete prompt.
    _stack_in("pre-rb", "ROLLBACK_COMPLETE")
    (dry,) = _run(config, "pre-rb", described("pre-rb")).failures
    assert dry.endswith("fix: run `wplambda destroy --stack pre-rb` (or deploy without --dry-run, which offers "
                        "to delete it)")
    real = _run(config, "pre-rb", described("pre-rb"), offer_delete=True)
    assert real.failures == [] and real.notes[-1].endswith("the deploy asks before deleting it")


def test_dry_run_runs_the_preflight_and_prints_the_cost(project: Path) -> None:
    """`wplambda deploy --dry-run` through the console script: a rolled-back stack and a pending
    certificate are both reported, one line each, exit 2, and nothing was created or deleted."""
    _stack_in("pre-rolled", "ROLLBACK_COMPLETE")
    arn = boto3.client("acm", region_name=CERT_REGION).request_certificate(DomainName="shop.example.com")[
        "CertificateArn"]
    toml = project / "wplambda.toml"
    original = toml.read_text()
    php = _layer("php-82", ["x86_64"])
    toml.write_text(original.replace('domains = []', 'domains = ["shop.example.com"]')
                    .replace('certificate_arn = ""', f'certificate_arn = "{arn}"')
                    .replace('layer_arn = ""', f'layer_arn = "{php}"')
                    .replace('extensions = ["gd"]', 'extensions = []'))
    buckets_before = boto3.client("s3").list_buckets()["Buckets"]
    try:
        result = run_wplambda("deploy", "--stack", "pre-rolled", "--dry-run", "--skip-build", cwd=project)
    finally:
        toml.write_text(original)
    assert result.returncode == 2, result.stdout + result.stderr
    err = " ".join(result.stderr.split())
    assert "deploy preflight: 2 problems, nothing was created:" in err
    assert f"certificate {arn}: is PENDING_VALIDATION, not ISSUED" in err
    assert "stack 'pre-rolled' is in ROLLBACK_COMPLETE" in err and "Traceback" not in err
    assert boto3.client("s3").list_buckets()["Buckets"] == buckets_before  # no artifact bucket was created
    status = boto3.client("cloudformation").describe_stacks(StackName="pre-rolled")["Stacks"][0]["StackStatus"]
    assert status == "ROLLBACK_COMPLETE"
    toml.write_text(original.replace('layer_arn = ""', f'layer_arn = "{php}"').replace('extensions = ["gd"]',
                                                                                       'extensions = []'))
    try:
        ok = run_wplambda("deploy", "--stack", "pre-fresh", "--dry-run", "--skip-build", cwd=project)
    finally:
        toml.write_text(original)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "preflight: " in ok.stderr and "cost: estimated $" in " ".join(ok.stdout.split())
