"""sync-assets against moto's S3 with the static files of Debian's WordPress (~1,800 files).

The tests in this module run in order against one bucket: each sync builds on the previous one,
as successive deploys of one site do.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.integration.deploy.conftest import lay_out_assets, make_project
from tests.support.helpers import run_wplambda
from wp_lambda import assets_sync
from wp_lambda.aws import connect
from wp_lambda.config import Assets, Config
from wp_lambda.config import load as load_config
from wp_lambda.deploy.execute import MAX_INVALIDATION_PATHS, invalidate
from wp_lambda.runtime import static

STACK = "assets-site"
FOREIGN = {"robots-by-hand.txt": b"made by hand", "wp-content/uploads/2024/01/photo.jpg": b"\xff\xd8 jpeg"}
ASSETS_TEMPLATE = {
    "Resources": {"AssetsBucket": {"Type": "AWS::S3::Bucket"}, "Other": {"Type": "AWS::S3::Bucket"}},
    "Outputs": {"Renamed": {"Value": {"Ref": "Other"}}},  # outputs that do not name the bucket
}


@pytest.fixture(scope="module")
def site(aws_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A project with a build's assets and a stack whose AssetsBucket holds two foreign objects."""
    root = make_project(tmp_path_factory.mktemp("site"))
    count = lay_out_assets(root / ".wplambda" / "build" / "assets")
    cfn = boto3.client("cloudformation")
    cfn.create_stack(StackName=STACK, TemplateBody=json.dumps(ASSETS_TEMPLATE))
    bucket = cfn.describe_stack_resource(StackName=STACK, LogicalResourceId="AssetsBucket")[
        "StackResourceDetail"]["PhysicalResourceId"]
    s3 = boto3.client("s3")
    for key, body in FOREIGN.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    return {"root": root, "count": count, "bucket": bucket, "s3": s3, "config": load_config(root)}


def _sync(site: dict[str, Any], **kwargs: Any) -> assets_sync.SyncResult:
    config: Config = site["config"]
    return assets_sync.sync(site["s3"], site["bucket"], config.root / ".wplambda/build/assets", config.assets,
                            **kwargs)


def _objects(site: dict[str, Any]) -> dict[str, int]:
    pages = site["s3"].get_paginator("list_objects_v2").paginate(Bucket=site["bucket"])
    return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}


def _json_sync(site: dict[str, Any], *args: str) -> dict[str, Any]:
    result = run_wplambda("sync-assets", "--stack", STACK, "--json", *args, cwd=site["root"])
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_first_sync_via_console_script_finds_bucket_by_logical_id(site: dict[str, Any]) -> None:
    summary = _json_sync(site)
    assert set(summary) == {"uploaded", "unchanged", "deleted", "bytes", "seconds"}
    assert summary["uploaded"] == site["count"] > 1500
    assert (summary["unchanged"], summary["deleted"]) == (0, 0)
    assets = site["root"] / ".wplambda/build/assets"
    assert summary["bytes"] == sum(p.stat().st_size for p in assets.rglob("*") if p.is_file())


# Spot checks written out by hand, one per kind of file in the tree.
EXPECTED = {
    "wp-includes/css/dashicons.min.css": ("text/css; charset=utf-8", 31536000),
    "wp-includes/js/jquery/jquery.min.js": ("text/javascript; charset=utf-8", 31536000),
    "wp-includes/fonts/dashicons.woff2": ("font/woff2", 31536000),
    "wp-includes/fonts/dashicons.ttf": ("font/ttf", 31536000),
    "wp-includes/fonts/dashicons.eot": ("application/vnd.ms-fontobject", 31536000),
    "wp-includes/images/w-logo-blue.png": ("image/png", 31536000),
    "wp-includes/images/spinner.gif": ("image/gif", 31536000),
    "wp-includes/images/wpicons.png": ("image/png", 31536000),
    "wp-content/themes/twentytwentythree/theme.json": ("application/json", 3600),
    "wp-content/themes/twentytwentythree/style.css": ("text/css; charset=utf-8", 31536000),
    "wp-includes/js/dist/vendor/react.min.js": ("text/javascript; charset=utf-8", 31536000),
}


def test_every_object_has_its_content_type_and_cache_control(site: dict[str, Any]) -> None:
    s3, bucket = site["s3"], site["bucket"]
    keys = [k for k in _objects(site) if k not in FOREIGN and k != assets_sync.MANIFEST_KEY]
    assert len(keys) == site["count"]
    for key, (ctype, max_age) in EXPECTED.items():
        head = s3.head_object(Bucket=bucket, Key=key)
        assert (head["ContentType"], head["CacheControl"]) == (ctype, f"public, max-age={max_age}"), key
    seen_types = set()
    for key in keys:
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ContentType"] == assets_sync.content_type(key), key
        assert head["CacheControl"] == assets_sync.cache_control(key, Assets()), key
        seen_types.add(head["ContentType"])
    assert assets_sync.DEFAULT_CONTENT_TYPE in seen_types  # the .mo translations
    body = s3.get_object(Bucket=bucket, Key="wp-includes/css/dashicons.min.css")["Body"].read()
    assert body == (site["root"] / ".wplambda/build/assets/wp-includes/css/dashicons.min.css").read_bytes()


def test_second_sync_uploads_nothing(site: dict[str, Any]) -> None:
    result = _sync(site)
    assert (result.uploaded, result.unchanged, result.deleted) == (0, site["count"], 0)


def test_rebuild_with_new_mtimes_uploads_nothing(site: dict[str, Any]) -> None:
    assets = site["root"] / ".wplambda/build/assets"
    before = (assets / "wp-includes/css/dashicons.min.css").stat().st_mtime_ns
    lay_out_assets(assets)
    assert (assets / "wp-includes/css/dashicons.min.css").stat().st_mtime_ns != before
    result = _sync(site)
    assert (result.uploaded, result.unchanged, result.deleted) == (0, site["count"], 0)


