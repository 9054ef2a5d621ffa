"""WordPress through the local gateway, as a browser sees it: is it up, is it installed, install
it, and does its home page render.

Every question goes over HTTP to the served URL, so the answers hold whatever the database is
(the private MariaDB or an external one) and whatever language the site is in.
"""

from __future__ import annotations

import http.client
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from wp_lambda.common.errors import UserError
from wp_lambda.local.processes import Child


@dataclass(frozen=True)
class SiteClient:
    """The served site at ``host:port`` (``url`` as printed); ``logs`` is where a failure is explained."""

    host: str
    port: int
    url: str
    logs: Path

    def _head_login(self, timeout: float) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.request("HEAD", "/wp-login.php")
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
        return response

    def wait_ready(self, children: Iterable[Child], timeout: float = 60.0) -> None:
        """Until a handler answers a request (its first one is the cold start); a child that
        exits meanwhile fails it at once."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._head_login(timeout=30)
                return  # any HTTP answer means the chain works (an uninstalled site redirects)
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise UserError(f"the site did not answer within {timeout:.0f} s: {exc}",
                                    f"see the logs in {self.logs}") from None
                for child in children:
                    if child.process.poll() is not None:
                        raise UserError(f"{child.name} exited with code {child.process.returncode}",
                                        f"see {self.logs / 'handler.log'}") from None
                time.sleep(0.2)

    def installed(self) -> bool:
        """WordPress sends every request of an uninstalled site (in any language) to
        wp-admin/install.php."""
        response = self._head_login(timeout=60)
        return not (response.status in (301, 302) and
                    (response.getheader("Location") or "").endswith("/wp-admin/install.php"))

    def install(self, *, title: str, user: str, password: str, email: str) -> None:
        """Run WordPress's install form (step 2) through the gateway, as a browser would."""
        form = urllib.parse.urlencode({
            "weblog_title": title, "user_name": user, "admin_password": password,
            "admin_password2": password, "pw_weak": "1", "admin_email": email,
            "blog_public": "0", "language": "",
        }).encode()
        request = urllib.request.Request(f"{self.url}/wp-admin/install.php?step=2", data=form, method="POST")
        with urllib.request.urlopen(request, timeout=120) as response:
            page = response.read().decode(errors="replace")
        if not self.installed():
            raise UserError(f"WordPress installation failed: {page[-500:]}", f"see {self.logs}")

    def check_home_page(self) -> None:
        """The first home page through the handler must have a body: WordPress without a usable
        theme (or with a fatal error it was told not to display) answers 200 with nothing."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            connection.request("GET", "/")
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        if response.status < 300 and not body.strip():
            raise UserError(f"the home page answered {response.status} with an empty body: the site would render "
                            "blank (no usable theme, or a PHP error)",
                            f"read the PHP error log in {self.logs / 'handler.log'}, then check the themes "
                            "with `wplambda doctor`")
