"""What the edge adds and tells the function: the response headers policy on every behaviour (HSTS
only for a site on its own domain), the viewer certificate's TLS floor, and the viewer-request
function that copies Host, Authorization and the viewer's IP into the headers the runtime trusts.

The template is rendered, linted (cfn-lint) and transformed (SAM translator) as a deploy would; the
function's JavaScript is taken from the transformed template and run by node on events shaped as
CloudFront Functions passes them (cloudfront-js-2.0, lower-case header names,
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-event-structure.html).
node accepts more JavaScript than that runtime does, so the function keeps to ES5 (var, function).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from tests.integration.template.test_template_matrix import CERTIFICATE, EXTERNAL_DB, Case, Rendered, render_case
from wp_lambda.render import security_headers_config
from wp_lambda.runtime import contract

CASES = [
    Case("own-domain-httpapi", "public", "external", "http-api", "x86_64",
         {"database": EXTERNAL_DB, "site": {"domains": ["blog.example.com"], "certificate_arn": CERTIFICATE}}),
    Case("cloudfront-name-url-efs", "vpc-nat-gateway", "aurora-serverless-v2", "function-url", "arm64",
         {"storage": {"mode": "efs"}, "php": {"extensions": []}}),
]
# What the policy's SecurityHeadersConfig calls each header of the contract.
POLICY_KEYS = {contract.STRICT_TRANSPORT_SECURITY: "StrictTransportSecurity",
               contract.CONTENT_TYPE_OPTIONS: "ContentTypeOptions", contract.FRAME_OPTIONS: "FrameOptions",
               contract.REFERRER_POLICY: "ReferrerPolicy"}
COPY = contract.AUTHORIZATION_COPY_HEADER.lower()
VIEWER = contract.VIEWER_ADDRESS_HEADER.lower()


@pytest.fixture(scope="module", params=CASES, ids=[c.id for c in CASES])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    case: Case = request.param
    return render_case(case, tmp_path_factory.mktemp(case.id))


def _distribution(rendered: Rendered) -> dict[str, Any]:
    return rendered.resources["Distribution"]["Properties"]["DistributionConfig"]


def test_lint_clean(rendered: Rendered) -> None:
    assert rendered.lint_errors == []


def test_every_behaviour_has_the_security_headers_policy(rendered: Rendered) -> None:
    (name,) = rendered.of_type("AWS::CloudFront::ResponseHeadersPolicy")
    dist = _distribution(rendered)
    behaviours = [*dist["CacheBehaviors"], dist["DefaultCacheBehavior"]]
    assert len(behaviours) == len(contract.behaviours(rendered.config.storage.mode == "efs")) + 1
    assert all(b.get("ResponseHeadersPolicyId") == {"Ref": name} for b in behaviours), behaviours


def test_policy_says_what_the_contract_says_and_hsts_only_with_a_domain(rendered: Rendered) -> None:
    (policy,) = rendered.of_type("AWS::CloudFront::ResponseHeadersPolicy").values()
    config = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    own_domain = bool(rendered.config.site.domains)
    assert own_domain == (rendered.case.id == "own-domain-httpapi")
    expected = contract.security_headers(own_domain)
    assert set(config) == {POLICY_KEYS[h] for h in expected}
    assert ("StrictTransportSecurity" in config) is own_domain
    for header in expected:
        assert config[POLICY_KEYS[header]]["Override"] is header.override, header
    assert config["FrameOptions"]["FrameOption"] == contract.FRAME_OPTIONS.value == "SAMEORIGIN"
    assert config["ReferrerPolicy"]["ReferrerPolicy"] == contract.REFERRER_POLICY.value
    if own_domain:
        hsts = config["StrictTransportSecurity"]
        assert f"max-age={hsts['AccessControlMaxAgeSec']}" == contract.STRICT_TRANSPORT_SECURITY.value
        assert hsts["IncludeSubdomains"] is False and hsts["Preload"] is False
    # The overrides are deliberate: WordPress's own X-Frame-Options and Referrer-Policy stand.
    assert config["FrameOptions"]["Override"] is False and config["ContentTypeOptions"]["Override"] is True


def test_a_contract_header_without_a_policy_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = contract.SecurityHeader("Permissions-Policy", "camera=()", override=True)
    monkeypatch.setattr(contract, "security_headers", lambda own_domain: (extra,))
    with pytest.raises(ValueError, match="Permissions-Policy"):
        security_headers_config(False)


def test_tls_floor(rendered: Rendered) -> None:
    certificate = _distribution(rendered)["ViewerCertificate"]
    if rendered.config.site.domains:
        assert certificate == {"AcmCertificateArn": CERTIFICATE, "SslSupportMethod": "sni-only",
                               "MinimumProtocolVersion": "TLSv1.2_2021"}
    else:
        assert certificate == {"CloudFrontDefaultCertificate": True}


def test_function_runs_on_every_function_behaviour(rendered: Rendered) -> None:
    dist = _distribution(rendered)
    for behaviour in [*dist["CacheBehaviors"], dist["DefaultCacheBehavior"]]:
        associations = behaviour.get("FunctionAssociations", [])
        if behaviour["TargetOriginId"] == contract.FUNCTION_ORIGIN:
            assert associations == [{"EventType": "viewer-request",
                                     "FunctionARN": {"Fn::GetAtt": ["ForwardedHostFunction", "FunctionARN"]}}]


# ------------------------------------------------------------------ the function's JavaScript, in node
RUNNER = """
const fs = require('fs');
const handler = new Function(fs.readFileSync(process.argv[2], 'utf8') + '\\nreturn handler;')();
const events = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
process.stdout.write(JSON.stringify(events.map(function (e) { return handler(e); })));
"""


def _event(headers: dict[str, Any], ip: str = "198.51.100.7", method: str = "GET") -> dict[str, Any]:
    """A viewer-request event as CloudFront Functions builds it (the documented shape)."""
    return {"version": "1.0",
            "context": {"distributionDomainName": "d111111abcdef8.cloudfront.net", "distributionId": "EDFDVBD6EXAMPLE",
                        "eventType": "viewer-request", "requestId": "4TyzHTaYWb1GX1qTfsHhEqV6HUDd"},
            "viewer": {"ip": ip},
            "request": {"method": method, "uri": "/wp-json/wp/v2/users/me", "querystring": {},
                        "headers": {k: v if isinstance(v, dict) else {"value": v} for k, v in headers.items()},
                        "cookies": {}}}


@pytest.fixture(scope="module")
def run_function(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Run the rendered function on events; its returned requests' headers as {name: value}."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: it is part of the test environment (make setup)")
    case = CASES[0]
    code = render_case(case, tmp_path_factory.mktemp("function"))
    source = code.resources["ForwardedHostFunction"]["Properties"]["FunctionCode"]
    work = tmp_path_factory.mktemp("node")
    (work / "function.js").write_text(source)
    (work / "runner.js").write_text(RUNNER)

    def run(*events: dict[str, Any]) -> list[dict[str, str]]:
        (work / "events.json").write_text(json.dumps(events))
        done = subprocess.run([node, str(work / "runner.js"), str(work / "function.js"), str(work / "events.json")],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return [{name: h["value"] for name, h in r["headers"].items()} for r in json.loads(done.stdout)]

    return run


def test_function_copies_authorization_host_and_viewer_ip(run_function: Any) -> None:
    (headers,) = run_function(_event({"host": "blog.example.com", "authorization": "Basic YWRtaW46eHh4"}))
    assert headers["x-forwarded-host"] == "blog.example.com"
    assert headers[COPY] == "Basic YWRtaW46eHh4" == headers["authorization"]
    assert headers[VIEWER] == "198.51.100.7"


def test_function_replaces_or_deletes_what_a_viewer_forged(run_function: Any) -> None:
    forged = {COPY: "Basic Zm9yZ2VkOmZvcmdlZA==", VIEWER: "10.0.0.1", "x-forwarded-host": "evil.example"}
    without_auth, with_auth, no_host, ipv6 = run_function(
        _event({"host": "blog.example.com", **forged}),
        _event({"host": "blog.example.com", "authorization": "Bearer real", **forged}, method="POST"),
        _event({"x-forwarded-host": "evil.example"}),
        _event({"host": "blog.example.com"}, ip="2001:db8::7"))
    assert COPY not in without_auth and without_auth[VIEWER] == "198.51.100.7"
    assert without_auth["x-forwarded-host"] == "blog.example.com"
    assert with_auth[COPY] == "Bearer real" and with_auth[VIEWER] == "198.51.100.7"
    assert "x-forwarded-host" not in no_host and no_host[VIEWER] == "198.51.100.7"
    assert ipv6[VIEWER] == "2001:db8::7"


def test_function_copies_the_first_of_several_authorization_values(run_function: Any) -> None:
    several = {"value": "Basic Zmlyc3Q6MQ==", "multiValue": [{"value": "Basic Zmlyc3Q6MQ=="},
                                                              {"value": "Basic c2Vjb25kOjI="}]}
    (headers,) = run_function(_event({"host": "blog.example.com", "authorization": several}))
    assert headers[COPY] == "Basic Zmlyc3Q6MQ=="

