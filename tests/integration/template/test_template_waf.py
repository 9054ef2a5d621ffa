"""security.waf's rendered templates: the companion stack's web ACL (waf.yaml, through cfn-lint for
us-east-1) and the site template's WebAclArn parameter wired to the distribution's WebACLId.

The assertions read the parsed templates (and the site template after the SAM transform, what
CloudFormation receives), not the Jinja source.
"""

from __future__ import annotations

import posixpath
import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from wp_lambda import render, validate
from wp_lambda.config import Config, parse, toml_text
from wp_lambda.config.schema import WAF_LOGIN_PATHS, WAF_REGION, WAF_RULE_GROUPS, WAF_TEMPLATE
from wp_lambda.deploy import emulator, waf
from wp_lambda.runtime import routing

SITE_REGION = "eu-west-1"  # the site's stack elsewhere: the web ACL still goes to us-east-1


def _config(root: Path, **security: object) -> Config:
    config = Config(root=root)
    config.aws.region = SITE_REGION
    for key, value in security.items():
        setattr(config.security, key, value)
    return parse(toml_text(config), root=root)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """A project rendered with the WAF on, a login limit of 20 per minute."""
    config = _config(tmp_path_factory.mktemp("waf"), waf=True, waf_login_limit=20, waf_login_window=60)
    render.render_project(config)
    return config


@pytest.fixture(scope="module")
def web_acl(project: Config) -> dict[str, Any]:
    template = validate.load_template(project.root / WAF_TEMPLATE)
    (acl,) = [res for res in template["Resources"].values() if res["Type"] == "AWS::WAFv2::WebACL"]
    assert set(template["Resources"]) == {"WebAcl"}
    return dict(acl["Properties"])


def test_both_templates_pass_cfn_lint(project: Config) -> None:
    assert validate.lint(project.root / WAF_TEMPLATE, WAF_REGION) == []
    assert validate.lint(project.root / "template.yaml", SITE_REGION) == []
    assert validate.validate_project(project).errors == []


def test_web_acl_is_cloudfront_scope_and_allows_by_default(web_acl: dict[str, Any]) -> None:
    assert web_acl["Scope"] == "CLOUDFRONT"
    assert web_acl["DefaultAction"] == {"Allow": {}}
    assert web_acl["Name"] == {"Ref": "AWS::StackName"}


def test_every_rule_and_the_acl_report_metrics_and_samples(web_acl: dict[str, Any]) -> None:
    configs = [web_acl["VisibilityConfig"]] + [rule["VisibilityConfig"] for rule in web_acl["Rules"]]
    for config in configs:
        assert config["SampledRequestsEnabled"] is True and config["CloudWatchMetricsEnabled"] is True
        assert re.fullmatch(r"[\w#:.\-/]{1,128}", config["MetricName"])
    names = [config["MetricName"] for config in configs]
    assert len(set(names)) == len(names)
    priorities = [rule["Priority"] for rule in web_acl["Rules"]]
    assert len(set(priorities)) == len(priorities)


def test_the_two_managed_groups_keep_aws_actions(web_acl: dict[str, Any]) -> None:
    groups = {rule["Statement"]["ManagedRuleGroupStatement"]["Name"]: rule for rule in web_acl["Rules"]
              if "ManagedRuleGroupStatement" in rule["Statement"]}
    assert set(groups) == set(WAF_RULE_GROUPS) == {"AWSManagedRulesWordPressRuleSet",
                                                   "AWSManagedRulesKnownBadInputsRuleSet"}
    for rule in groups.values():
        assert rule["Statement"]["ManagedRuleGroupStatement"]["VendorName"] == "AWS"
        assert rule["OverrideAction"] == {"None": {}}  # Count here would block nothing
        assert "Action" not in rule


def test_login_rate_rule_counts_posts_to_login_and_xmlrpc_per_ip(web_acl: dict[str, Any]) -> None:
    (rule,) = [rule for rule in web_acl["Rules"] if "RateBasedStatement" in rule["Statement"]]
    assert rule["Action"] == {"Block": {}}
    rate = rule["Statement"]["RateBasedStatement"]
    assert (rate["Limit"], rate["EvaluationWindowSec"], rate["AggregateKeyType"]) == (20, 60, "IP")
    method, paths = rate["ScopeDownStatement"]["AndStatement"]["Statements"]
    assert method["ByteMatchStatement"]["FieldToMatch"] == {"Method": {}}
    assert (method["ByteMatchStatement"]["PositionalConstraint"], method["ByteMatchStatement"]["SearchString"]) == \
        ("EXACTLY", "POST")
    matches = [statement["ByteMatchStatement"] for statement in paths["OrStatement"]["Statements"]]
    assert [m["SearchString"] for m in matches] == list(WAF_LOGIN_PATHS) == ["/wp-login.php", "/xmlrpc.php"]
    for match in matches:
        assert match["FieldToMatch"] == {"UriPath": {}} and match["PositionalConstraint"] == "CONTAINS"
        assert [t["Type"] for t in sorted(match["TextTransformations"], key=lambda t: t["Priority"])] == \
            ["URL_DECODE", "NORMALIZE_PATH", "LOWERCASE"]


# Paths the runtime's routing runs wp-login.php or xmlrpc.php for: each must be counted by the rule.
# (Routing itself answers 403 to dot segments and empty segments, /x/../wp-login.php and
# //wp-login.php, so those never reach a script; NORMALIZE_PATH counts them anyway.)
LOGIN_PATHS = ["/wp-login.php", "/wp-login.php/", "/wp-login.php/x", "/wp-login%2ephp", "/wp%2dlogin.php/",
               "/xmlrpc.php", "/xmlrpc.php/x", "/xmlrpc.php/a/b"]


