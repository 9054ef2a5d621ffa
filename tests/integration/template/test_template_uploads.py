"""The uploads bucket across the template matrix: the CORS rule direct uploads need, and nothing more.

Browsers POST files over php.ini's limit straight to the bucket with a policy the site signs
(wordpress/mu-plugins/wplambda-direct-uploads.php). The bucket must let the site's pages do that
(CORS: POST, the site's origins only) while staying private: Block Public Access, no ACLs, reads
only by this distribution through Origin Access Control, and writes only by the function's role
(whose credentials sign the policies). Read from the transformed CloudFormation, as the matrix does.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.template.test_template_matrix import CASES, Rendered, render_case
from wp_lambda.local.s3_uploads import cors_rule
from wp_lambda.runtime.contract import UPLOADS_KEY_PREFIX


@pytest.fixture(scope="module", params=CASES, ids=[c.id for c in CASES])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render_case(request.param, tmp_path_factory.mktemp(request.param.id))


def site_origins(rendered: Rendered) -> list[str]:
    return [f"https://{d}" for d in rendered.config.site.domains] or ["https://*.cloudfront.net"]


def test_the_cors_rule_allows_post_from_the_sites_origins_only(rendered: Rendered) -> None:
    if rendered.config.uploads.bucket:
        assert "UploadsBucket" not in rendered.resources  # an existing bucket: its owner sets CORS
        return
    rules = rendered.resources["UploadsBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert rules == [{"Id": "DirectUploads", "AllowedMethods": ["POST"], "AllowedOrigins": site_origins(rendered),
                      "AllowedHeaders": ["*"], "MaxAge": 3000}]
    # serve puts the same rule on its local bucket (boto3 spells two keys differently).
    local = cors_rule(site_origins(rendered))
    local["Id"], local["MaxAge"] = local.pop("ID"), local.pop("MaxAgeSeconds")
    assert local == rules[0]
    assert "*" not in rules[0]["AllowedOrigins"] and "GET" not in rules[0]["AllowedMethods"]


def test_the_assets_bucket_has_no_cors(rendered: Rendered) -> None:
    assert "CorsConfiguration" not in rendered.resources["AssetsBucket"]["Properties"]


def test_the_uploads_bucket_stays_private(rendered: Rendered) -> None:
    if rendered.config.uploads.bucket:
        return
    bucket = rendered.resources["UploadsBucket"]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "WebsiteConfiguration" not in bucket and "AccessControl" not in bucket
    statements = rendered.resources["UploadsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    # CloudFront reads objects, and may list the bucket only so that a missing upload is a 404.
    assert {s["Action"]: s["Resource"] for s in allows} == {
        "s3:GetObject": {"Fn::Sub": f"${{UploadsBucket.Arn}}/{UPLOADS_KEY_PREFIX}*"},
        "s3:ListBucket": {"Fn::GetAtt": ["UploadsBucket", "Arn"]}}
    for allow in allows:
        assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
        assert "Distribution" in str(allow["Condition"]["StringEquals"]["AWS:SourceArn"])
    for statement in statements:  # nobody else is allowed anything; the rest are denials
        assert statement in allows or statement["Effect"] == "Deny"


def _uploads_origin(rendered: Rendered) -> dict[str, Any]:
    config = rendered.resources["Distribution"]["Properties"]["DistributionConfig"]
    (origin,) = [o for o in config["Origins"] if o["Id"] == "uploads"]
    return origin


def test_cloudfront_reads_uploads_through_origin_access_control_only(rendered: Rendered) -> None:
    origin = _uploads_origin(rendered)
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["OriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI, no public website
    assert "CustomOriginConfig" not in origin


def test_the_function_role_may_write_the_uploads_it_signs_policies_for(rendered: Rendered) -> None:
    """A presigned POST acts with the signer's permissions: the role needs s3:PutObject on the bucket."""
    role = rendered.resources["WordPressFunctionRole"]["Properties"]
    documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
    puts = [s for d in documents for s in d["Statement"]
            if "s3:PutObject" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
    assert puts, "the function cannot write uploads"
    bucket = rendered.config.uploads.bucket or "UploadsBucket"
    assert any(bucket in str(s["Resource"]) for s in puts)
