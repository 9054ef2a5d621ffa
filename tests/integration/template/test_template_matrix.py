"""The rendered SAM template across the config matrix: lint-clean, transformable, and shaped right.

Every assertion reads the CloudFormation the SAM transform produced (what CloudFormation would
deploy), not the Jinja source, so a template that only looks right fails here. The cases cover
every pair of (network mode, database mode, front door, architecture) values that can work
together (Aurora needs a VPC); each also turns on optional features (custom domain, provisioned
concurrency, an existing uploads bucket, ...) so those branches are linted and transformed too.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from wp_lambda import bref_layers, render, validate
from wp_lambda.config import ARCHITECTURES, DATABASE_MODES, FRONT_DOORS, NETWORK_MODES, Config, parse, toml_text

EXTERNAL_DB = {"host": "db.example.com", "user": "wordpress",
               "secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wp-db-AbCdEf"}
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0b1f3c52-8d4e-4a3b-9a57-2f0d1e6c7a10"


@dataclass(frozen=True)
class Case:
    """One config of the matrix: the four dimensions plus extra ``section -> {key: value}`` settings."""

    id: str
    network: str
    database: str
    front_door: str
    arch: str
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)


CASES = [
    Case("public-external-httpapi-x86", "public", "external", "http-api", "x86_64",
         {"database": EXTERNAL_DB, "aws": {"region": "eu-west-1"}, "cron": {"enabled": False}}),
    Case("public-external-url-arm", "public", "external", "function-url", "arm64",
         {"database": EXTERNAL_DB, "function": {"timeout": 120},
          "site": {"domains": ["blog.example.com", "www.example.com"], "certificate_arn": CERTIFICATE},
          "php": {"extensions": []}}),  # Bref's gd layer is x86_64 only
    Case("natgw-aurora-httpapi-arm", "vpc-nat-gateway", "aurora-serverless-v2", "http-api", "arm64",
         {"php": {"version": "8.3", "extensions": []}, "function": {"provisioned_concurrency": 2}}),
    Case("natgw-aurora-url-x86", "vpc-nat-gateway", "aurora-serverless-v2", "function-url", "x86_64",
         {"database": {"min_acu": 0.5, "max_acu": 4.0}, "network": {"vpc_cidr": "10.8.0.0/24"}}),
    Case("natgw-external-httpapi-x86", "vpc-nat-gateway", "external", "http-api", "x86_64",
         {"database": EXTERNAL_DB, "uploads": {"bucket": "my-existing-uploads"}, "php": {"version": "8.4"}}),
    Case("natinst-aurora-url-arm", "vpc-nat-instance", "aurora-serverless-v2", "function-url", "arm64",
         {"php": {"source": "dir", "dir": "php-bin"}}),
    Case("natinst-aurora-httpapi-x86", "vpc-nat-instance", "aurora-serverless-v2", "http-api", "x86_64",
         {"network": {"nat_instance_type": "t3.nano"},
          "assets": {"versioned_max_age": 604800, "default_max_age": 300}}),
    Case("natinst-external-url-x86", "vpc-nat-instance", "external", "function-url", "x86_64",
         {"database": EXTERNAL_DB, "cron": {"schedule": "cron(0/10 * * * ? *)"},
          "function": {"reserved_concurrency": 40}, "cache": {"pages": False}}),
]
# function.reserved_concurrency per case: "auto" with Aurora is the Aurora MySQL max_connections AWS
# publishes for the case's max_acu (90 at 2 ACU, whose row is 1 ACU's; 135 at 4) less 7 (the
# console's 2 and an admin margin of 5); with an external database it is uncapped unless set.
RESERVED = {"natgw-aurora-httpapi-arm": 83, "natgw-aurora-url-x86": 128, "natinst-aurora-url-arm": 83,
            "natinst-aurora-httpapi-x86": 83, "natinst-external-url-x86": 40}


@dataclass
class Rendered:
    """A rendered case: its config, files, lint findings and the transformed CloudFormation."""

    case: Case
    config: Config
    root: Path
    template_text: str
    source: dict[str, Any]
    transformed: dict[str, Any]
    lint_errors: list[str]

    @property
    def resources(self) -> dict[str, Any]:
        return self.transformed["Resources"]

    def of_type(self, kind: str) -> dict[str, Any]:
        return {name: res for name, res in self.resources.items() if res["Type"] == kind}


def case_config(case: Case, root: Path) -> Config:
    """The validated config of ``case``, through the same TOML round trip as a user's file."""
    config = Config(root=root)
    config.network.mode, config.database.mode = case.network, case.database
    config.function.front_door, config.aws.architecture = case.front_door, case.arch
    for section, values in case.extra.items():
        for key, value in values.items():
            setattr(getattr(config, section), key, value)
    (root / "php-bin").mkdir(parents=True, exist_ok=True)
    return parse(toml_text(config), root=root)


