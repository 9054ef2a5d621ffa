"""What sending mail costs a password-reset request: the mail mu-plugin through SES, against today's failing sendmail.

Run: ``.venv/bin/python -m benchmarks.mail [--rounds 20]``. Debian's WordPress (the runtime tests'
site: the kit's wp-config.php, the private MariaDB, the handler with Debian's php-fpm) with the
kit's mail mu-plugin and the AWS SDK for PHP the build installs with S3 Uploads
(../shared/composer/artifacts), and two handlers on the one site: one as deployed with [mail]
(``WPLAMBDA_MAIL=ses``, the SDK pointed at moto's SES server on this machine by
``AWS_ENDPOINT_URL_SES``), one as the kit was before it (no mail variables: WordPress calls PHP's
mail(), which finds no /usr/sbin/sendmail, as on Lambda, and the page says the mail could not be
sent). Each round POSTs "Lost your password?" for the admin to both, alternately, so a change in
the machine's load hits both sides alike. moto answers on loopback in microseconds where SES
takes tens of milliseconds over the network: the SES side here is the kit's own cost (the SDK's
client, the signing, PHPMailer's MIME), not SES's latency.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import boto3

from tests.support.helpers import moto_server
from tests.support.lambda_events import Client
from tests.support.wp_site import ADMIN_USER, install_fields, make_mail_site
from wp_lambda.local.mariadb import MariaDB
from wp_lambda.runtime import contract
from wp_lambda.runtime.handler import Runtime

DOMAIN = "blog.example.com"


def reset_request(runtime: Runtime) -> tuple[float, int]:
    """Seconds and status of one "Lost your password?" POST for the admin."""
    started = time.perf_counter()
    reply = Client(runtime.handle).post_form("/wp-login.php", {"user_login": ADMIN_USER,
                                                               "wp-submit": "Get New Password"},
                                             query="action=lostpassword")
    return time.perf_counter() - started, reply.status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="reset requests timed on each side")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="wplambda-bench-mail-"))
    db = MariaDB.start(base / "db")
    runtimes: list[Runtime] = []
    try:
        site = make_mail_site(base / "site", db, "bench_mail")
        with moto_server() as ses:
            boto3.client("ses", endpoint_url=ses, region_name="us-east-1", aws_access_key_id="k",
                         aws_secret_access_key="s").verify_domain_identity(Domain=DOMAIN)
            before = Runtime(site.environ)
            runtimes.append(before)
            Client(before.handle).post_form("/wp-admin/install.php", install_fields(), query="step=2")
            with_ses = Runtime(dict(site.environ, AWS_ENDPOINT_URL_SES=ses, AWS_ACCESS_KEY_ID="k",
                                    AWS_SECRET_ACCESS_KEY="s", AWS_REGION="us-east-1",
                                    **{contract.MAIL_ENV: contract.MAIL_SES,
                                       contract.MAIL_FROM_ENV: f"wordpress@{DOMAIN}",
                                       contract.MAIL_REGION_ENV: "us-east-1"}))
            runtimes.append(with_ses)
            sides = {"the mail mu-plugin through SES (moto)": with_ses, "today: mail() without sendmail": before}
            times: dict[str, list[float]] = {name: [] for name in sides}
            statuses: dict[str, set[int]] = {name: set() for name in sides}
            for rounds, keep in ((2, False), (args.rounds, True)):  # two rounds warm the opcache, unrecorded
                for _ in range(rounds):
                    for name, runtime in sides.items():
                        elapsed, status = reset_request(runtime)
                        statuses[name].add(status)
                        if keep:
                            times[name].append(elapsed)
    finally:
        for runtime in runtimes:
            runtime.stop()
        db.stop()
        shutil.rmtree(base, ignore_errors=True)
    # 302 to checkemail=confirm when the mail went out; 200 with "could not be sent" when it failed.
    print(f"a password-reset request (POST wp-login.php?action=lostpassword), median of {args.rounds} each, "
          "one php-fpm worker each")
    medians = {}
    for name, samples in times.items():
        medians[name] = statistics.median(samples) * 1000
        spread = statistics.quantiles(samples, n=10)
        print(f"{name:<42} {medians[name]:8.1f} ms  (p10 {spread[0] * 1000:.1f}, p90 {spread[-1] * 1000:.1f}; "
              f"HTTP {sorted(statuses[name])})")
    ses_ms, sendmail_ms = medians.values()
    print(f"ratio SES/sendmail: {ses_ms / sendmail_ms:.3f}")


if __name__ == "__main__":
    main()
