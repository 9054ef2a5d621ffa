"""wp_lambda.deploy.waf.remove where us-east-1 is out of the credentials' reach.

A site that never turned security.waf on still looks for a left-over companion stack after each
deploy; an organization's region policy may deny it DescribeStacks in us-east-1. moto cannot answer
AccessDenied for one region only, so botocore's Stubber stands in for CloudFormation here.
"""

from __future__ import annotations

import boto3
from botocore.stub import Stubber

from wp_lambda.aws import Aws
from wp_lambda.deploy import waf


def test_a_denied_look_in_us_east_1_is_said_and_deletes_nothing() -> None:
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    aws = Aws(session=session, region="us-east-1", profile=None)
    with Stubber(aws.client("cloudformation")) as stub:
        stub.add_client_error("describe_stacks", service_error_code="AccessDenied", http_status_code=403,
                              expected_params={"StackName": "blog-waf"})
        said: list[str] = []
        assert waf.remove(aws, "blog", said.append) is False
        stub.assert_no_pending_responses()
    assert said == ["not checked for a WAF stack blog-waf in us-east-1 (AccessDenied); if one is left from "
                    "security.waf, delete it there"]


def test_a_stack_of_that_name_without_the_owner_tag_is_not_deleted() -> None:
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    aws = Aws(session=session, region="us-east-1", profile=None)
    with Stubber(aws.client("cloudformation")) as stub:
        stub.add_response("describe_stacks", {"Stacks": [{
            "StackName": "blog-waf", "StackStatus": "CREATE_COMPLETE", "CreationTime": "2026-12-07T10:00:00Z",
            "Tags": [{"Key": waf.OWNER_TAG, "Value": "another-site"}]}]}, {"StackName": "blog-waf"})
        assert waf.remove(aws, "blog", print) is False  # no DeleteStack was stubbed: none may be sent
        stub.assert_no_pending_responses()