def render_case(case: Case, root: Path) -> Rendered:
    config = case_config(case, root)
    (root / "wplambda.toml").write_text(toml_text(config))
    render.render_project(config)
    path = root / "template.yaml"
    return Rendered(
        case=case, config=config, root=root, template_text=path.read_text(),
        source=validate.load_template(path),
        transformed=validate.transform(validate.load_template(path), config.aws.region),
        lint_errors=validate.lint(path, config.aws.region),
    )


@pytest.fixture(scope="module", params=CASES, ids=[c.id for c in CASES])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """Each matrix case rendered into its own project directory (once per test module)."""
    case: Case = request.param
    return render_case(case, tmp_path_factory.mktemp(case.id))


STATIC_PATTERNS = ["/wp-content/uploads/*", "/wp-content/*", "/wp-includes/*", "/wp-admin/css/*",
                   "/wp-admin/js/*", "/wp-admin/images/*"]
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def _dimensions(case: Case) -> tuple[str, str, str, str]:
    return case.network, case.database, case.front_door, case.arch


def test_matrix_covers_every_workable_pair() -> None:
    """Pairwise coverage: every two dimensions' value pairs appear (Aurora only with a VPC)."""
    assert len(CASES) >= 8
    values = [NETWORK_MODES, DATABASE_MODES, FRONT_DOORS, ARCHITECTURES]
    seen = [_dimensions(c) for c in CASES]
    for (i, a), (j, b) in itertools.combinations(enumerate(values), 2):
        for pair in itertools.product(a, b):
            if {pair, pair[::-1]} & {("public", "aurora-serverless-v2")}:
                continue
            assert any((s[i], s[j]) == pair for s in seen), f"no case has {pair}"


def test_lint_has_zero_errors(rendered: Rendered) -> None:
    assert rendered.lint_errors == []


def test_transform_and_kit_rules_pass(rendered: Rendered) -> None:
    assert rendered.of_type("AWS::Lambda::Function")
    assert not [r for r in rendered.resources.values() if r["Type"].startswith("AWS::Serverless::")]
    assert validate.kit_checks(rendered.config, rendered.resources) == []


def test_function_settings_follow_the_config(rendered: Rendered) -> None:
    fn = rendered.resources["WordPressFunction"]["Properties"]
    cfg = rendered.config.function
    assert fn["Runtime"] == "python3.13"
    assert fn["Handler"] == "wp_lambda.runtime.handler.handler"
    assert (fn["MemorySize"], fn["Timeout"]) == (cfg.memory, cfg.timeout)
    assert fn["EphemeralStorage"] == {"Size": cfg.ephemeral_storage}
    assert fn["Architectures"] == [rendered.config.aws.architecture]
    assert fn["Code"]["S3Bucket"] == validate.PLACEHOLDER_BUCKET  # the local zip, swapped for validation
    alias = rendered.resources["WordPressFunctionAliaslive"]["Properties"]
    assert alias["Name"] == "live"
    provisioned = alias.get("ProvisionedConcurrencyConfig")
    if cfg.provisioned_concurrency:
        assert provisioned == {"ProvisionedConcurrentExecutions": cfg.provisioned_concurrency}
    else:
        assert provisioned is None
    assert fn.get("ReservedConcurrentExecutions") == RESERVED.get(rendered.case.id)
    env = fn["Environment"]["Variables"]
    assert env["S3_UPLOADS_REGION"] == {"Ref": "AWS::Region"}
    assets = rendered.config.assets  # static files the function answers are cached like the bucket's
    assert (env["WPLAMBDA_VERSIONED_MAX_AGE"], env["WPLAMBDA_DEFAULT_MAX_AGE"]) == (
        str(assets.versioned_max_age), str(assets.default_max_age))
    assert "WORDPRESS_DB_=" in env["WPLAMBDA_SECRETS"]["Fn::Sub"]
    assert ("WPLAMBDA_SITE_HOST" in env) == bool(rendered.config.site.domains)


