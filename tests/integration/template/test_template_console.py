"""The console function across the template matrix: the site function's code, layers, role, VPC
and environment, its own timeout and log group, and no way in but a direct invocation.

Assertions read the CloudFormation the SAM transform produced, as test_template_matrix does.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.integration.template.test_template_matrix import CASES, Rendered, render_case
from tests.support.helpers import run_wplambda
from wp_lambda.project import init_project
from wp_lambda.runtime import contract

SHARED = ("Runtime", "Handler", "MemorySize", "EphemeralStorage", "Architectures", "Layers", "VpcConfig")
CONSOLE_CASES = [*CASES, replace(CASES[0], id="public-console-300",
                                 extra={**CASES[0].extra, "console": {"timeout": 300}, "logs": {"retention_days": 7}})]


@pytest.fixture(scope="module", params=CONSOLE_CASES, ids=[c.id for c in CONSOLE_CASES])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render_case(request.param, tmp_path_factory.mktemp(request.param.id))


def test_lint_has_zero_errors(rendered: Rendered) -> None:
    assert rendered.lint_errors == []


def test_console_shares_code_layers_role_vpc_and_secrets(rendered: Rendered) -> None:
    site = rendered.resources["WordPressFunction"]["Properties"]
    console = rendered.resources["ConsoleFunction"]["Properties"]
    for key in SHARED:
        assert console.get(key) == site.get(key), key
    # The same zip (validation swaps each function's local CodeUri for a placeholder key of its own).
    source = rendered.source["Resources"]
    assert source["ConsoleFunction"]["Properties"]["CodeUri"] == source["WordPressFunction"]["Properties"]["CodeUri"]
    assert console["Role"] == site["Role"] == {"Fn::GetAtt": ["WordPressFunctionRole", "Arn"]}
    variables = dict(console["Environment"]["Variables"])
    assert variables.pop("WPLAMBDA_ROLE") == "console"
    variables.pop("WP_HOME", None)  # test_console_runs_know_the_site_address_without_a_host
    variables.pop("WPLAMBDA_DISTRIBUTION_ID", None)  # test_purge_may_invalidate_this_distribution_only
    assert variables == site["Environment"]["Variables"]  # WPLAMBDA_SECRETS included: same secrets
    assert rendered.resources["ConsoleFunction"].get("DependsOn") == rendered.resources["WordPressFunction"].get(
        "DependsOn")


_SUB_NAME = re.compile(r"\$\{([^!}][^}.]*)[^}]*\}")


def _referenced(node: Any) -> set[str]:
    """Every name ``node`` refers to through Ref, Fn::GetAtt or Fn::Sub (a Sub's own variables too)."""
    if isinstance(node, list):
        return set().union(*map(_referenced, node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found: set[str] = set()
    for key, value in node.items():
        if key == "Ref" and isinstance(value, str):
            found.add(value)
        elif key == "Fn::GetAtt":
            found.add(value[0] if isinstance(value, list) else str(value).split(".")[0])
        elif key == "Fn::Sub":
            found |= set(_SUB_NAME.findall(value if isinstance(value, str) else value[0]))
            found |= _referenced(value) if not isinstance(value, str) else set()
        else:
            found |= _referenced(value)
    return found


def dependency_cycle(resources: dict[str, Any]) -> list[str]:
    """A cycle among ``resources`` (references and DependsOn), as CloudFormation would refuse it; [] if none.

    CloudFormation creates a referenced resource before the one referring to it
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html), so
    a cycle cannot be created. Neither cfn-lint nor the SAM translator here reports one that runs
    through SAM's generated resources (the function's alias and version), hence this check.
    """
    graph = {}
    for name, resource in resources.items():
        depends = resource.get("DependsOn", [])
        names = _referenced(resource.get("Properties", {})) | set([depends] if isinstance(depends, str) else depends)
        graph[name] = sorted(names & set(resources))
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str]:
        if name in path:
            return [*path[path.index(name):], name]
        if name in done:
            return []
        for target in graph[name]:
            cycle = visit(target, [*path, name])
            if cycle:
                return cycle
        done.add(name)
        return []

    for name in graph:
        cycle = visit(name, [])
        if cycle:
            return cycle
    return []


def test_the_template_has_no_dependency_cycle(rendered: Rendered) -> None:
    assert dependency_cycle(rendered.resources) == []


def test_the_site_function_naming_the_distribution_would_be_a_cycle(rendered: Rendered) -> None:
    """Why only the console function gets WP_HOME: the check above finds the cycle the site
    function's reference would make (its origin, the HTTP API or function URL, leads back to it)."""
    resources = copy.deepcopy(rendered.resources)
    site = resources["WordPressFunction"]["Properties"]["Environment"]["Variables"]
    site["WP_HOME"] = {"Fn::Sub": "https://${Distribution.DomainName}"}
    cycle = dependency_cycle(resources)
    assert cycle[0] == cycle[-1] and {"Distribution", "WordPressFunction"} <= set(cycle), cycle


def test_console_runs_know_the_site_address_without_a_host(rendered: Rendered) -> None:
    """Issue 23, item 4: wp-cli, cron and import have no Host, so without a custom domain the
    console function is given the distribution's address (WP_HOME, from which wp-config.php
    derives S3 Uploads' URL) instead of leaving S3 Uploads to link to the private bucket. The site
    function is not: the distribution's origin depends on it (the test above)."""
    console = rendered.resources["ConsoleFunction"]["Properties"]["Environment"]["Variables"]
    site = rendered.resources["WordPressFunction"]["Properties"]["Environment"]["Variables"]
    assert "WP_HOME" not in site
    if rendered.config.site.domains:
        assert "WP_HOME" not in console  # wp-config.php pins https://DOMAIN itself
        pinned = f"$wplambda_env('WP_HOME', 'https://{rendered.config.site.domains[0]}')"
        assert pinned in (rendered.root / "wordpress" / "wp-config.php").read_text()
    else:
        assert console["WP_HOME"] == {"Fn::Sub": "https://${Distribution.DomainName}"}
        assert rendered.transformed["Outputs"]["SiteUrl"]["Value"] == console["WP_HOME"]


def test_console_has_its_own_timeout_and_log_group(rendered: Rendered) -> None:
    console = rendered.resources["ConsoleFunction"]["Properties"]
    assert console["Timeout"] == rendered.config.console.timeout
    assert console["LoggingConfig"]["LogGroup"] == {"Ref": "ConsoleLogGroup"}
    retention = rendered.resources["ConsoleLogGroup"]["Properties"]["RetentionInDays"]
    assert retention == rendered.resources["LogGroup"]["Properties"]["RetentionInDays"]
    assert retention == rendered.config.logs.retention_days


def _mentions(value: Any, name: str) -> bool:
    return name in json.dumps(value)


def test_nothing_but_a_direct_invocation_and_the_cron_schedule_reach_the_console(rendered: Rendered) -> None:
    """No URL, API route or alias names the console function; with cron on, the one permission is
    EventBridge's, for the cron rule only (test_template_matrix checks the rule and its retries)."""
    others = {k: v for k, v in rendered.resources.items() if k not in ("ConsoleFunction", "ConsoleLogGroup")}
    cron = ["ConsoleFunctionCron", "ConsoleFunctionCronPermission", "ConsoleFunctionEventInvokeConfig"]
    expected = cron if rendered.config.cron.enabled else []
    assert sorted(k for k, v in others.items() if _mentions(v, "ConsoleFunction")) == expected
    generated = sorted(k for k in rendered.resources if k.startswith("ConsoleFunction") and k != "ConsoleFunction")
    assert generated == expected
    if rendered.config.cron.enabled:
        permission = rendered.resources["ConsoleFunctionCronPermission"]["Properties"]
        assert permission["Principal"] == "events.amazonaws.com"
        assert permission["SourceArn"] == {"Fn::GetAtt": ["ConsoleFunctionCron", "Arn"]}
    assert rendered.transformed["Outputs"]["ConsoleFunctionName"]["Value"] == {"Ref": "ConsoleFunction"}


@pytest.fixture(scope="module")
def valid_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("valid-console") / "site"
    init_project(root, {})
    return root


@pytest.mark.parametrize(("value", "expected"), [
    ("0", "0 is below the minimum 1 (allowed: 1-900)"),
    ("901", "901 is above the maximum 900 (allowed: 1-900)"),
    ('"15m"', "expected an integer, got '15m'"),
])
def test_bad_console_timeout_is_refused(valid_project: Path, tmp_path: Path, value: str, expected: str) -> None:
    root = tmp_path / "site"
    shutil.copytree(valid_project, root)
    path = root / "wplambda.toml"
    text = path.read_text()
    section = text.index("[console]")
    start = text.index("timeout = 900", section)
    path.write_text(text[:start] + f"timeout = {value}" + text[start + len("timeout = 900"):])
    line = path.read_text()[:start].count("\n") + 1
    result = run_wplambda("validate", "--project", str(root))
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert f"{path}:{line}: console.timeout: {expected}" in message
    assert "Traceback" not in result.stderr


def test_purge_may_invalidate_this_distribution_only(rendered: Rendered) -> None:
    """Issue 24, item 2: with cache.pages, the functions' role may create invalidations on this
    distribution and nothing else, through a policy of its own (the role itself naming the
    distribution would be a cycle: the checks above run on this template too); the console function
    names the distribution in a variable, the site function learns it from the viewer-request
    function's header, which overwrites any copy a viewer sent."""
    console = rendered.resources["ConsoleFunction"]["Properties"]["Environment"]["Variables"]
    site = rendered.resources["WordPressFunction"]["Properties"]["Environment"]["Variables"]
    code = rendered.resources["ForwardedHostFunction"]["Properties"]["FunctionCode"]
    header = contract.DISTRIBUTION_HEADER.lower()
    assert contract.DISTRIBUTION_ID_ENV not in site
    # Written on every request, cache or not: a viewer's own copy never reaches the function.
    assert f"headers['{header}'] = {{ value: event.context.distributionId }};" in code
    if not rendered.config.cache.pages:
        assert "PurgePolicy" not in rendered.resources and contract.DISTRIBUTION_ID_ENV not in console
        return
    assert console[contract.DISTRIBUTION_ID_ENV] == {"Ref": "Distribution"}
    policy = rendered.resources["PurgePolicy"]
    assert policy["Type"] == "AWS::IAM::Policy"
    assert policy["Properties"]["Roles"] == [{"Ref": "WordPressFunctionRole"}]
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [{
        "Sid": "InvalidateThisDistribution", "Effect": "Allow", "Action": "cloudfront:CreateInvalidation",
        "Resource": {"Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"}}]
    # No other statement anywhere grants a CloudFront action.
    others = json.dumps({name: r for name, r in rendered.resources.items()
                         if r["Type"] in ("AWS::IAM::Role", "AWS::IAM::Policy") and name != "PurgePolicy"})
    assert "cloudfront:" not in others
