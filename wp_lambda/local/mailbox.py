"""serve's mailbox: the messages WordPress sent under ``wplambda serve``, read back.

The mail mu-plugin (``wordpress/mu-plugins/wplambda-mail.php``) writes each message PHPMailer
built as one ``.eml`` file (0600, renamed into place) in the local state's mailbox directory
(:data:`wp_lambda.runtime.contract.LOCAL_MAIL_DIR`); nothing leaves the machine. ``wplambda mail
list|show --local`` reads them through :func:`messages` and :func:`find`, and serve's gateway shows
them on its own address (:class:`MailboxPage`).

The page is what an attacker would aim at: a reset link in it logs in as the admin. So it answers
only a request that carries this run's token (printed in serve's banner; compared in constant
time), on serve's own ``Host`` (the gateway has refused any other with 421 before it gets here,
which stops DNS rebinding), that no other site sent (``Sec-Fetch-Site``); it never renders a
message's HTML (a mail's markup would run as serve's own page), escapes everything it shows, links
only http(s) URLs, and sends ``no-referrer`` so the token in its URL never leaves in a Referer.
"""

from __future__ import annotations

import datetime
import email
import email.policy
import email.utils
import hmac
import html
import re
import secrets
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from wp_lambda.common.errors import UserError
from wp_lambda.runtime import contract

# The header the mu-plugin adds to the local copy only: every recipient of the envelope, Bcc included.
ENVELOPE_HEADER = "X-Wplambda-Envelope-To"
_LINK = re.compile(r"https?://[^\s<>\"'`]+")
_PAGE_HEADERS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    # No script, no image, no form: the page is text and links.
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
                                "form-action 'none'; base-uri 'none'"),
]


@dataclass(frozen=True)
class Mail:
    """One message of the mailbox."""

    id: str  # the file's name without .eml: its time and a random part
    time: datetime.datetime
    sender: str
    to: list[str]
    subject: str
    text: str  # the text/plain part ("" when there is none)
    html: str  # the text/html part's source ("" when there is none)
    attachments: list[str]

    @property
    def links(self) -> list[str]:
        """The URLs in the body, once each, in order (from the HTML's source with entities decoded)."""
        found = _LINK.findall(self.text) + [html.unescape(u) for u in _LINK.findall(self.html)]
        return list(dict.fromkeys(u.rstrip(".,;)>") for u in found))

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "time": self.time.isoformat(), "from": self.sender, "to": self.to,
                "subject": self.subject, "links": self.links}

    def as_json(self) -> dict[str, Any]:
        return {**self.summary(), "text": self.text, "html": self.html, "attachments": self.attachments}