def test_vpc_config_exactly_in_vpc_modes(rendered: Rendered) -> None:
    fn = rendered.resources["WordPressFunction"]["Properties"]
    assert ("VpcConfig" in fn) == rendered.config.in_vpc
    assert bool(rendered.of_type("AWS::EC2::VPC")) == rendered.config.in_vpc
    if rendered.config.in_vpc:
        assert fn["VpcConfig"]["SubnetIds"] == [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]
        azs = [rendered.resources[f"PrivateSubnet{x}"]["Properties"]["AvailabilityZone"] for x in "AB"]
        assert azs[0] != azs[1]  # two AZs
        # Four subnets, each a quarter of the VPC (/prefix+2), disjoint, in this order.
        vpc = ipaddress.ip_network(rendered.resources["Vpc"]["Properties"]["CidrBlock"])
        subnets = [ipaddress.ip_network(rendered.resources[name]["Properties"]["CidrBlock"])
                   for name in ("PublicSubnetA", "PublicSubnetB", "PrivateSubnetA", "PrivateSubnetB")]
        assert subnets == list(vpc.subnets(prefixlen_diff=2))
        assert all(net.subnet_of(vpc) and net.prefixlen == vpc.prefixlen + 2 for net in subnets)
        assert len({net.network_address for net in subnets}) == 4
        role = rendered.resources["WordPressFunctionRole"]["Properties"]
        assert any("AWSLambdaVPCAccessExecutionRole" in arn for arn in role["ManagedPolicyArns"])


def test_nat_matches_the_network_mode(rendered: Rendered) -> None:
    mode = rendered.config.network.mode
    assert bool(rendered.of_type("AWS::EC2::NatGateway")) == (mode == "vpc-nat-gateway")
    assert bool(rendered.of_type("AWS::EC2::Instance")) == (mode == "vpc-nat-instance")
    if mode == "vpc-nat-gateway":
        route = rendered.resources["PrivateDefaultRoute"]["Properties"]
        assert route["NatGatewayId"] == {"Ref": "NatGateway"}
    if mode == "vpc-nat-instance":
        assert rendered.resources["NatInterface"]["Properties"]["SourceDestCheck"] is False
        instance = rendered.resources["NatInstance"]["Properties"]
        arch = "arm64" if rendered.config.network.nat_instance_type.startswith("t4g") else "x86_64"
        assert instance["ImageId"] == ("{{resolve:ssm:/aws/service/ami-amazon-linux-latest/"
                                       f"al2023-ami-kernel-default-{arch}}}}}")
        assert instance["MetadataOptions"] == {"HttpTokens": "required"}
        user_data = instance["UserData"]["Fn::Base64"]
        assert "ip_forward = 1" in user_data and "MASQUERADE" in user_data
        route = rendered.resources["PrivateDefaultRoute"]["Properties"]
        assert route["NetworkInterfaceId"] == {"Ref": "NatInterface"}


def test_s3_gateway_endpoint_in_every_vpc_mode(rendered: Rendered) -> None:
    endpoints = rendered.of_type("AWS::EC2::VPCEndpoint")
    assert bool(endpoints) == rendered.config.in_vpc
    if endpoints:
        props = endpoints["S3GatewayEndpoint"]["Properties"]
        assert props["VpcEndpointType"] == "Gateway"
        assert props["ServiceName"] == {"Fn::Sub": "com.amazonaws.${AWS::Region}.s3"}
        assert props["RouteTableIds"] == [{"Ref": "PrivateRouteTable"}]


