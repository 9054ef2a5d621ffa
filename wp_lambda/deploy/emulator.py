"""The one deploy step that differs against an emulator: :func:`adapt` rewrites the plan's template.

Applied only when the kit talks to an endpoint that is not AWS (``AWS_ENDPOINT_URL`` set to
something else than ``*.amazonaws.com``), such as the moto server the tests deploy to; on AWS the
template goes out exactly as the plan made it. Everything else (the plan, the uploads, the
request, the waiting, the failure report) is the same code against both.

moto's CloudFormation skips the resource types it does not implement (``SKIPPED_TYPES``): it
creates nothing for them, a ``Ref`` to one resolves to nothing and the property holding it
disappears, and a ``Fn::GetAtt`` on one is an internal error (HTTP 500) that takes the whole
stack down, at create time for a bare ``Fn::GetAtt`` output and at every ``describe_stacks`` for
one inside ``Fn::Sub``. So that what moto implements still gets created and described, four
narrowly scoped adaptations, each reported to the user (and one more below):

- a reference to a Lambda alias (SAM's ``AutoPublishAlias``; moto has no alias resource) becomes
  the ARN of the alias's function, which is what the alias points at anyway; otherwise the
  permissions that invoke the alias lose their required target and moto fails;
- an Aurora DB instance gets its cluster's ``EngineVersion`` (AWS takes the version from the
  cluster; moto, without clusters, looks the engine up in a table without ``aurora-mysql``);
- an output that is the ARN of a skipped web ACL (security.waf's companion stack; moto has no
  ``AWS::WAFv2::WebACL`` resource) becomes a stand-in ARN of the shape WAF gives a CloudFront web
  ACL, so the deploy can hand it to the site's stack as AWS would hand it the real one;
- outputs that read an attribute of a skipped resource are left out (moto cannot evaluate them;
  the kit finds its resources by logical id, so nothing depends on them);
- a resource's ``${Distribution.DomainName}`` (the console function's WP_HOME, issue 23 item 4)
  becomes a stand-in name under the reserved ``.invalid`` domain (``STAND_IN_ATTRIBUTES``): moto
  creates no distribution, and the function must still be created with the variable in place.

``DeletionPolicy: RetainExceptOnCreate`` (the uploads bucket, EFS) becomes ``Retain``: moto keeps a
resource on a stack delete only when its policy is exactly ``Retain``, and would delete the media
that AWS keeps. A rollback of the first create, the one case where the two differ, is not emulated.

No resource is dropped: what moto skips, moto skips.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

# Resource types in the kit's transformed templates that moto's CloudFormation does not implement.
# tests/integration/deploy checks this against moto's own model map, so it cannot silently go stale.
SKIPPED_TYPES = frozenset({
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Stage",
    "AWS::CloudFront::CachePolicy",
    "AWS::CloudFront::Distribution",
    "AWS::CloudFront::Function",
    "AWS::CloudFront::OriginAccessControl",
    "AWS::CloudFront::ResponseHeadersPolicy",
    "AWS::EC2::EIPAssociation",
    "AWS::Lambda::Alias",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::Lambda::Url",
    "AWS::RDS::DBCluster",
    "AWS::S3::BucketPolicy",
    "AWS::Scheduler::Schedule",
    "AWS::SecretsManager::Secret",
    "AWS::SecretsManager::SecretTargetAttachment",
    "AWS::WAFv2::WebACL",
})
# Outputs ``Fn::GetAtt [X, Arn]`` of a skipped X of these types get this stand-in (moto resolves the
# pseudo parameters); the shape is a CLOUDFRONT web ACL's, arn:aws:wafv2:us-east-1:ACCOUNT:global/webacl/NAME/ID.
STAND_IN_ARNS = {
    "AWS::WAFv2::WebACL": "arn:${AWS::Partition}:wafv2:${AWS::Region}:${AWS::AccountId}:global/webacl/"
                          "${AWS::StackName}/emulated",
}

# ``${X.Attribute}`` inside a resource's Fn::Sub, X skipped and of this type, becomes this text.
STAND_IN_ATTRIBUTES = {
    ("AWS::CloudFront::Distribution", "DomainName"): "${AWS::StackName}.distribution.invalid",
}

_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


@dataclass
class Adapted:
    """The template for the emulator and one line per adaptation made, for the user to read."""

    template: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def is_emulated(endpoint_url: str | None) -> bool:
    """True when the kit talks to something else than AWS."""
    return bool(endpoint_url) and not str(endpoint_url).rstrip("/").endswith(".amazonaws.com")


def _alias_functions(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Alias logical id -> ``Fn::GetAtt`` of the ARN of the function it belongs to."""
    out: dict[str, dict[str, Any]] = {}
    for name, res in resources.items():
        target = res.get("Properties", {}).get("FunctionName")
        if res.get("Type") == "AWS::Lambda::Alias" and isinstance(target, dict) and "Ref" in target:
            out[name] = {"Fn::GetAtt": [target["Ref"], "Arn"]}
    return out


