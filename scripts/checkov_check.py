"""checkov on every shape of the stack (``make checkov``; CI runs it through a test).

The kit's template has a few shapes: three network modes, two front doors, with and without a
custom domain, EFS and the optional WAF. Each variant below is rendered from a config, run through
the pinned SAM translator (what CloudFormation deploys, IAM roles and API stages included), and all
of them are scanned by one offline checkov run (``--skip-download``: no Prisma Cloud, no network).

A failed check is fine only when ``scripts/checkov_tradeoffs.toml`` lists it, for that resource, with
the reason it is a deliberate trade-off; the security guide renders that file as its table. The script
fails (exit 1) on a finding nobody decided about, and on a listed trade-off that no variant fails any
more (a fixed finding must leave the list, so the docs never excuse what is not there).

Usage: ``python scripts/checkov_check.py [--json] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from wp_lambda import render, validate  # noqa: E402
from wp_lambda.config import Config, parse, toml_text  # noqa: E402

CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
TRADEOFFS = REPO / "scripts" / "checkov_tradeoffs.toml"
EXTERNAL_DB = {"mode": "external", "host": "db.example.com", "user": "wordpress",
               "secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:wp-db-AbCdEf"}
DOMAIN = {"domains": ["blog.example.com"],
          "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/0b1f3c52-8d4e-4a3b-9a57-2f0d1e6c7a10"}


@dataclass(frozen=True)
class Variant:
    """One shape of the stack: a name and the ``section -> {key: value}`` settings that make it."""

    name: str
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)


BASE_VARIANTS = [
    Variant("public-httpapi", {"network": {"mode": "public"}, "database": EXTERNAL_DB}),
    Variant("public-url-domain", {"network": {"mode": "public"}, "database": EXTERNAL_DB,
                                  "function": {"front_door": "function-url"}, "site": DOMAIN}),
    Variant("natgw-httpapi", {"network": {"mode": "vpc-nat-gateway"}}),
    Variant("natgw-url-efs", {"network": {"mode": "vpc-nat-gateway"}, "function": {"front_door": "function-url"},
                              "storage": {"mode": "efs"}}),
    Variant("natinst-httpapi", {"network": {"mode": "vpc-nat-instance"}}),
    Variant("natinst-url-external", {"network": {"mode": "vpc-nat-instance"}, "database": EXTERNAL_DB,
                                     "function": {"front_door": "function-url"}}),
]


def variants() -> list[Variant]:
    """Every base shape, as it is by default (no WAF)."""
    return list(BASE_VARIANTS)


@dataclass(frozen=True)
class Finding:
    check: str
    title: str
    resource: str  # the logical id, e.g. "WordPressFunction"
    variant: str


def render_variant(variant: Variant, root: Path) -> Path:
    """The transformed CloudFormation of ``variant``, written as ``<root>/<name>.json``."""
    project = root / "projects" / variant.name
    project.mkdir(parents=True)
    config = Config(root=project)
    for section, values in variant.settings.items():
        for key, value in values.items():
            setattr(getattr(config, section), key, value)
    config = parse(toml_text(config), root=project)
    source = project / "template.yaml"
    source.write_text(render.render_text("template.yaml.j2", config))
    transformed = validate.transform(validate.load_template(source), config.aws.region)
    out = root / "scan" / f"{variant.name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(transformed, indent=1, default=str))
    return out


def scan(directory: Path) -> list[Finding]:
    """One offline checkov run over every rendered variant; its failed checks."""
    if not CHECKOV.exists():
        raise SystemExit(f"checkov_check: {CHECKOV} is missing; run `make setup` (scripts/setup.sh installs it)")
    run = subprocess.run([str(CHECKOV), "--skip-download", "--quiet", "--framework", "cloudformation",
                          "-d", str(directory), "-o", "json"], capture_output=True, text=True)
    # checkov exits 1 when a check fails; anything else without JSON is checkov itself failing.
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"checkov_check: checkov exited {run.returncode} without a report:\n"
                         f"{run.stderr[-2000:]}") from None
    reports = report if isinstance(report, list) else [report]
    findings = []
    for part in reports:
        for failed in part.get("results", {}).get("failed_checks", []):
            findings.append(Finding(check=failed["check_id"], title=failed["check_name"],
                                    resource=failed["resource"].split(".", 1)[-1],
                                    variant=Path(failed["file_path"]).stem))
    return findings


def load_tradeoffs(path: Path = TRADEOFFS) -> dict[str, dict[str, Any]]:
    """``check id -> {title, resources, reason}`` as listed in the trade-offs file."""
    with path.open("rb") as fh:
        return tomllib.load(fh)


def judge(findings: list[Finding], tradeoffs: dict[str, dict[str, Any]]) -> tuple[list[Finding], list[str]]:
    """The findings no trade-off covers, and the listed (check, resource) pairs no variant fails."""
    undecided = [f for f in findings if f.resource not in tradeoffs.get(f.check, {}).get("resources", [])]
    failing = {(f.check, f.resource) for f in findings}
    stale = [f"{check} {resource}" for check, entry in tradeoffs.items() for resource in entry["resources"]
             if (check, resource) not in failing]
    return undecided, stale


def main(argv: list[str] | None = None) -> int:
    # The SAM translator warns at exit about usage metrics it never publishes offline: noise here.
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the findings and the verdict as JSON")
    parser.add_argument("--keep", type=Path, help="render into this (new) directory and keep it")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="wplambda-checkov-") as tmp:
        root = args.keep or Path(tmp)
        for variant in variants():
            render_variant(variant, root)
        findings = scan(root / "scan")
    tradeoffs = load_tradeoffs()
    undecided, stale = judge(findings, tradeoffs)
    if args.json:
        print(json.dumps({"variants": [v.name for v in variants()],
                          "findings": [f.__dict__ for f in findings],
                          "undecided": [f.__dict__ for f in undecided], "stale": stale}, indent=2))
    else:
        by_check: dict[str, set[str]] = {}
        for f in findings:
            by_check.setdefault(f.check, set()).add(f.resource)
        print(f"checkov {len(variants())} variants: {len(findings)} failed checks, "
              f"{len(by_check)} distinct, {len(undecided)} undecided, {len(stale)} stale trade-offs")
        for f in sorted(set((f.check, f.resource, f.title) for f in undecided)):
            variants_failing = sorted({g.variant for g in undecided if (g.check, g.resource) == f[:2]})
            print(f"  UNDECIDED {f[0]} {f[1]}: {f[2]} ({', '.join(variants_failing)}); fix it or list it "
                  f"in {TRADEOFFS.relative_to(REPO)} with the reason")
        for entry in stale:
            print(f"  STALE {entry}: no variant fails it any more; remove it from {TRADEOFFS.relative_to(REPO)}")
    return 1 if undecided or stale else 0


if __name__ == "__main__":
    sys.exit(main())