def test_php_behaviour_comes_before_the_static_ones(rendered: Rendered) -> None:
    dist = rendered.resources["Distribution"]["Properties"]["DistributionConfig"]
    behaviours = dist["CacheBehaviors"]
    patterns = [b["PathPattern"] for b in behaviours]
    assert patterns == ["*.php", *STATIC_PATTERNS]
    php, static = behaviours[0], behaviours[1:]
    for function_behaviour in (php, dist["DefaultCacheBehavior"]):
        assert function_behaviour["TargetOriginId"] == "function"
        # [cache] pages: what WordPress marks public is cached (test_template_page_cache.py).
        pages = {"Ref": "PageCachePolicy"} if rendered.config.cache.pages else CACHING_DISABLED
        assert function_behaviour["CachePolicyId"] == pages
        assert function_behaviour["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST
        assert "POST" in function_behaviour["AllowedMethods"]
        assert function_behaviour["FunctionAssociations"][0]["EventType"] == "viewer-request"
    assert [b["TargetOriginId"] for b in static] == ["uploads"] + ["assets"] * 5
    assert all(b["CachePolicyId"] == {"Ref": "StaticCachePolicy"} for b in static)
    assert all(b["Compress"] for b in behaviours) and dist["DefaultCacheBehavior"]["Compress"]
    cache_key = rendered.resources["StaticCachePolicy"]["Properties"]["CachePolicyConfig"]
    assert cache_key["ParametersInCacheKeyAndForwardedToOrigin"]["QueryStringsConfig"] == {
        "QueryStringBehavior": "whitelist", "QueryStrings": ["ver"]}
    # The app's 404s reach the visitor unchanged: the page cache's CustomErrorResponses set only an
    # error caching TTL (test_template_page_cache.py), never an error page or another code.
    assert all(set(r) == {"ErrorCode", "ErrorCachingMinTTL"} for r in dist.get("CustomErrorResponses", []))


def test_distribution_front_door_and_domains(rendered: Rendered) -> None:
    dist = rendered.resources["Distribution"]["Properties"]["DistributionConfig"]
    function_origin = next(o for o in dist["Origins"] if o["Id"] == "function")
    header = function_origin["OriginCustomHeaders"][0]
    assert header["HeaderName"] == "X-Wplambda-Origin-Secret"
    # Versionless until a rotation names the version (deploy --rotate-origin-secret): a changed
    # reference is what makes CloudFormation resolve it again.
    assert header["HeaderValue"] == {"Fn::If": [
        "OriginSecretVersionPinned",
        {"Fn::Sub": "{{resolve:secretsmanager:${OriginSecret}:SecretString:::${OriginSecretVersion}}}"},
        {"Fn::Sub": "{{resolve:secretsmanager:${OriginSecret}:SecretString}}"}]}
    assert rendered.transformed["Parameters"]["OriginSecretVersion"]["Default"] == ""
    assert rendered.transformed["Conditions"]["OriginSecretVersionPinned"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "OriginSecretVersion"}, ""]}]}
    http_api = rendered.config.function.front_door == "http-api"
    assert ("HttpApi" in rendered.resources) == http_api
    assert ("FunctionUrl" in rendered.resources) == (not http_api)
    assert ("HttpApi" in json.dumps(function_origin["DomainName"])) == http_api
    if not http_api:
        assert rendered.resources["FunctionUrl"]["Properties"]["Qualifier"] == "live"
    domains = rendered.config.site.domains
    assert dist.get("Aliases", []) == domains
    if domains:
        assert dist["ViewerCertificate"]["AcmCertificateArn"] == rendered.config.site.certificate_arn
    else:
        assert dist["ViewerCertificate"] == {"CloudFrontDefaultCertificate": True}


