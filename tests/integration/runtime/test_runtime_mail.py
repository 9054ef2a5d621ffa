"""The deployed mail path: the console function's PHP (the handler's ``{"wplambda": "wp"}``, real
wp-cli) runs WordPress with the kit's mail mu-plugin and the real AWS SDK for PHP, which sends
through moto's SES server.

moto keeps what SES was asked to send; in server mode its ``/moto-api/data.json`` lists the
``RawMessage`` models of its SES backend (``source``, ``destinations``, ``raw_data``), which is how
the tests read the messages back. moto refuses a Source whose address or domain is not a verified
identity (MessageRejected), as SES does. The SDK is the one the build installs with S3 Uploads
(../shared/composer/artifacts, through the build's own Composer step); AWS_ENDPOINT_URL_SES, the
SDK's own variable, points it at moto.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import socket
import time
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.helpers import moto_server, real_wp_cli
from tests.support.lambda_events import Context
from tests.support.wp_site import Site, make_mail_site
from wp_lambda.local.mariadb import MariaDB
from wp_lambda.runtime import contract
from wp_lambda.runtime.handler import Runtime

REGION = "eu-west-1"
DOMAIN = "blog.example.com"
SENDER = f"news@{DOMAIN}"
# Bytes no text transfer could keep by accident: every byte value once.
ATTACHMENT = bytes(range(256)) * 4


@pytest.fixture(scope="module")
def ses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server() as endpoint:
        client = boto3.client("ses", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="k",
                              aws_secret_access_key="s")
        client.verify_domain_identity(Domain=DOMAIN)
        yield endpoint


@pytest.fixture(scope="module")
def mail_site(tmp_path_factory: pytest.TempPathFactory, mariadb: MariaDB, debian_wordpress: object) -> Site:
    """Debian's WordPress with the kit's mail mu-plugin and the build's vendor/ (S3 Uploads, the SDK)."""
    return make_mail_site(tmp_path_factory.mktemp("mail-site"), mariadb, "wp_mail")


def _console(site: Site, ses: str, sender: str) -> Runtime:
    """The console function's runtime as the template configures it ([mail] on, from ``sender``)."""
    return Runtime(dict(site.environ, WPLAMBDA_WP_CLI=real_wp_cli(), AWS_ENDPOINT_URL_SES=ses,
                        AWS_ACCESS_KEY_ID="k", AWS_SECRET_ACCESS_KEY="s", AWS_REGION="us-east-1",
                        WP_HOME=f"https://{DOMAIN}",
                        **{contract.ROLE_ENV: contract.CONSOLE_ROLE, contract.MAIL_ENV: contract.MAIL_SES,
                           contract.MAIL_FROM_ENV: sender, contract.MAIL_FROM_NAME_ENV: "The Blog",
                           contract.MAIL_REGION_ENV: REGION}))


@pytest.fixture(scope="module")
def console(mail_site: Site, ses: str) -> Iterator[Runtime]:
    rt = _console(mail_site, ses, SENDER)
    try:
        installed = _wp(rt, "core", "install", f"--url=https://{DOMAIN}", "--title=Mail", "--admin_user=admin",
                        "--admin_password=not-used-here-42", "--admin_email=owner@example.com", "--skip-email")
        assert installed["exitCode"] == 0, installed
        yield rt
    finally:
        rt.stop()


def _wp(rt: Runtime, *args: str) -> dict[str, Any]:
    return rt.handle({"wplambda": "wp", "args": list(args)}, Context(120.0))


def _sent(ses: str) -> list[dict[str, Any]]:
    data = json.load(urllib.request.urlopen(f"{ses}/moto-api/data.json"))
    return list(data["ses"]["RawMessage"])