def test_one_changed_css_uploads_exactly_it(site: dict[str, Any]) -> None:
    key = "wp-admin/css/common.min.css"
    path = site["root"] / ".wplambda/build/assets" / key
    path.write_bytes(path.read_bytes() + b"\n/* changed */\n")
    dry = _sync(site, dry_run=True)
    assert (dry.uploaded, dry.dry_run) == (1, True)
    assert site["s3"].get_object(Bucket=site["bucket"], Key=key)["Body"].read() != path.read_bytes()
    result = _sync(site)
    assert (result.uploaded, result.unchanged, result.deleted) == (1, site["count"] - 1, 0)
    assert result.changed_paths == [key]
    assert site["s3"].get_object(Bucket=site["bucket"], Key=key)["Body"].read() == path.read_bytes()


def test_object_deleted_by_hand_is_uploaded_again_when_verifying(site: dict[str, Any]) -> None:
    key = "wp-includes/images/spinner.gif"
    site["s3"].delete_object(Bucket=site["bucket"], Key=key)
    assert _sync(site).uploaded == 0  # the manifest is trusted by default
    result = _sync(site, verify=True)
    assert result.uploaded == 1
    assert result.changed_paths == []  # it was missing: nothing cached to invalidate
    assert key in _objects(site)


def test_removing_a_theme_deletes_exactly_its_objects(site: dict[str, Any]) -> None:
    prefix = "wp-content/themes/twentytwentythree/"
    theme = site["root"] / ".wplambda/build/assets" / prefix
    theme_files = sum(1 for p in theme.rglob("*") if p.is_file())
    before = _objects(site)
    shutil.rmtree(theme)
    summary = _json_sync(site)
    assert (summary["uploaded"], summary["deleted"]) == (0, theme_files)
    after = _objects(site)
    assert set(before) - set(after) == {k for k in before if k.startswith(prefix)}
    assert len(set(before) - set(after)) == theme_files


def test_foreign_objects_and_uploads_survive_every_sync(site: dict[str, Any]) -> None:
    for key, body in FOREIGN.items():
        assert site["s3"].get_object(Bucket=site["bucket"], Key=key)["Body"].read() == body


def test_uploads_prefix_is_never_deleted_even_if_listed() -> None:
    """A manifest that somehow lists a key under wp-content/uploads/ still never deletes it."""
    manifest = {"wp-content/uploads/a.jpg": {"sha256": "x"}, "wp-includes/gone.css": {"sha256": "y"}}
    plan = assets_sync.plan_sync({}, manifest, set(manifest))
    assert plan.delete == ["wp-includes/gone.css"]


def test_cache_rule_follows_assets_config() -> None:
    assets = Assets(versioned_max_age=600, default_max_age=60)
    assert assets_sync.cache_control("wp-admin/js/post.min.js", assets) == "public, max-age=600"
    assert assets_sync.cache_control("wp-content/plugins/x/readme.txt", assets) == "public, max-age=60"
    assert assets_sync.cache_control("wp-content/custom/logo.png", assets) == "public, max-age=60"
    for ext in ("css", "js", "mjs", "json", "map", "svg", "png", "jpg", "gif", "webp", "avif", "ico",
                "woff", "woff2", "ttf", "eot", "txt", "xml", "wasm"):
        assert assets_sync.content_type(f"a/b.{ext.upper()}") != assets_sync.DEFAULT_CONTENT_TYPE, ext


def test_sync_and_runtime_share_one_content_type_table() -> None:
    """An object in the assets bucket has the type the function would serve the same file with."""
    for extension, ctype in static.CONTENT_TYPES.items():
        assert assets_sync.content_type(f"wp-includes/x/file{extension.upper()}") == ctype, extension
    assert assets_sync.content_type("wp-includes/js/module.wasm") == "application/wasm"
    for key in ("wp-content/languages/de_DE.mo", "wp-includes/certificates/ca-bundle.crt", "wp-includes/LICENSE",
                "wp-includes/x/.htaccess", "a/b.bak"):
        assert assets_sync.content_type(key) == assets_sync.DEFAULT_CONTENT_TYPE, key


def test_unknown_stack_is_one_clear_error(site: dict[str, Any], tmp_path: Path) -> None:
    result = run_wplambda("sync-assets", "--stack", "no-such-stack", cwd=site["root"])
    assert result.returncode == 2
    assert "stack 'no-such-stack' does not exist in us-east-1" in result.stderr


def test_cloudfront_invalidation_covers_exactly_the_changed_paths(site: dict[str, Any]) -> None:
    """moto's CloudFormation skips CloudFront, so the distribution is made with the CloudFront API."""
    cloudfront = boto3.client("cloudfront")
    distribution = cloudfront.create_distribution(DistributionConfig={
        "CallerReference": "assets-test", "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "s3", "DomainName": f"{site['bucket']}.s3.amazonaws.com",
                                               "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "redirect-to-https",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
    })["Distribution"]["Id"]
    aws = connect(site["config"])
    paths = invalidate(aws, distribution, ["wp-admin/css/common.min.css", "wp-includes/a b.js"])
    assert paths == ["/wp-admin/css/common.min.css", "/wp-includes/a%20b.js"]
    batch = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"]["Items"]
    assert len(batch) == 1
    assert invalidate(aws, distribution, [f"k{i}.css" for i in range(MAX_INVALIDATION_PATHS + 1)]) == ["/*"]
    assert invalidate(aws, distribution, []) == []