def test_buckets_are_not_public(rendered: Rendered) -> None:
    buckets = rendered.of_type("AWS::S3::Bucket")
    assert set(buckets) == ({"AssetsBucket"} if rendered.config.uploads.bucket else {"AssetsBucket", "UploadsBucket"})
    for bucket in buckets.values():
        block = bucket["Properties"]["PublicAccessBlockConfiguration"]
        assert set(block.values()) == {True} and len(block) == 4
        assert bucket["Properties"]["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    if "UploadsBucket" in buckets:
        # Kept when the stack is deleted, but not left behind when the first create rolls back.
        uploads = buckets["UploadsBucket"]
        assert (uploads["DeletionPolicy"], uploads["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
    policies = rendered.of_type("AWS::S3::BucketPolicy")
    assert len(policies) == len(buckets)
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        allows = [s for s in statements if s["Effect"] == "Allow"]
        assert allows and all(s["Principal"] == {"Service": "cloudfront.amazonaws.com"} for s in allows)
        for allow in allows:
            source = allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
            assert source.endswith(":distribution/${Distribution}")
        # Reading objects, and listing the bucket itself so that a missing key is S3's 404, not
        # AccessDenied (issue 23, item 8); nothing else.
        assert sorted(s["Action"] for s in allows) == ["s3:GetObject", "s3:ListBucket"]
        (listing,) = (s for s in allows if s["Action"] == "s3:ListBucket")
        assert listing["Resource"] == {"Fn::GetAtt": [policy["Properties"]["Bucket"]["Ref"], "Arn"]}
    oac = rendered.resources["OriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"]) == ("s3", "always")


def test_aurora_only_when_chosen(rendered: Rendered) -> None:
    aurora = rendered.config.database.mode == "aurora-serverless-v2"
    clusters = rendered.of_type("AWS::RDS::DBCluster")
    assert bool(clusters) == aurora
    assert ("DatabaseSecret" in rendered.resources) == aurora
    if not aurora:
        return
    cluster = clusters["DatabaseCluster"]
    assert cluster["DeletionPolicy"] == "Snapshot"
    scaling = cluster["Properties"]["ServerlessV2ScalingConfiguration"]
    assert scaling["MinCapacity"] == rendered.config.database.min_acu
    assert ("SecondsUntilAutoPause" in scaling) == (rendered.config.database.min_acu == 0)
    attachment = rendered.of_type("AWS::SecretsManager::SecretTargetAttachment")["DatabaseSecretAttachment"]
    assert attachment["Properties"]["TargetId"] == {"Ref": "DatabaseCluster"}
    ingress = rendered.resources["DatabaseSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert ingress == [{"IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306,
                        "SourceSecurityGroupId": {"Ref": "FunctionSecurityGroup"},
                        "Description": "WordPress function"}]


def test_php_layer_matches_source_arch_and_region(rendered: Rendered) -> None:
    layers = rendered.resources["WordPressFunction"]["Properties"]["Layers"]
    arns = [layer for layer in layers if isinstance(layer, str)]
    cfg = rendered.config
    if cfg.php.source == "dir":
        assert arns == []
        return
    arn, *extensions = arns
    assert len(extensions) == len(cfg.php.extensions)  # checked one by one in test_template_layers.py
    expected = bref_layers.layer_name(cfg.php.version, cfg.aws.architecture)
    assert re.fullmatch(rf"arn:aws:lambda:{cfg.aws.region}:{bref_layers.base_account()}:layer:{expected}:\d+", arn)
    assert arn.split(":layer:")[1].startswith("arm-") == (cfg.aws.architecture == "arm64")
    assert arn in {row[3] for row in bref_layers.table()}  # an entry of Bref's published layers.json


def test_cron_and_logs(rendered: Rendered) -> None:
    """wp-cron runs on the console function (its own timeout, none of the site's warm instances),
    and a failed run is not repeated: neither EventBridge nor Lambda's asynchronous queue retries."""
    rules = rendered.of_type("AWS::Events::Rule")
    assert bool(rules) == rendered.config.cron.enabled
    for rule in rules.values():
        (target,) = rule["Properties"]["Targets"]
        assert json.loads(target["Input"]) == {"wplambda": "cron"}
        assert target["Arn"] == {"Fn::GetAtt": ["ConsoleFunction", "Arn"]}
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 0}
        assert rule["Properties"]["ScheduleExpression"] == rendered.config.cron.schedule
    invoke_configs = rendered.of_type("AWS::Lambda::EventInvokeConfig")
    assert [(c["Properties"]["FunctionName"], c["Properties"]["MaximumRetryAttempts"])
            for c in invoke_configs.values()] == ([({"Ref": "ConsoleFunction"}, 0)] if rules else [])
    permissions = [p["Properties"]["FunctionName"] for p in rendered.of_type("AWS::Lambda::Permission").values()
                   if p["Properties"]["Principal"] == "events.amazonaws.com"]
    assert permissions == ([{"Ref": "ConsoleFunction"}] if rules else [])
    console = rendered.resources["ConsoleFunction"]["Properties"]
    assert console["Timeout"] == rendered.config.console.timeout
    group = rendered.resources["LogGroup"]["Properties"]
    assert group["RetentionInDays"] == rendered.config.logs.retention_days
    logging = rendered.resources["WordPressFunction"]["Properties"]["LoggingConfig"]
    assert logging["LogGroup"] == {"Ref": "LogGroup"}


