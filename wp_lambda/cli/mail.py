"""``wplambda mail``: the mail WordPress sent under serve (``list``, ``show``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from wp_lambda import config as config_mod
from wp_lambda import ses
from wp_lambda import stack as stack_mod
from wp_lambda.aws import connect
from wp_lambda.cli.app import err, out, print_json
from wp_lambda.cli.options import JsonOption, ProfileOption, ProjectOption, StackOption
from wp_lambda.common.errors import UserError
from wp_lambda.local import mailbox
from wp_lambda.serve.state import LocalPaths

mail_app = typer.Typer(help="The mail WordPress sends: serve's local mailbox, and SES's word on the site's address.",
                       no_args_is_help=True)
MailLocalOption = Annotated[bool, typer.Option(
    "--local", help="serve's mailbox (.wplambda/local/mail): every message the local site sent.")]


def _mailbox(project: Path, local: bool) -> Path:
    if not local:
        raise UserError("a deployed site's mail goes through Amazon SES, which keeps no copy to list",
                        "add --local to read the mail the site sent under `wplambda serve`")
    return LocalPaths.of(config_mod.load(project)).mail


@mail_app.command("list")
def list_(local: MailLocalOption = False, project: ProjectOption = Path(), json_out: JsonOption = False) -> None:
    """The messages, oldest first: id, time, recipients, subject and the links in the body."""
    found = mailbox.messages(_mailbox(project, local))
    if json_out:
        print_json([m.summary() for m in found])
        return
    if not found:
        out.print("no mail yet")
    for m in found:
        out.print(f"{m.id}  {m.time:%Y-%m-%d %H:%M:%S}  to {escape(', '.join(m.to))}  {escape(m.subject)}",
                  highlight=False, soft_wrap=True)
        for link in m.links:
            out.print(f"    {escape(link)}", highlight=False, soft_wrap=True)


@mail_app.command()
def show(message: Annotated[str, typer.Argument(help="The message's id (or its start), or `latest`.")] = "latest",
         local: MailLocalOption = False, project: ProjectOption = Path(), json_out: JsonOption = False) -> None:
    """One message: its headers, links, attachments and text (an HTML part is printed as its source)."""
    m = mailbox.find(_mailbox(project, local), message)
    if json_out:
        print_json(m.as_json())
        return
    for name, value in (("From", m.sender), ("To", ", ".join(m.to)), ("Subject", m.subject),
                        ("Time", m.time.isoformat()), ("Attachments", ", ".join(m.attachments) or "none")):
        out.print(f"{name}: {escape(value)}", highlight=False, soft_wrap=True)
    for link in m.links:
        out.print(f"Link: {escape(link)}", highlight=False, soft_wrap=True)
    out.print("")
    out.print(escape(m.text or m.html), highlight=False, soft_wrap=True)


@mail_app.command()
def verify(stack: StackOption = None, project: ProjectOption = Path(), profile: ProfileOption = None,
           json_out: JsonOption = False) -> None:
    """Whether SES lets the site send: its From identity in mail.region, Easy DKIM's DNS records, the sandbox.

    Exits 0 when the address may send and the account is out of the sandbox, 1 otherwise.
    """
    cfg = config_mod.load(project)
    if not cfg.mail.enabled:
        raise UserError("mail.enabled is false: WordPress's mail does not go through SES",
                        "set mail.enabled = true (the default) and deploy")
    connection = connect(cfg, profile=profile)
    name = stack_mod.stack_name(cfg, stack)
    description = stack_mod.describe(connection.client("cloudformation"), name)
    found = ses.status(cfg, connection.session)
    created = stack_mod.outputs(description or {}).get(stack_mod.MAIL_DKIM_OUTPUT, "").split()
    records = list(zip(created[::2], created[1::2], strict=True)) or [r for i in found.identities for r in i.records]
    warnings = found.warnings()
    if json_out:
        print_json({"stack": name, "deployed": description is not None, "sender": found.sender,
                    "region": found.region, "verified": found.verified, "production": found.production,
                    "identities": {i.name: i.status for i in found.identities},
                    "records": [{"type": "CNAME", "name": n, "value": v} for n, v in records],
                    "warnings": warnings})
    else:
        out.print(f"{escape(found.sender or '(no From address)')} in {found.region}: "
                  + ("[green]may send[/]" if found.verified else "[yellow]not verified[/]"), soft_wrap=True)
        for identity in found.identities:
            out.print(f"  identity {escape(identity.name)}: {identity.status.lower()}", highlight=False)
        if records:
            out.print("DNS records (CNAME) the domain needs:")
            for record_name, value in records:
                out.print(f"  {record_name}  CNAME  {value}", highlight=False, soft_wrap=True)
        for warning in warnings:
            err.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)
    if warnings:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(mail_app, name="mail")