def _waf_view(path: str, transformations: list[str]) -> str:
    """The path as the rule inspects it, for the transformations the template names (AWS's
    definitions: https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-transformation.html;
    NORMALIZE_PATH removes repeated slashes and ./ and ../ segments)."""
    for kind in transformations:
        if kind == "URL_DECODE":
            path = urllib.parse.unquote(path)
        elif kind == "NORMALIZE_PATH":
            path = posixpath.normpath(path).replace("//", "/") + ("/" if path.endswith("/") else "")
        elif kind == "LOWERCASE":
            path = path.lower()
        else:
            raise AssertionError(f"the test does not know {kind}")
    return path


def _matches(statement: dict[str, Any], path: str) -> bool:
    """A ByteMatchStatement on the URI path, as WAF evaluates it."""
    seen = _waf_view(path, [t["Type"] for t in sorted(statement["TextTransformations"], key=lambda t: t["Priority"])])
    wanted, how = statement["SearchString"], statement["PositionalConstraint"]
    return {"EXACTLY": seen == wanted, "STARTS_WITH": seen.startswith(wanted), "ENDS_WITH": seen.endswith(wanted),
            "CONTAINS": wanted in seen}[how]


@pytest.mark.parametrize("path", LOGIN_PATHS)
def test_the_rate_rule_counts_every_path_the_runtime_runs_a_login_script_for(web_acl: dict[str, Any],
                                                                             tmp_path: Path, path: str) -> None:
    """The rule and the runtime's routing agree: a path that runs wp-login.php or xmlrpc.php cannot
    slip past the count (a trailing slash did, with ENDS_WITH)."""
    root = tmp_path / "root"
    root.mkdir()
    for name in WAF_LOGIN_PATHS:
        (root / name.lstrip("/")).write_text("<?php\n")
    (root / "index.php").write_text("<?php\n")
    target = routing.route(str(root), path, "")
    assert target.kind == "php" and target.script_name in WAF_LOGIN_PATHS, (path, target)
    (rule,) = [rule for rule in web_acl["Rules"] if "RateBasedStatement" in rule["Statement"]]
    _, paths = rule["Statement"]["RateBasedStatement"]["ScopeDownStatement"]["AndStatement"]["Statements"]
    matches = [statement["ByteMatchStatement"] for statement in paths["OrStatement"]["Statements"]]
    assert any(_matches(m, path) for m in matches), path


def test_web_acl_arn_is_the_output_and_the_site_template_parameter(project: Config) -> None:
    companion = validate.load_template(project.root / WAF_TEMPLATE)
    assert companion["Outputs"][waf.OUTPUT]["Value"] == {"Fn::GetAtt": ["WebAcl", "Arn"]}
    site = validate.load_template(project.root / "template.yaml")
    pattern = site["Parameters"]["WebAclArn"]["AllowedPattern"]
    arn = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/blog-waf/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
    assert re.fullmatch(pattern, arn) and re.fullmatch(pattern, waf.PENDING_ARN) and re.fullmatch(pattern, "")
    assert not re.fullmatch(pattern, arn.replace(":global/", ":regional/"))  # a REGIONAL ACL cannot serve CloudFront
    assert not re.fullmatch(pattern, arn.replace("us-east-1", SITE_REGION))
    transformed = validate.transform(site, SITE_REGION, {"WebAclArn": arn})
    config = transformed["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    assert config["WebACLId"] == {"Fn::If": ["HasWebAcl", {"Ref": "WebAclArn"}, {"Ref": "AWS::NoValue"}]}
    assert transformed["Conditions"]["HasWebAcl"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "WebAclArn"}, ""]}]}


def test_waf_off_renders_no_web_acl_and_the_same_site_template(project: Config, tmp_path: Path) -> None:
    """Switching the WAF changes the WebAclArn value the deploy passes, never the site's template;
    a stale waf.yaml goes, so the project holds only what a deploy sends."""
    config = _config(tmp_path)
    (tmp_path / WAF_TEMPLATE).write_text((project.root / WAF_TEMPLATE).read_text())
    render.render_project(config)
    assert not (tmp_path / WAF_TEMPLATE).exists()
    assert (tmp_path / "template.yaml").read_text() == (project.root / "template.yaml").read_text()


def test_validate_lints_the_companion_template(project: Config, tmp_path: Path) -> None:
    config = _config(tmp_path, waf=True)
    render.render_project(config)
    path = tmp_path / WAF_TEMPLATE
    path.write_text(path.read_text().replace("EvaluationWindowSec: 300", "EvaluationWindowSec: 30"))
    errors = validate.validate_project(config).errors
    assert any(error.startswith(f"{WAF_TEMPLATE}:") and "30" in error for error in errors), errors
    path.unlink()
    assert f"security.waf is on, but {WAF_TEMPLATE} is missing: run `wplambda render`" in \
        validate.validate_project(config).errors


def test_emulator_gives_the_web_acl_a_stand_in_arn(project: Config) -> None:
    """moto's CloudFormation has no AWS::WAFv2::WebACL: in the emulator path only, the output is a
    stand-in of the real ARN's shape; the resource itself is left for moto to skip."""
    companion = validate.load_template(project.root / WAF_TEMPLATE)
    adapted = emulator.adapt(companion)
    assert adapted.template["Resources"] == companion["Resources"]
    value = adapted.template["Outputs"][waf.OUTPUT]["Value"]["Fn::Sub"]
    assert value == emulator.STAND_IN_ARNS["AWS::WAFv2::WebACL"]
    assert adapted.notes == [f"output {waf.OUTPUT} is a stand-in ARN: the emulator does not create "
                             "AWS::WAFv2::WebACL"]
