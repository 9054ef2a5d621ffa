"""[mail] in the deploy preflight, `doctor --aws` and `wplambda mail verify`: warnings, never failures.

The identity reads (SES v2 GetEmailIdentity) run against moto's server. moto has no SES v2
GetAccount (its server answers 404), so the sandbox cases are botocore ``Stubber`` tests of
GetAccount's answer (and, on the same stubbed client, of GetEmailIdentity's); each test says which it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.integration.deploy.conftest import REGION, config_with, make_project
from tests.support.helpers import run_wplambda
from wp_lambda import ses
from wp_lambda import stack as stack_mod
from wp_lambda.aws import connect
from wp_lambda.config import Config
from wp_lambda.deploy import preflight

DOMAIN = "mail-test.example.com"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0b1f3c52-8d4e-4a3b-9a57-2f0d1e6c7a10"


@pytest.fixture(scope="module")
def project(aws_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("mail-preflight"), name="mailpre", network="public",
                        database="external", db_host="db.example.com", db_user="wp",
                        db_secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf")


def _config(project: Path, domain: str = DOMAIN, **mail: Any) -> Config:
    return config_with(project, site={"domains": [domain], "certificate_arn": CERTIFICATE}, mail=mail)


def _check(config: Config, state: stack_mod.StackState | None = None) -> preflight.Preflight:
    result = preflight.Preflight()
    preflight.check_mail(config, connect(config), result, state or stack_mod.StackState("mailpre", None))
    return result


def test_an_unverified_domain_is_a_warning_with_the_fix(project: Path) -> None:
    """moto: no identity for the domain or the address."""
    result = _check(_config(project))
    assert result.failures == []
    (warning,) = [n for n in result.notes if "may not send" in n]
    assert f"wordpress@{DOMAIN} may not send through SES in {REGION}" in warning
    assert f"{DOMAIN}: missing" in warning and "mail.create_identity" in warning


def test_a_verified_domain_passes_its_identity_check(project: Path) -> None:
    """moto: the domain verified; GetAccount, which moto lacks, is reported as not read."""
    boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=DOMAIN)
    result = _check(_config(project))
    assert result.failures == [] and not any("may not send" in n for n in result.notes)
    assert any("could not read the account's SES status" in n for n in result.notes)


def test_a_verified_parent_domain_covers_a_subdomain_s_address(project: Path) -> None:
    """moto: DOMAIN verified above; news@mail.DOMAIN is covered by it, as SES sends for it."""
    result = _check(_config(project, f"mail.{DOMAIN}", from_=f"news@mail.{DOMAIN}"))
    assert result.failures == [] and not any("may not send" in n for n in result.notes)
    found = ses.status(_config(project, f"mail.{DOMAIN}", from_=f"news@mail.{DOMAIN}"),
                       connect(_config(project)).session)
    assert [(i.name, i.status) for i in found.identities] == [
        (f"mail.{DOMAIN}", "missing"), (f"news@mail.{DOMAIN}", "missing"), (DOMAIN, ses.VERIFIED)]


def test_an_identity_create_identity_would_make_that_exists_outside_the_stack_is_a_failure(project: Path) -> None:
    """moto: DOMAIN exists (verified above) and the stack does not own it: CloudFormation would
    fail with AlreadyExists, so the preflight stops first; once the stack owns it, no failure."""
    config = _config(project, create_identity=True)
    (failure,) = _check(config).failures
    assert f"the SES identity {DOMAIN} already exists" in failure and "mail.create_identity = false" in failure
    owned = stack_mod.StackState("mailpre", {"StackStatus": "UPDATE_COMPLETE"},
                                 {stack_mod.MAIL_IDENTITY: {"PhysicalResourceId": DOMAIN}})
    assert _check(config, owned).failures == []


def test_the_stack_creating_the_identity_says_so_instead(project: Path) -> None:
    fresh = "fresh-mail-test.example.org"  # no identity of its own or of a parent in moto
    result = _check(_config(project, fresh, from_=f"news@{fresh}", create_identity=True))
    assert result.failures == []
    assert any("the stack creates the SES identity" in n and "wplambda mail verify" in n for n in result.notes)


def _stubbed(production: bool, verified: bool) -> Any:
    """An SES v2 client answering from a botocore Stubber (moto has no GetAccount)."""
    client = boto3.client("sesv2", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_response("get_email_identity", {
        "IdentityType": "DOMAIN", "VerificationStatus": "SUCCESS" if verified else "PENDING",
        "DkimAttributes": {"Tokens": ["tok1", "tok2", "tok3"]}}, {"EmailIdentity": DOMAIN})
    if not verified:  # then the address, then the parent domain
        for name in (f"wordpress@{DOMAIN}", DOMAIN.partition(".")[2]):
            stubber.add_client_error("get_email_identity", "NotFoundException", http_status_code=404,
                                     expected_params={"EmailIdentity": name})
    stubber.add_response("get_account", {"ProductionAccessEnabled": production, "SendingEnabled": True,
                                         "DedicatedIpAutoWarmupEnabled": False}, {})
    stubber.activate()
    return client


class _Session:
    def __init__(self, client: Any) -> None:
        self.client_ = client

    def client(self, service: str, region_name: str) -> Any:
        assert (service, region_name) == ("sesv2", REGION)
        return self.client_


@pytest.mark.parametrize(("production", "verified"), [(False, True), (True, True), (True, False)])
def test_sandbox_and_verification_as_get_account_reports_them(project: Path, production: bool, verified: bool) -> None:
    """Stubber: GetAccount (and GetEmailIdentity on the same stubbed client)."""
    found = ses.status(_config(project), _Session(_stubbed(production, verified)))
    assert found.verified is verified and found.production is production
    sandbox = [w for w in found.warnings() if "sandbox" in w]
    assert bool(sandbox) is not production
    if sandbox:
        assert "request production access: https://docs.aws.amazon.com/ses/latest/dg/request-production-access.html" \
            in sandbox[0]
    assert found.identities[0].records == [(f"tok{n}._domainkey.{DOMAIN}", f"tok{n}.dkim.amazonses.com")
                                           for n in (1, 2, 3)]


def test_doctor_and_mail_verify_report_it(project: Path, aws_env: dict[str, str]) -> None:
    text = (project / "wplambda.toml").read_text()
    assert '\nfrom = ""\n' in text
    (project / "wplambda.toml").write_text(text.replace('\nfrom = ""\n', f'\nfrom = "news@{DOMAIN}"\n', 1))
    doctor = run_wplambda("doctor", "--aws", "--json", "--project", str(project), env=aws_env)
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["aws credentials"]["status"] == "ok", checks
    assert checks["ses"]["status"] == "warning"
    verify = run_wplambda("mail", "verify", "--json", "--project", str(project), env=aws_env)
    assert verify.returncode == 1, verify.stderr
    report = json.loads(verify.stdout)
    assert report["sender"] == f"news@{DOMAIN}" and report["deployed"] is False
    assert report["warnings"]
