"""The page cache at the edge ([cache] pages): the cache policy on the function's behaviours, and the
viewer-request function's bypass rule, which is rendered from contract.cache_bypass's values.

Every case of the matrix (every network mode, front door and database) is rendered and linted
(cfn-lint) as a deploy would. The function's JavaScript is run by node on viewer-request events of
the documented shape (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-event-structure.html),
and its answer is compared with contract.cache_bypass's on the same requests: the two cannot drift.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.integration.template.test_template_matrix import CACHING_DISABLED, CASES, Case, Rendered, render_case
from wp_lambda.local import edge_cache
from wp_lambda.runtime import contract

HEADER = contract.CACHE_BYPASS_HEADER.lower()


@pytest.fixture(scope="module", params=CASES, ids=[c.id for c in CASES])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    case: Case = request.param
    return render_case(case, tmp_path_factory.mktemp(case.id))


def _function_behaviours(rendered: Rendered) -> list[dict[str, Any]]:
    dist = rendered.resources["Distribution"]["Properties"]["DistributionConfig"]
    return [b for b in [*dist["CacheBehaviors"], dist["DefaultCacheBehavior"]]
            if b["TargetOriginId"] == contract.FUNCTION_ORIGIN]


def test_lint_clean_and_the_policy_on_every_function_behaviour(rendered: Rendered) -> None:
    assert rendered.lint_errors == []
    behaviours = _function_behaviours(rendered)
    assert len(behaviours) == 2  # *.php and the default
    if not rendered.config.cache.pages:
        assert "PageCachePolicy" not in rendered.resources
        assert all(b["CachePolicyId"] == CACHING_DISABLED for b in behaviours)
        code = rendered.resources["ForwardedHostFunction"]["Properties"]["FunctionCode"]
        assert HEADER not in code
        return
    assert all(b["CachePolicyId"] == {"Ref": "PageCachePolicy"} for b in behaviours)
    # The origin still gets every cookie, header and query string (the managed AllViewerExceptHostHeader).
    assert all(b["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac" for b in behaviours)
    assert all(b["CachedMethods"] == list(contract.CACHED_METHODS) for b in behaviours)


def test_the_key_is_path_and_query_never_cookies_and_ttls_defer_to_wordpress(rendered: Rendered) -> None:
    if not rendered.config.cache.pages:  # no policy at all; the behaviours' CachingDisabled is asserted above
        assert not any(r.get("Type") == "AWS::CloudFront::CachePolicy" and "Page" in name
                       for name, r in rendered.resources.items())
        return
    policy = rendered.resources["PageCachePolicy"]["Properties"]["CachePolicyConfig"]
    # MinTTL 0: no-store/private honoured; DefaultTTL 0: nothing WordPress did not mark is stored.
    assert (policy["MinTTL"], policy["DefaultTTL"], policy["MaxTTL"]) == (0, 0, rendered.config.cache.ttl)
    # ...the TTLs serve's gateway applies (wp_lambda/local/edge_cache.py), from the same definition.
    ttls = contract.page_cache_ttls(rendered.config.cache.ttl)
    assert (policy["MinTTL"], policy["DefaultTTL"], policy["MaxTTL"]) == (ttls.min, ttls.default, ttls.max)
    key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["CookiesConfig"] == {"CookieBehavior": "none"}
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "all"}
    assert key["HeadersConfig"] == {"HeaderBehavior": "whitelist", "Headers": [HEADER]}


def test_errors_wordpress_marks_private_are_never_cached_at_the_edge(rendered: Rendered) -> None:
    """CloudFront caches an error 10 s whatever private/no-store says on most codes; with the page
    cache each such code gets an error caching minimum TTL of 0, and no error page of ours."""
    dist = rendered.resources["Distribution"]["Properties"]["DistributionConfig"]
    if not rendered.config.cache.pages:
        assert "CustomErrorResponses" not in dist
        return
    responses = dist["CustomErrorResponses"]
    assert [r["ErrorCode"] for r in responses] == list(contract.EDGE_UNCACHED_ERROR_CODES)
    # 502/503/504 (a throttle, a timeout: no one's session) keep CloudFront's 10 s of error caching.
    assert not {502, 503, 504} & set(contract.EDGE_UNCACHED_ERROR_CODES)
    assert all(r == {"ErrorCode": r["ErrorCode"], "ErrorCachingMinTTL": 0} for r in responses)
    # ...the codes serve's cache knows as CloudFront's cached errors.
    assert set(contract.CACHED_ERROR_CODES) == edge_cache.CACHED_ERRORS


def test_function_environment_carries_the_settings(rendered: Rendered) -> None:
    env = rendered.resources["WordPressFunction"]["Properties"]
    variables = env.get("Environment", {}).get("Variables") or {}
    if not variables:  # the shared settings live in Globals before the transform; after it, here
        pytest.fail(f"no environment on the function: {sorted(env)}")
    cache = rendered.config.cache
    assert variables[contract.PAGE_CACHE_ENV] == (f"{cache.ttl},{cache.stale_ttl}" if cache.pages else "")


# ------------------------------------------------------------------ the function's JavaScript, in node
RUNNER = """
const fs = require('fs');
const handler = new Function(fs.readFileSync(process.argv[2], 'utf8') + '\\nreturn handler;')();
const events = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
process.stdout.write(JSON.stringify(events.map(function (e) { return handler(e); })));
"""

# (method, path, query {name: value}, cookies {name: value}, headers {name: value})
REQUESTS: list[tuple[str, str, dict[str, str], dict[str, str], dict[str, str]]] = [
    ("GET", "/", {}, {}, {}),
    ("HEAD", "/feed/", {}, {}, {}),
    ("GET", "/hello-world/", {"utm_source": "news", "page": "2"}, {"_ga": "GA1.2.3"}, {}),
    ("GET", "/", {}, {"wp-settings-time-1": "1"}, {}),
    ("GET", "/wp-json/wp/v2/posts", {}, {}, {}),
    ("POST", "/", {}, {}, {}),
    ("PUT", "/wp-json/wp/v2/posts/1", {}, {}, {}),
    ("OPTIONS", "/", {}, {}, {}),
    ("GET", "/", {}, {}, {"authorization": "Basic YWRtaW46eHh4"}),
    ("GET", "/wp-admin/", {}, {}, {}),
    ("GET", "/wp-admin", {}, {}, {}),
    ("GET", "/wp-admin/admin-ajax.php", {"action": "heartbeat"}, {}, {}),
    ("GET", "/wp-login.php", {}, {}, {}),
    ("GET", "/wp-cron.php", {"doing_wp_cron": "1"}, {}, {}),
    ("GET", "/blog/wp-login.php", {}, {}, {}),
    ("GET", "/", {"p": "5", "preview": "true"}, {}, {}),
    ("GET", "/", {"preview_id": "5", "preview_nonce": "abc"}, {}, {}),
    ("GET", "/", {"%70review": "true"}, {}, {}),
    ("GET", "/hello-world/", {"unapproved": "7", "moderation-hash": "0123abcd"}, {}, {}),
    ("GET", "/", {}, {"wordpress_logged_in_0123abcd": "admin|1|x"}, {}),
    ("GET", "/", {}, {"wordpress_sec_0123abcd": "admin|1|x"}, {}),
    ("GET", "/", {}, {"wp-postpass_0123abcd": "$P$B"}, {}),
    ("GET", "/", {}, {"comment_author_0123abcd": "Ann"}, {}),
    ("GET", "/", {}, {"comment_author_email_0123abcd": "ann@example.com"}, {}),
    ("GET", "/shop/", {}, {"woocommerce_cart_hash": "abc"}, {}),
    ("GET", "/shop/", {}, {"woocommerce_items_in_cart": "1"}, {}),
    ("GET", "/shop/", {}, {"wp_woocommerce_session_0123": "x"}, {}),
    # A viewer's own copy of the marker on an anonymous request is deleted, never keyed on.
    ("GET", "/", {}, {}, {HEADER: "pick-an-entry"}),
    # A closed "[...]" is an array key to PHP: $_COOKIE["wordpress"], no login cookie.
    ("GET", "/", {}, {"wordpress[x]": "1"}, {}),
    # Names PHP reads as a login cookie (contract.php_cookie_name), and REST method overrides.
    ("GET", "/", {}, {"wordpress.logged_in_0123abcd": "admin|1|x"}, {}),
    ("GET", "/", {}, {"wordpress logged_in_0123abcd": "admin|1|x"}, {}),
    ("GET", "/", {}, {"  wordpress_logged_in_0123abcd": "admin|1|x"}, {}),
    ("GET", "/", {}, {"wordpress[logged_in_0123abcd": "admin|1|x"}, {}),
    ("GET", "/", {}, {"wp-postpass.0123abcd": "$P$B"}, {}),
    ("GET", "/wp-json/wp/v2/posts", {}, {}, {"x-http-method-override": "OPTIONS"}),
    ("GET", "/wp-json/wp/v2/posts", {}, {}, {"x-method-override": "HEAD"}),
    # PHP drops any leading isspace() character of a name, a tab too; the REST API's method override
    # in the query; WooCommerce's add-to-cart link, which starts a cart session on a GET.
    ("GET", "/", {}, {"\twordpress_logged_in_0123abcd": "admin|1|x"}, {}),
    ("GET", "/wp-json/wp/v2/posts", {"_method": "POST"}, {}, {}),
    ("GET", "/shop/", {"add-to-cart": "42"}, {}, {}),
]


def _event(method: str, path: str, query: dict[str, str], cookies: dict[str, str], headers: dict[str, str],
           request_id: str) -> dict[str, Any]:
    return {"version": "1.0",
            "context": {"distributionDomainName": "d111111abcdef8.cloudfront.net", "distributionId": "EDFDVBD6EXAMPLE",
                        "eventType": "viewer-request", "requestId": request_id},
            "viewer": {"ip": "198.51.100.7"},
            "request": {"method": method, "uri": path,
                        "querystring": {k: {"value": v} for k, v in query.items()},
                        "headers": {"host": {"value": "blog.example.com"},
                                    **{k: {"value": v} for k, v in headers.items()}},
                        "cookies": {k: {"value": v} for k, v in cookies.items()}}}


@pytest.fixture(scope="module")
def function_results(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The rendered function (the default config's) run by node on every request of REQUESTS."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: it is part of the test environment (make setup)")
    code = render_case(CASES[0], tmp_path_factory.mktemp("function"))
    source = code.resources["ForwardedHostFunction"]["Properties"]["FunctionCode"]
    work = tmp_path_factory.mktemp("node")
    (work / "function.js").write_text(source)
    (work / "runner.js").write_text(RUNNER)
    events = [_event(*r, request_id=f"request-{i}") for i, r in enumerate(REQUESTS)]
    (work / "events.json").write_text(json.dumps(events))
    done = subprocess.run([node, str(work / "runner.js"), str(work / "function.js"), str(work / "events.json")],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


@pytest.mark.parametrize("index", range(len(REQUESTS)), ids=[f"{r[0]} {r[1]}?{urlencode(r[2])} {sorted(r[3])}"
                                                               for r in REQUESTS])
def test_function_and_contract_agree(function_results: list[dict[str, Any]], index: int) -> None:
    method, path, query, cookies, headers = REQUESTS[index]
    sent = [*headers.items(), ("cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()))]
    expected = contract.request_cache_bypass(method, path, urlencode(query, safe="%"), sent)
    marker = function_results[index]["headers"].get(HEADER)
    if expected is None:
        assert marker is None, (REQUESTS[index], marker)
    else:
        # The request's own id: no two bypass requests share a cache key.
        assert marker == {"value": f"request-{index}"}, (REQUESTS[index], expected)


def test_the_rule_bypasses_what_the_issue_names(function_results: list[dict[str, Any]]) -> None:
    """A test that could not fail if both sides were wrong the same way: the expected verdicts."""
    marked = [HEADER in r["headers"] for r in function_results]
    shared = [i for i, m in enumerate(marked) if not m]
    assert shared == [0, 1, 2, 3, 4, 27, 28], [REQUESTS[i] for i in shared]
