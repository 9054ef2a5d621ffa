"""The functions' S3 permissions: objects under the uploads prefix, listing limited to it, nothing else.

Issue 22 found SAM's S3CrudPolicy on the uploads bucket: it covers the whole bucket and grants
s3:PutLifecycleConfiguration, so PHP that a plugin bug lets an attacker run could add a rule that
expires every upload and its 30-day noncurrent versions. Each case is rendered, linted with
cfn-lint and expanded by the SAM translator (as the matrix is); the assertions read the IAM role
each function really runs with in the expanded CloudFormation, so a policy template SAM expands
behind the kit's back would show up here.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from tests.integration.template.test_template_matrix import CASES, EXTERNAL_DB, Case, Rendered, render_case
from wp_lambda.dbio import staging
from wp_lambda.render import DEFAULT_OBJECT_ACL
from wp_lambda.runtime.contract import UPLOADS_KEY_PREFIX

EXISTING = next(c for c in CASES if "bucket" in c.extra.get("uploads", {}))
IAM_CASES = [
    *CASES,
    # An existing bucket that still uses ACLs: S3 Uploads' private attachments call PutObjectAcl.
    replace(EXISTING, id="existing-bucket-with-acls",
            extra={**EXISTING.extra, "uploads": {"bucket": "my-existing-uploads", "object_acl": "private"}}),
    Case("natinst-external-url-arm-efs", "vpc-nat-instance", "external", "function-url", "arm64",
         {"storage": {"mode": "efs"}, "database": EXTERNAL_DB, "php": {"extensions": []}}),
]
FUNCTIONS = ("WordPressFunction", "ConsoleFunction")
OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
# Managed policies SAM attaches (logs; ENIs in a VPC): neither grants anything in S3.
MANAGED = {"AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole"}


@pytest.fixture(scope="module", params=IAM_CASES, ids=[c.id for c in IAM_CASES])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render_case(request.param, tmp_path_factory.mktemp(request.param.id))


def _role(rendered: Rendered, function: str) -> dict[str, Any]:
    """The role resource ``function`` runs with, followed from its ``Role: !GetAtt X.Arn``."""
    role = rendered.resources[function]["Properties"]["Role"]
    name, attribute = role["Fn::GetAtt"]
    assert attribute == "Arn"
    found: dict[str, Any] = rendered.resources[name]
    assert found["Type"] == "AWS::IAM::Role"
    return found["Properties"]


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def _s3_statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in _statements(role) if any(a.startswith("s3:") or a == "*" for a in _actions(s))]


def _bucket(rendered: Rendered) -> Any:
    """How the template names the uploads bucket: the stack's own, or the configured one."""
    return rendered.config.uploads.bucket or {"Ref": "UploadsBucket"}


def test_lint_has_zero_errors(rendered: Rendered) -> None:
    assert rendered.lint_errors == []


def test_both_functions_run_with_the_one_least_privilege_role(rendered: Rendered) -> None:
    """The console (wp-cli, export, import) needs exactly what the site does in S3: wp-cli loads S3
    Uploads, and export/import touch the artifact bucket only through URLs the CLI presigns."""
    site, console = (_role(rendered, f) for f in FUNCTIONS)
    assert site is console