def _replace_alias_refs(node: Any, aliases: dict[str, dict[str, Any]]) -> Any:
    if isinstance(node, list):
        return [_replace_alias_refs(item, aliases) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and node["Ref"] in aliases:
        return copy.deepcopy(aliases[node["Ref"]])
    if "Fn::Sub" in node:
        sub = node["Fn::Sub"]
        text, variables = (sub, None) if isinstance(sub, str) else (sub[0], sub[1])

        def arn_of(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in aliases or (variables and name in variables):
                return match.group(0)
            function = aliases[name]["Fn::GetAtt"][0]
            return "${" + function + ".Arn}"

        text = _SUB_VARIABLE.sub(arn_of, text)
        return {"Fn::Sub": text if variables is None else [text, _replace_alias_refs(variables, aliases)]}
    return {key: _replace_alias_refs(value, aliases) for key, value in node.items()}


def _stand_in_attributes(node: Any, stand_ins: dict[str, str]) -> Any:
    """``node`` with each ``${Name.Attribute}`` of ``stand_ins`` in an Fn::Sub replaced by its text."""
    if isinstance(node, list):
        return [_stand_in_attributes(item, stand_ins) for item in node]
    if not isinstance(node, dict):
        return node
    if isinstance(node.get("Fn::Sub"), str):
        return {"Fn::Sub": _SUB_VARIABLE.sub(lambda m: stand_ins.get(m.group(1), m.group(0)), node["Fn::Sub"])}
    return {key: _stand_in_attributes(value, stand_ins) for key, value in node.items()}


def _reads_attribute_of(node: Any, skipped: set[str]) -> bool:
    """Whether ``node`` takes an attribute (``Fn::GetAtt`` or ``${Name.Attr}``) of a skipped resource."""
    if isinstance(node, list):
        return any(_reads_attribute_of(item, skipped) for item in node)
    if not isinstance(node, dict):
        return False
    if "Fn::GetAtt" in node:
        target = node["Fn::GetAtt"]
        name = target[0] if isinstance(target, list) else str(target).split(".")[0]
        if name in skipped:
            return True
    if "Fn::Sub" in node:
        sub = node["Fn::Sub"]
        text = sub if isinstance(sub, str) else sub[0]
        if any("." in var and var.split(".")[0] in skipped for var in _SUB_VARIABLE.findall(text)):
            return True
    return any(_reads_attribute_of(value, skipped) for value in node.values())


def adapt(template: dict[str, Any]) -> Adapted:
    """The transformed ``template`` adapted to moto's CloudFormation (see the module docstring)."""
    out = copy.deepcopy(template)
    resources: dict[str, Any] = out.get("Resources", {})
    notes: list[str] = []

    aliases = _alias_functions(resources)
    if aliases:
        out["Resources"] = resources = {name: res if name in aliases else _replace_alias_refs(res, aliases)
                                        for name, res in resources.items()}
        if "Outputs" in out:
            out["Outputs"] = _replace_alias_refs(out["Outputs"], aliases)
        notes.append(f"references to the alias {', '.join(sorted(aliases))} point at its function")

    for name, res in resources.items():
        props = res.get("Properties", {})
        cluster_ref = props.get("DBClusterIdentifier")
        if res.get("Type") != "AWS::RDS::DBInstance" or "EngineVersion" in props or not isinstance(cluster_ref, dict):
            continue
        cluster = resources.get(cluster_ref.get("Ref", ""), {})
        version = cluster.get("Properties", {}).get("EngineVersion")
        if cluster.get("Type") == "AWS::RDS::DBCluster" and version:
            props["EngineVersion"] = version
            shown = version if isinstance(version, str) else f"(the parameter {version.get('Ref', version)})"
            notes.append(f"{name} states its cluster's engine version {shown}")

    for key, output in out.get("Outputs", {}).items():
        target = output.get("Value", {}).get("Fn::GetAtt") if isinstance(output.get("Value"), dict) else None
        kind = resources.get(target[0], {}).get("Type") if isinstance(target, list) and target[1:] == ["Arn"] else None
        if kind in STAND_IN_ARNS:
            output["Value"] = {"Fn::Sub": STAND_IN_ARNS[kind]}
            notes.append(f"output {key} is a stand-in ARN: the emulator does not create {kind}")

    kept = sorted(name for name, res in resources.items() if res.get("DeletionPolicy") == "RetainExceptOnCreate")
    for name in kept:
        resources[name]["DeletionPolicy"] = "Retain"
    if kept:
        notes.append(f"DeletionPolicy RetainExceptOnCreate is Retain for {', '.join(kept)} "
                     f"(moto keeps only Retain on a stack delete)")

    stand_ins = {f"{name}.{attribute}": text for name, res in resources.items()
                 for (kind, attribute), text in STAND_IN_ATTRIBUTES.items() if res.get("Type") == kind}
    for name, res in resources.items():
        if "Properties" in res:
            properties = _stand_in_attributes(res["Properties"], stand_ins)
            if properties != res["Properties"]:
                res["Properties"] = properties
                notes.append(f"{name} reads a stand-in for {', '.join(sorted(stand_ins))}: the emulator "
                             f"creates no distribution")

    skipped = {name for name, res in resources.items() if res.get("Type") in SKIPPED_TYPES}
    dropped = [key for key, output in out.get("Outputs", {}).items() if _reads_attribute_of(output, skipped)]
    for key in dropped:
        del out["Outputs"][key]
    if dropped:
        notes.append(f"outputs left out (they read attributes of resources the emulator does not create): "
                     f"{', '.join(dropped)}")
    return Adapted(out, notes)
