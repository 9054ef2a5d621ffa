"""The rendered template and the local site read one contract (``wp_lambda/runtime/contract.py``).

CloudFront's behaviours (patterns, order, target origin), its origins and failover, the function's
environment and the direct-invocation keys are each defined once; these tests read the
CloudFormation the SAM transform produced and check it says what the contract says, and that
serve's gateway routes every pattern to the same origin.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.template.test_template_matrix import CERTIFICATE, EXTERNAL_DB, Case, Rendered, render_case
from wp_lambda.function_env import LocalStandIns, function_environment
from wp_lambda.local.gateway import route
from wp_lambda.runtime import contract

CASES = [
    Case("public-external-httpapi-x86-package", "public", "external", "http-api", "x86_64",
         {"database": EXTERNAL_DB, "site": {"domains": ["blog.example.com"],
                                            "certificate_arn": CERTIFICATE}}),
    Case("natgw-aurora-url-arm-efs", "vpc-nat-gateway", "aurora-serverless-v2", "function-url", "arm64",
         {"storage": {"mode": "efs"}, "php": {"extensions": []}}),
]


@pytest.fixture(scope="module", params=CASES, ids=[c.id for c in CASES])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    case: Case = request.param
    return render_case(case, tmp_path_factory.mktemp(case.id))


def _distribution(rendered: Rendered) -> dict:
    return rendered.resources["Distribution"]["Properties"]["DistributionConfig"]


def test_cache_behaviours_are_the_contracts_in_its_order(rendered: Rendered) -> None:
    efs = rendered.config.storage.mode == "efs"
    dist = _distribution(rendered)
    got = [(b["PathPattern"], b["TargetOriginId"]) for b in dist["CacheBehaviors"]]
    assert got == [(b.pattern, b.origin) for b in contract.behaviours(efs)]
    assert dist["DefaultCacheBehavior"]["TargetOriginId"] == contract.DEFAULT_ORIGIN
    assert any(b.efs_only for b in contract.BEHAVIOURS)  # so the package case really leaves some out
    assert len(got) == len(contract.BEHAVIOURS) - (0 if efs else sum(b.efs_only for b in contract.BEHAVIOURS))


def test_every_target_is_an_origin_and_failover_is_the_contracts(rendered: Rendered) -> None:
    dist = _distribution(rendered)
    ids = {o["Id"] for o in dist["Origins"]} | {g["Id"] for g in dist.get("OriginGroups", {}).get("Items", [])}
    assert {b["TargetOriginId"] for b in dist["CacheBehaviors"]} <= ids
    assert {contract.FUNCTION_ORIGIN, contract.ASSETS_ORIGIN, contract.UPLOADS_ORIGIN} <= ids
    if rendered.config.storage.mode == "efs":
        (group,) = dist["OriginGroups"]["Items"]
        assert group["Id"] == contract.ASSETS_THEN_FUNCTION
        assert group["FailoverCriteria"]["StatusCodes"]["Items"] == list(contract.FAILOVER_STATUSES)
        assert [m["OriginId"] for m in group["Members"]["Items"]] == [contract.ASSETS_ORIGIN, contract.FUNCTION_ORIGIN]


def test_the_function_origin_sends_the_header_the_runtime_checks(rendered: Rendered) -> None:
    (function,) = [o for o in _distribution(rendered)["Origins"] if o["Id"] == contract.FUNCTION_ORIGIN]
    assert [h["HeaderName"] for h in function["OriginCustomHeaders"]] == [contract.ORIGIN_SECRET_HEADER]


def _example(pattern: str) -> str:
    """A path the pattern matches."""
    return pattern.replace("*", "x/y.css") if not pattern.startswith("*") else "/wp-admin/js/x" + pattern[1:]


def test_the_local_gateway_routes_each_pattern_where_the_distribution_does(rendered: Rendered) -> None:
    efs = rendered.config.storage.mode == "efs"
    for behaviour in _distribution(rendered)["CacheBehaviors"]:
        assert route(_example(behaviour["PathPattern"]), efs) == behaviour["TargetOriginId"], behaviour["PathPattern"]
    assert route("/a-pretty/permalink/", efs) == _distribution(rendered)["DefaultCacheBehavior"]["TargetOriginId"]


def test_both_functions_get_the_variables_function_env_decides(rendered: Rendered) -> None:
    for name, role in (("WordPressFunction", ""), ("ConsoleFunction", contract.CONSOLE_ROLE)):
        variables = rendered.resources[name]["Properties"]["Environment"]["Variables"]
        assert list(variables) == [v.name for v in function_environment(rendered.config, role=role)]
        assert variables.get(contract.ROLE_ENV) == (role or None)


def test_the_local_form_has_every_deployed_variable_but_the_deployed_only_ones(rendered: Rendered,
                                                                             tmp_path: Path) -> None:
    """A variable added for the stack reaches serve too, unless function_env says why not."""
    stand_ins = LocalStandIns(salt="s", database={contract.DB_HOST_ENV: "localhost"},
                              uploads={contract.UPLOADS_DIR_ENV: str(tmp_path)}, content_dir=str(tmp_path),
                              mail_dir=str(tmp_path))
    deployed = {v.name for v in function_environment(rendered.config)}
    local = {v.name for v in function_environment(rendered.config, local=stand_ins)}
    deployed_only = {contract.SITE_HOST_ENV, contract.S3_UPLOADS_BUCKET_ENV, contract.S3_UPLOADS_REGION_ENV,
                     contract.PHP_LAYOUT_ENV, contract.PHP_PREFIX_ENV, contract.SECRETS_ENV, contract.DB_PORT_ENV,
                     contract.DB_USER_ENV, contract.DB_NAME_ENV,
                     contract.MAIL_REGION_ENV}  # serve's mail stays in its mailbox: no SES region
    assert deployed - local <= deployed_only
    if rendered.config.storage.mode == "efs":
        assert {v.value for v in function_environment(rendered.config, local=stand_ins)
                if v.name == contract.CONTENT_DIR_ENV} == {str(tmp_path)}