@pytest.mark.parametrize("function", FUNCTIONS)
def test_s3_is_exactly_the_uploads_prefix(rendered: Rendered, function: str) -> None:
    role = _role(rendered, function)
    objects = {"Fn::Sub": [f"arn:${{AWS::Partition}}:s3:::${{Bucket}}/{UPLOADS_KEY_PREFIX}*",
                           {"Bucket": _bucket(rendered)}]}
    acl: dict[str, Any] = {"Sid": "UploadsObjectAcl", "Effect": "Allow", "Action": "s3:PutObjectAcl",
                           "Resource": objects}
    if not rendered.config.uploads.object_acl:
        # S3 Uploads sends wp-config.php's ACL with every PUT, which needs PutObjectAcl: only that one.
        acl["Condition"] = {"StringEquals": {"s3:x-amz-acl": DEFAULT_OBJECT_ACL}}
        assert f"define('S3_UPLOADS_OBJECT_ACL', '{DEFAULT_OBJECT_ACL}');" in (
            rendered.root / "wordpress" / "wp-config.php").read_text()
    assert _s3_statements(role) == [
        {"Sid": "UploadsObjects", "Effect": "Allow", "Action": OBJECT_ACTIONS, "Resource": objects},
        acl,
        {"Sid": "UploadsListing", "Effect": "Allow", "Action": "s3:ListBucket",
         "Resource": {"Fn::Sub": ["arn:${AWS::Partition}:s3:::${Bucket}", {"Bucket": _bucket(rendered)}]},
         "Condition": {"StringLike": {"s3:prefix": f"{UPLOADS_KEY_PREFIX}*"}}},
    ]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_wildcard_lifecycle_or_bucket_level_write(rendered: Rendered, function: str) -> None:
    role = _role(rendered, function)
    actions = [a for s in _s3_statements(role) for a in _actions(s)]
    assert actions and not [a for a in actions if "*" in a]
    # Every bucket-level action (lifecycle, policy, CORS, versioning...) names the bucket: only the
    # read-only ListBucket may.
    assert not [a for a in actions if "Lifecycle" in a or ("Bucket" in a and a != "s3:ListBucket")]
    assert "s3:DeleteObjectVersion" not in actions  # the 30-day noncurrent versions stay out of reach
    for statement in _s3_statements(role):
        assert statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement
        arn = statement["Resource"]["Fn::Sub"][0]
        if statement["Action"] == "s3:ListBucket":  # on the bucket, so only with the prefix condition
            assert arn.endswith(":::${Bucket}") and statement["Condition"]["StringLike"]["s3:prefix"] != "*"
        elif statement["Action"] == "s3:PutObjectAcl" and not rendered.config.uploads.object_acl:
            assert statement["Condition"] == {"StringEquals": {"s3:x-amz-acl": DEFAULT_OBJECT_ACL}}
            assert arn.endswith(f"/{UPLOADS_KEY_PREFIX}*")
        else:
            assert arn.endswith(f"/{UPLOADS_KEY_PREFIX}*")
    managed = [arn.rsplit("/", 1)[1] for arn in role.get("ManagedPolicyArns", [])]
    assert set(managed) <= MANAGED


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_artifact_bucket_or_staging_prefix(rendered: Rendered, function: str) -> None:
    """Dumps reach the console function by presigned URL (the CLI's own signature)."""
    text = json.dumps(_role(rendered, function))
    assert "wplambda-artifacts" not in text and staging.PREFIX not in text
    assert "S3CrudPolicy" not in rendered.template_text


def test_any_object_acl_only_for_a_bucket_with_acls(rendered: Rendered) -> None:
    unconditioned = [s for s in _s3_statements(_role(rendered, "WordPressFunction"))
                     if "s3:PutObjectAcl" in _actions(s) and "Condition" not in s]
    assert bool(unconditioned) == bool(rendered.config.uploads.object_acl)


def test_the_prefix_is_the_one_cloudfront_serves_and_s3_uploads_writes(rendered: Rendered) -> None:
    """One prefix for the role, CloudFront's read and S3 Uploads' bucket path (S3_UPLOADS_BUCKET)."""
    variables = rendered.resources["WordPressFunction"]["Properties"]["Environment"]["Variables"]
    bucket_path = variables["S3_UPLOADS_BUCKET"]["Fn::Sub"][0]
    assert bucket_path.split("/", 1)[1] + "/uploads/" == UPLOADS_KEY_PREFIX
    if not rendered.config.uploads.bucket:
        policy = rendered.resources["UploadsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
        assert policy["Resource"]["Fn::Sub"].endswith(f"/{UPLOADS_KEY_PREFIX}*")
