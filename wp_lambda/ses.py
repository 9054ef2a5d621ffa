"""What Amazon SES says about the site's mail: whether its From address may send, and the account's sandbox.

Read by the deploy preflight and ``doctor --aws`` (as warnings: a new site is often deployed before
its domain is verified or production access is granted) and by ``wplambda mail verify``. Only SES
API v2 reads: ``GetEmailIdentity`` for the address and its domains, ``GetAccount`` for the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from wp_lambda.aws import error_code
from wp_lambda.config import Config

# https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_IdentityInfo.html: SUCCESS is verified.
VERIFIED = "SUCCESS"
# How a sandboxed account asks for production access (per region):
PRODUCTION_ACCESS_DOC = "https://docs.aws.amazon.com/ses/latest/dg/request-production-access.html"


@dataclass(frozen=True)
class Identity:
    """One SES identity that could cover the From address: the address itself, its domain or a parent domain."""

    name: str
    status: str  # VerificationStatus, or "missing"
    # Easy DKIM's CNAME records (name, value) for a domain identity.
    records: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class MailStatus:
    """The site's sending address in SES (``mail.region``) and the account there."""

    sender: str
    region: str
    identities: list[Identity]
    # GetAccount's ProductionAccessEnabled and SendingEnabled; None when SES did not answer.
    production: bool | None
    sending_enabled: bool | None
    account_problem: str = ""

    @property
    def verified(self) -> bool:
        return any(i.status == VERIFIED for i in self.identities)

    def warnings(self) -> list[str]:
        """What will keep WordPress's mail from arriving, each with its fix."""
        out = []
        if not self.sender:
            out.append("mail: no From address (mail.from, or site.domains for wordpress@DOMAIN): SES refuses "
                       "WordPress's own wordpress@ the distribution's name; set mail.from to an address on a "
                       "domain verified in SES")
        elif not self.verified:
            states = ", ".join(f"{i.name}: {i.status.lower()}" for i in self.identities)
            out.append(f"mail: {self.sender} may not send through SES in {self.region} yet ({states}); verify "
                       f"{self.sender.rpartition('@')[2]} there (mail.create_identity = true does it with the stack, "
                       "then `wplambda mail verify` lists the DNS records), or WordPress's mail is refused")
        if self.production is False:
            out.append(f"mail: the account is in the SES sandbox in {self.region}: only verified addresses receive "
                       f"mail and at most 200 messages a day; request production access: {PRODUCTION_ACCESS_DOC}")
        if self.sending_enabled is False:
            out.append(f"mail: sending is paused for this account in {self.region} (SES GetAccount); see the SES "
                       "console's account dashboard")
        if self.account_problem:
            out.append(f"mail: could not read the account's SES status in {self.region} ({self.account_problem})")
        return out


def easy_dkim_records(domain: str, tokens: list[str]) -> list[tuple[str, str]]:
    """Easy DKIM's three CNAME records for ``tokens``: TOKEN._domainkey.DOMAIN -> TOKEN.dkim.amazonses.com
    (https://docs.aws.amazon.com/ses/latest/dg/send-email-authentication-dkim-easy.html)."""
    return [(f"{token}._domainkey.{domain}", f"{token}.dkim.amazonses.com") for token in tokens]


def candidates(sender: str) -> list[str]:
    """The identities that let ``sender`` send, in the order they are asked: its domain, the address
    itself, then each parent domain up to the one under the top-level domain (news@mail.example.com:
    mail.example.com, the address, example.com). A verified domain covers its subdomains' addresses:
    https://docs.aws.amazon.com/ses/latest/dg/creating-identities.html"""
    domain = sender.rpartition("@")[2]
    labels = domain.split(".")
    return [domain, sender, *(".".join(labels[i:]) for i in range(1, len(labels) - 1))]


def _identity(client: Any, name: str) -> Identity:
    try:
        found = client.get_email_identity(EmailIdentity=name)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in ("NotFoundException", "NotFound", "404"):
            return Identity(name, "missing")
        raise
    records = easy_dkim_records(name, found.get("DkimAttributes", {}).get("Tokens") or []) if "@" not in name else []
    return Identity(name, str(found.get("VerificationStatus", "missing")), records)


def status(config: Config, session: Any) -> MailStatus:
    """The From address's identities and the account, as SES in ``mail.region`` reports them.
    Connection errors propagate (the callers report a check that could not run)."""
    region = config.mail.region or config.aws.region
    sender = config.mail.sender(config.site.domains)
    client = session.client("sesv2", region_name=region)
    identities = []
    if sender:
        for name in candidates(sender):
            identities.append(_identity(client, name))
            if identities[-1].status == VERIFIED:
                break
    try:
        account = client.get_account()
    except botocore.exceptions.ClientError as exc:
        return MailStatus(sender, region, identities, None, None, error_code(exc) or "no answer")
    return MailStatus(sender, region, identities, bool(account.get("ProductionAccessEnabled")),
                      bool(account.get("SendingEnabled", True)))