def test_access_logs_reach_the_log_group(rendered: Rendered) -> None:
    """HTTP API access logs: the stack's log group (its retention), one JSON object per request with
    the marker `logs --access` looks for, and nothing private in the format. A Function URL has no
    access log of its own (nothing to configure: docs/guides/security.md says what is logged)."""
    if rendered.config.function.front_door != "http-api":
        assert "AccessLogSettings" not in json.dumps(rendered.resources)
        return
    settings = rendered.source["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]
    assert settings["DestinationArn"] == {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
                                                     ":log-group:${LogGroup}"}
    fields = json.loads(settings["Format"])
    assert fields["log"] == "wplambda-access" and fields["requestId"] == "$context.requestId"
    assert {"method", "path", "status", "ip", "time"} <= set(fields)
    variables = " ".join(fields.values()).lower()
    for private in ("querystring", "authorization", "cookie", "header", "$request"):
        assert private not in variables, private
    # After the SAM transform the $default stage carries it (what CloudFormation receives).
    stage = next(r for r in rendered.transformed["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Stage")
    assert stage["Properties"]["AccessLogSettings"] == settings


def test_contract_logical_ids_and_outputs(rendered: Rendered) -> None:
    """docs/internals.md: deploy finds resources and outputs by these names."""
    always = {"WordPressFunction", "ConsoleFunction", "AssetsBucket", "Distribution", "SaltSecret", "OriginSecret"}
    assert always <= set(rendered.resources)
    assert any(name.startswith("RuntimeLayer") for name in rendered.of_type("AWS::Lambda::LayerVersion"))
    vpc_ids = {"Vpc", "S3GatewayEndpoint"}
    assert (vpc_ids <= set(rendered.resources)) == rendered.config.in_vpc
    assert set(rendered.transformed["Outputs"]) == {
        "SiteUrl", "AdminUrl", "DistributionId", "DistributionDomain", "AssetsBucketName",
        "UploadsBucketName", "FunctionName", "FunctionAlias", "ConsoleFunctionName",
        "DatabaseEndpoint", "OriginSecretArn"}


def test_no_secret_in_plain_text(rendered: Rendered) -> None:
    assert validate.secret_findings(rendered.resources) == []
    for res in rendered.of_type("AWS::SecretsManager::Secret").values():
        assert "GenerateSecretString" in res["Properties"]
    wp_config = (rendered.root / "wordpress" / "wp-config.php").read_text()
    for constant in ("DB_PASSWORD", "AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY",
                     "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"):
        assert not re.search(rf"define\(\s*'{constant}'\s*,\s*'[^']", wp_config), constant
    assert not re.search(r"(?i)(password|salt)\s*[:=]\s*['\"]?[A-Za-z0-9+/]{12,}", rendered.template_text)


def test_wp_config_passes_php_lint(rendered: Rendered) -> None:
    php = shutil.which("php")
    assert php, "php-cli is missing: run `make setup`"
    result = subprocess.run([php, "-l", str(rendered.root / "wordpress" / "wp-config.php")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_emulator_skip_list_is_what_moto_does_not_implement(rendered: Rendered) -> None:
    """wp_lambda.deploy.emulator.SKIPPED_TYPES: every type moto's CloudFormation lacks, nothing it has."""
    from moto.cloudformation.parsing import get_model_map

    from wp_lambda.deploy.emulator import SKIPPED_TYPES

    implemented = set(get_model_map())
    used = {res["Type"] for res in rendered.transformed["Resources"].values()}
    assert used - implemented <= SKIPPED_TYPES
    assert not SKIPPED_TYPES & implemented
