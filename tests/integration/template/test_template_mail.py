"""[mail] in the template: SES sending only, only as mail.from, only through its identities; the
domain identity with Easy DKIM and its DNS records when mail.create_identity. Every network mode
through cfn-lint and the SAM transform, as the matrix."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.template.test_template_matrix import CERTIFICATE, EXTERNAL_DB, Case, Rendered, render_case
from wp_lambda.config import NETWORK_MODES

DOMAIN = "blog.example.com"
SENDER = f"news@{DOMAIN}"
MAIL_CASES = [
    Case(f"{network}-mail", network, "external" if network == "public" else "aurora-serverless-v2", "http-api",
         "x86_64", {"site": {"domains": [DOMAIN], "certificate_arn": CERTIFICATE},
                    "mail": {"from_": SENDER, "create_identity": True, "from_name": "The Blog"},
                    "aws": {"region": "eu-west-1"},
                    **({"database": EXTERNAL_DB} if network == "public" else {})})
    for network in NETWORK_MODES
]


@pytest.fixture(scope="module", params=MAIL_CASES, ids=[c.id for c in MAIL_CASES])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render_case(request.param, tmp_path_factory.mktemp(request.param.id))


def _ses_statements(rendered: Rendered) -> list[dict[str, Any]]:
    role = rendered.resources["WordPressFunctionRole"]["Properties"]
    statements = [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    return [s for s in statements if any(str(a).startswith("ses:") for a in _list(s["Action"]))]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_lint_has_zero_errors(rendered: Rendered) -> None:
    assert rendered.lint_errors == []


def test_the_role_may_only_send_as_mail_from_through_its_identities(rendered: Rendered) -> None:
    (statement,) = _ses_statements(rendered)
    assert statement["Effect"] == "Allow"
    assert sorted(_list(statement["Action"])) == ["ses:SendEmail", "ses:SendRawEmail"]
    resources = [r["Fn::Sub"] for r in statement["Resource"]]
    # Every identity (a verified parent domain, the sandbox's recipients) and configuration set (an
    # account's default one) in mail.region: the condition, not the resource, pins the sender.
    assert resources == ["arn:${AWS::Partition}:ses:eu-west-1:${AWS::AccountId}:identity/*",
                         "arn:${AWS::Partition}:ses:eu-west-1:${AWS::AccountId}:configuration-set/*"]
    assert statement["Condition"] == {"StringEquals": {"ses:FromAddress": SENDER}}
    # The console function runs with the same role, so wp-cli and cron send as the site does.
    console = rendered.resources["ConsoleFunction"]["Properties"]["Role"]
    assert console == {"Fn::GetAtt": ["WordPressFunctionRole", "Arn"]}


def test_the_domain_identity_uses_easy_dkim_and_its_records_are_an_output(rendered: Rendered) -> None:
    (identity,) = rendered.of_type("AWS::SES::EmailIdentity").values()
    # Deleting the stack keeps the identity, so DKIM keeps signing the domain's mail.
    assert (identity["DeletionPolicy"], identity["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
    assert identity["Properties"] == {"EmailIdentity": DOMAIN, "DkimAttributes": {"SigningEnabled": True}}
    records = rendered.transformed["Outputs"]["MailDkimRecords"]["Value"]["Fn::Join"][1]
    assert [r["Fn::GetAtt"] for r in records] == [["MailIdentity", f"DkimDNSToken{kind}{n}"]
                                                  for n in (1, 2, 3) for kind in ("Name", "Value")]


def test_the_function_is_told_where_and_as_whom_to_send(rendered: Rendered) -> None:
    for name in ("WordPressFunction", "ConsoleFunction"):
        variables = rendered.resources[name]["Properties"]["Environment"]["Variables"]
        assert (variables["WPLAMBDA_MAIL"], variables["WPLAMBDA_MAIL_FROM"], variables["WPLAMBDA_MAIL_FROM_NAME"],
                variables["WPLAMBDA_MAIL_REGION"]) == ("ses", SENDER, "The Blog", "eu-west-1")


def test_without_a_from_address_or_with_mail_off_the_role_gets_no_ses(tmp_path_factory: pytest.TempPathFactory) -> None:
    plain = MAIL_CASES[0]
    for case in (Case("no-from", plain.network, plain.database, plain.front_door, plain.arch,
                      {"database": EXTERNAL_DB}),
                 Case("mail-off", plain.network, plain.database, plain.front_door, plain.arch,
                      {**plain.extra, "mail": {"enabled": False}})):
        rendered = render_case(case, tmp_path_factory.mktemp(case.id))
        assert rendered.lint_errors == [] and _ses_statements(rendered) == []
        assert rendered.of_type("AWS::SES::EmailIdentity") == {}
        variables = rendered.resources["WordPressFunction"]["Properties"]["Environment"]["Variables"]
        assert ("WPLAMBDA_MAIL" in variables) == (case.id == "no-from")