def _parse(raw: str) -> EmailMessage:
    message = email.message_from_string(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


SEND = """
$failed = [];
add_action('wp_mail_failed', static function ($error) use (&$failed) { $failed[] = $error->get_error_message(); });
$ok = wp_mail('reader@example.com', 'Your report', '<p>Hello <b>reader</b></p>',
              ['Content-Type: text/html; charset=UTF-8', 'Reply-To: Editor <editor@example.com>',
               'Cc: copy@example.com', 'Bcc: hidden@example.com', 'X-Campaign: spring'], [getenv('ATTACH')]);
echo json_encode(['ok' => $ok, 'failed' => $failed]);
"""


def _send(rt: Runtime, attachment: Path) -> dict[str, Any]:
    """wp_mail() of an HTML message with ``attachment``, Reply-To, Cc, Bcc and a custom header."""
    return _wp(rt, "eval", SEND.replace("getenv('ATTACH')", repr(str(attachment))))


def test_a_mail_with_an_attachment_reaches_ses_as_wordpress_built_it(console: Runtime, ses: str,
                                                                     tmp_path: Path) -> None:
    attachment = tmp_path / "report.bin"
    attachment.write_bytes(ATTACHMENT)
    before = len(_sent(ses))
    result = _send(console, attachment)
    assert result["exitCode"] == 0 and json.loads(result["stdout"]) == {"ok": True, "failed": []}, result
    (sent,) = _sent(ses)[before:]
    assert sent["source"] == SENDER
    assert {"reader@example.com", "copy@example.com", "hidden@example.com"} <= set(sent["destinations"])
    message = _parse(sent["raw_data"])
    assert message["From"] == f"The Blog <{SENDER}>"
    assert message["Reply-To"] == "Editor <editor@example.com>"
    assert message["Cc"] == "copy@example.com" and message["X-Campaign"] == "spring"
    assert "Bcc" not in message and "hidden@example.com" not in sent["raw_data"]  # only in the envelope
    body = message.get_body(("html",))
    assert body is not None and "<b>reader</b>" in body.get_content()
    (part,) = list(message.iter_attachments())
    assert part.get_filename() == "report.bin" and part.get_content() == ATTACHMENT


def test_a_comment_moderation_mail_goes_to_the_admin(console: Runtime, ses: str) -> None:
    created = _wp(console, "comment", "create", "--comment_post_ID=1", "--comment_approved=0",
                  "--comment_author=Visitor", "--comment_content=Please moderate me", "--porcelain")
    assert created["exitCode"] == 0, created
    before = len(_sent(ses))
    notified = _wp(console, "eval", f"var_export(wp_notify_moderator({int(created['stdout'])}));")
    assert notified["stdout"].strip() == "true", notified
    (sent,) = _sent(ses)[before:]
    message = _parse(sent["raw_data"])
    assert message["To"] == "owner@example.com" and message["From"] == f"The Blog <{SENDER}>"
    assert "Please moderate" in str(message["Subject"]) + message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"https://{DOMAIN}/wp-admin/comment.php" in sent["raw_data"]


def test_a_refused_send_makes_wp_mail_false_and_fires_wp_mail_failed(mail_site: Site, ses: str, console: Runtime,
                                                                      tmp_path: Path) -> None:
    """An identity SES has not verified: SES's reason reaches wp_mail_failed, the log line masks the
    recipients and carries neither subject nor body."""
    attachment = tmp_path / "report.bin"
    attachment.write_bytes(b"x")
    unverified = _console(mail_site, ses, "news@unverified.example")
    try:
        before = len(_sent(ses))
        result = _send(unverified, attachment)
    finally:
        unverified.stop()
    outcome = json.loads(result["stdout"])
    assert outcome["ok"] is False
    (reason,) = outcome["failed"]
    assert "Amazon SES refused the message" in reason and "MessageRejected" in reason
    assert len(_sent(ses)) == before
    log = result["stderr"]
    assert "wplambda mail: not sent to r***@example.com, c***@example.com, h***@example.com" in log
    assert "reader@example.com" not in log and "Your report" not in log and "Hello" not in log


def _send_plain(rt: Runtime, setup: str = "") -> dict[str, Any]:
    """wp_mail() of a short text message after the PHP in ``setup`` (a plugin's hooks, say):
    its result, the wp_mail_failed reasons and the class of the PHPMailer that sent it."""
    script = setup + """
$failed = [];
add_action('wp_mail_failed', static function ($error) use (&$failed) { $failed[] = $error->get_error_message(); });
$ok = wp_mail('reader@example.com', 'Plain', "line one\\nline two\\n");
echo json_encode(['ok' => $ok, 'failed' => $failed, 'mailer' => get_class($GLOBALS['phpmailer'])]);
"""
    result = _wp(rt, "eval", script)
    assert result["exitCode"] == 0, result
    outcome: dict[str, Any] = json.loads(result["stdout"])
    return outcome


def test_the_raw_message_ends_every_line_in_crlf(console: Runtime, ses: str) -> None:
    """PHPMailer ends lines with PHP_EOL for a Mailer other than smtp and mail; RFC 5322 wants CRLF."""
    before = len(_sent(ses))
    assert _send_plain(console)["ok"] is True
    (sent,) = _sent(ses)[before:]
    raw = sent["raw_data"]
    assert "\r\n\r\n" in raw and re.search(r"(?<!\r)\n", raw) is None and re.search(r"\r(?!\n)", raw) is None


def test_a_plugin_changing_the_from_in_phpmailer_init_is_undone(console: Runtime, ses: str) -> None:
    """A plugin's setFrom() would make SES's Source an address IAM (and here moto: unverified) refuses."""
    plugin = "add_action('phpmailer_init', static function ($m) { $m->setFrom('shop@elsewhere.example', 'Shop'); });"
    before = len(_sent(ses))
    outcome = _send_plain(console, plugin)
    assert outcome["ok"] is True and outcome["failed"] == [], outcome
    (sent,) = _sent(ses)[before:]
    assert sent["source"] == SENDER and _parse(sent["raw_data"])["From"] == f"Shop <{SENDER}>"


# Another plugin's PHPMailer: a transport of its own, which records what it was asked to send.
OWN_MAILER = """
$GLOBALS['phpmailer'] = new class (true) extends PHPMailer\\PHPMailer\\PHPMailer {
    public function send() { return true; }
};
"""
LOAD_PHPMAILER = """
require_once ABSPATH . WPINC . '/PHPMailer/PHPMailer.php';
require_once ABSPATH . WPINC . '/PHPMailer/Exception.php';
"""


def test_another_plugin_s_phpmailer_is_left_in_place_deployed(console: Runtime, ses: str) -> None:
    before = len(_sent(ses))
    outcome = _send_plain(console, LOAD_PHPMAILER + OWN_MAILER)
    assert outcome["ok"] is True and outcome["mailer"].startswith("PHPMailer\\PHPMailer\\PHPMailer@anonymous")
    assert len(_sent(ses)) == before


@pytest.fixture()
def local(mail_site: Site, console: Runtime, tmp_path: Path) -> Iterator[tuple[Runtime, Path]]:
    """The runtime as serve configures it: mail into a mailbox directory, nothing through SES."""
    mailbox = tmp_path / "mail"
    mailbox.mkdir()
    rt = Runtime(dict(mail_site.environ, WPLAMBDA_WP_CLI=real_wp_cli(), WP_HOME=f"https://{DOMAIN}",
                      **{contract.ROLE_ENV: contract.CONSOLE_ROLE, contract.MAIL_ENV: contract.MAIL_LOCAL,
                         contract.MAIL_DIR_ENV: str(mailbox), contract.MAIL_FROM_ENV: SENDER}))
    try:
        yield rt, mailbox
    finally:
        rt.stop()


def test_under_serve_an_smtp_plugin_s_choice_is_overridden(local: tuple[Runtime, Path]) -> None:
    """An SMTP plugin (an imported production database's settings) would send real mail; under
    serve the message lands in the mailbox instead. The SMTP server named here listens nowhere."""
    rt, mailbox = local
    smtp = ("add_action('phpmailer_init', static function ($m) { $m->isSMTP(); $m->Host = '127.0.0.1'; "
            "$m->Port = 9; $m->Timeout = 2; }, 10);")
    outcome = _send_plain(rt, smtp)
    assert outcome["ok"] is True and outcome["failed"] == [], outcome
    (kept,) = mailbox.glob("*.eml")
    assert _parse(kept.read_text())["To"] == "reader@example.com"


def test_under_serve_another_plugin_s_phpmailer_is_replaced(local: tuple[Runtime, Path]) -> None:
    rt, mailbox = local
    outcome = _send_plain(rt, LOAD_PHPMAILER + OWN_MAILER)
    assert outcome["ok"] is True and outcome["mailer"] == "WplambdaMailer"
    assert len(list(mailbox.glob("*.eml"))) == 1


def test_an_endpoint_that_never_answers_fails_the_send_in_seconds(mail_site: Site, console: Runtime) -> None:
    """A listening socket that never answers: the SDK gives up after its timeout and one retry, so
    wp_mail() returns false within the page request instead of hanging until Lambda kills it."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        rt = _console(mail_site, f"http://127.0.0.1:{silent.getsockname()[1]}", SENDER)
        try:
            started = time.monotonic()
            outcome = _send_plain(rt)
            elapsed = time.monotonic() - started
        finally:
            rt.stop()
    assert outcome["ok"] is False and "Amazon SES" in outcome["failed"][0], outcome
    assert elapsed < 25, elapsed