def ensure(directory: Path) -> None:
    """The mailbox directory, private to the developer (messages hold reset links)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)


def _text(part: EmailMessage) -> str:
    """A text part's content; one in a charset Python does not know is read as UTF-8, bad bytes
    replaced, rather than hiding the message (a plugin may name any charset)."""
    try:
        return str(part.get_content())
    except (LookupError, ValueError):
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _parse(path: Path) -> Mail:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text = html_part = ""
    attachments: list[str] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        assert isinstance(part, EmailMessage)
        if part.get_content_disposition() == "attachment":
            attachments.append(part.get_filename() or "(unnamed)")
        elif part.get_content_type() == "text/plain" and not text:
            text = _text(part)
        elif part.get_content_type() == "text/html" and not html_part:
            html_part = _text(part)
    envelope = str(message.get(ENVELOPE_HEADER, ""))
    to = [a.strip() for a in envelope.split(",") if a.strip()] or [str(message.get("To", ""))]
    try:
        when = email.utils.parsedate_to_datetime(str(message["Date"]))
    except (TypeError, ValueError):
        when = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.UTC)
    return Mail(path.stem, when, str(message.get("From", "")), to, str(message.get("Subject", "")), text, html_part,
                attachments)


def messages(directory: Path) -> list[Mail]:
    """Every message, oldest first (by file name: the time the mu-plugin wrote it, then a random part)."""
    if not directory.is_dir():
        return []
    return [_parse(path) for path in sorted(directory.glob("*.eml"))]


def find(directory: Path, wanted: str) -> Mail:
    """The message whose id is or starts with ``wanted``; ``latest`` is the newest one."""
    found = messages(directory)
    if wanted == "latest" and found:
        return found[-1]
    matches = [m for m in found if m.id.startswith(wanted)] if wanted else []
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UserError(f"no message {wanted!r} in {directory}",
                        "see `wplambda mail list --local` for the ids, or use `latest`")
    raise UserError(f"{len(matches)} messages start with {wanted!r}", "give more of the id")


class MailboxPage:
    """``GET LOCAL_MAIL_PATH?token=T`` (the list) and ``...&id=ID`` (one message) on serve's gateway."""

    def __init__(self, directory: Path, token: str | None = None) -> None:
        self.directory = directory
        self.token = token or secrets.token_urlsafe(24)

    def url(self, base: str) -> str:
        """The page's address on serve's ``base`` URL, token included (what the banner prints)."""
        return f"{base}{contract.LOCAL_MAIL_PATH}?{contract.LOCAL_MAIL_TOKEN_PARAM}={self.token}"

    def answer(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
        """The response to a request for the page (``headers`` in lower case)."""
        query = parse_qs(urlsplit(target).query)
        given = (query.get(contract.LOCAL_MAIL_TOKEN_PARAM) or [""])[0]
        if method not in ("GET", "HEAD"):
            return self._plain(405, "the mailbox is read-only", method)
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return self._plain(403, "open the mailbox with the address serve printed (it carries this run's token)",
                               method)
        if headers.get("sec-fetch-site", "none") not in ("none", "same-origin"):
            return self._plain(403, "another site sent this request", method)
        wanted = (query.get("id") or [""])[0]
        if wanted:
            try:
                body = self._message(find(self.directory, wanted))
            except UserError:
                return self._plain(404, "no such message", method)
        else:
            body = self._list()
        payload = _document(body).encode()
        return 200, [*_PAGE_HEADERS, ("Content-Length", str(len(payload)))], b"" if method == "HEAD" else payload

    def _plain(self, status: int, text: str, method: str) -> tuple[int, list[tuple[str, str]], bytes]:
        payload = f"{text}\n".encode()
        return status, [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store"),
                        ("Content-Length", str(len(payload)))], b"" if method == "HEAD" else payload

    def _href(self, wanted: str = "") -> str:
        link = f"{contract.LOCAL_MAIL_PATH}?{contract.LOCAL_MAIL_TOKEN_PARAM}={quote(self.token)}"
        return link + (f"&id={quote(wanted)}" if wanted else "")

    def _list(self) -> str:
        rows = "".join(
            f"<tr><td>{_e(m.time.strftime('%Y-%m-%d %H:%M:%S'))}</td><td>{_e(', '.join(m.to))}</td>"
            f"<td><a href=\"{_e(self._href(m.id))}\">{_e(m.subject or '(no subject)')}</a></td></tr>"
            for m in reversed(messages(self.directory)))
        where = _e(str(self.directory))
        if not rows:
            return f"<h1>Local mailbox</h1><p>No mail yet. Messages WordPress sends land in {where}.</p>"
        return (f"<h1>Local mailbox</h1><p>Newest first; the files are in {where}.</p>"
                f"<table><tr><th>time</th><th>to</th><th>subject</th></tr>{rows}</table>")

    def _message(self, mail: Mail) -> str:
        links = "".join(f"<li><a href=\"{_e(u)}\" rel=\"noreferrer\">{_e(u)}</a></li>" for u in mail.links)
        parts = [f"<p><a href=\"{_e(self._href())}\">all mail</a></p><h1>{_e(mail.subject or '(no subject)')}</h1>",
                 "<dl>", *(f"<dt>{k}</dt><dd>{_e(v)}</dd>" for k, v in (
                     ("From", mail.sender), ("To", ", ".join(mail.to)), ("Time", mail.time.isoformat()),
                     ("Attachments", ", ".join(mail.attachments) or "none"))), "</dl>"]
        if links:
            parts.append(f"<h2>Links</h2><ul>{links}</ul>")
        if mail.text:
            parts.append(f"<h2>Text</h2><pre>{_e(mail.text)}</pre>")
        if mail.html:
            parts.append(f"<h2>HTML (its source: a mail's markup is not run here)</h2><pre>{_e(mail.html)}</pre>")
        return "".join(parts)


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _document(body: str) -> str:
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><title>wplambda serve: mail</title>"
            "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.2em 1em;text-align:left}"
            "pre{white-space:pre-wrap;background:#f4f4f4;padding:1em}</style></head>"
            f"<body>{body}</body></html>")

