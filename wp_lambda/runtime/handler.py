"""The Lambda handler: every event becomes one FastCGI request to a supervised php-fpm.

``handler`` is what the function's ``Handler`` points at (``wp_lambda.runtime.handler.handler``).
Inside the Lambda environment php-fpm starts while this module is imported, so the cold start
happens in the init phase; elsewhere (tests, ``serve``) it starts with the first invocation.
Failures are answered, never raised, for HTTP events: a crash of PHP is the visitor's 502, not
an unhandled Lambda error (which API Gateway would turn into an opaque 500). This module is the
HTTP path; ``{"wplambda": ...}`` events go to the registry in :mod:`wp_lambda.runtime.direct`.
"""

from __future__ import annotations

import gzip
import logging
import os
import time
from collections.abc import Mapping
from typing import Any

from wp_lambda.runtime import (
    cgi,
    contract,
    direct,
    events,
    fastcgi,
    hardening,
    layout,
    origin,
    page_cache,
    purge,
    rotation,
    routing,
    secrets,
    snapstart,
    static,
    warmup,
)
from wp_lambda.runtime.direct import LambdaContext
from wp_lambda.runtime.events import INIT_HEADER, Adapter, Request, Response
from wp_lambda.runtime.fpm import FpmSettings, PhpFpm, PhpFpmError

log = logging.getLogger("wplambda")

DEFAULT_TIMEOUT = 30.0
DEFAULT_MARGIN = 1.0
# gzip only what risks the payload limit; CloudFront compresses for viewers anyway, and
# compressing every page would cost more time than it saves on a loopback hop.
GZIP_MIN = 1024 * 1024
_COMPRESSIBLE = ("text/", "application/json", "application/javascript", "application/xml", "image/svg+xml",
                 "+json", "+xml")


def _text(status: int, message: str) -> Response:
    return Response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")],
                    message.encode() + b"\n")


class Runtime:
    """The state of one Lambda instance: the document root, php-fpm and the loaded secrets."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        # The environment PHP runs with (the PHP layout's search paths included); secrets are added
        # to this copy, never to os.environ.
        source = os.environ if environ is None else environ
        self.layout = layout.from_env(source)
        env = self.layout.environ(source)
        self.environ = env
        root = env.get(contract.DOCUMENT_ROOT_ENV) or env.get("LAMBDA_TASK_ROOT") or "/var/task"
        self.document_root = os.path.realpath(root)
        # storage.mode = "efs": plugins and themes are files on the mounted file system.
        mounted = env.get(contract.CONTENT_DIR_ENV)
        self.content_dir = os.path.realpath(mounted) if mounted else None
        self.php = self.layout.php
        self.margin = float(env.get("WPLAMBDA_DEADLINE_MARGIN_MS", DEFAULT_MARGIN * 1000)) / 1000
        self.fpm = PhpFpm(FpmSettings.from_env(env, self.document_root), environ=env)
        self.caching = static.Caching.from_env(env)
        self.walls = hardening.Walls.from_env(env)
        self._secrets_loaded = False
        # After a rotation of the origin secret, the values a mismatching request makes it read again.
        self.origin_secret = origin.Rereader.from_env(env)
        # After a rotation of the database password (or any secret PHP sees): when to read them again.
        self.secrets_schedule = rotation.Schedule()
        # Pages a change affected, taken out of CloudFront's cache (or serve's) once per request.
        self.purger = purge.Purger(env)
        # `wplambda serve` logs each request as cold or warm; only it asks for the marker header.
        self._mark_init = env.get(contract.LOCAL_ENV) == "1"
        self._http_invocations = 0

    def start(self) -> None:
        """Cold start: secrets into the environment php-fpm inherits, then php-fpm itself."""
        self.load_secrets()
        self.fpm.ensure_running()

    def load_secrets(self) -> None:
        """The values named in WPLAMBDA_SECRETS (names are logged, values never): at the first call,
        and again at a later one when they are due (:meth:`refresh_secrets`). Every path to PHP (a
        page, ``php``, ``wp``, import and export) calls this first, so each one picks up a rotation."""
        if self._secrets_loaded:
            self.refresh_secrets()
            return
        names = secrets.apply(self.environ)
        self._secrets_loaded = True
        self.secrets_schedule.loaded()
        if names:
            log.info("loaded %d secret values into the environment: %s", len(names), ", ".join(names))

    def reload_secrets(self, timeout: float | None = None) -> list[str]:
        """Read the secrets again (after a SnapStart restore, or when :meth:`refresh_secrets` finds
        them due: they may have rotated); return the names whose values changed. Raises
        secrets.SecretsError, leaving the old values in place."""
        values = secrets.load(self.environ.get(contract.SECRETS_ENV, ""), timeout=timeout)
        changed = sorted(name for name, value in values.items() if self.environ.get(name) != value)
        self.environ.update(values)
        self.secrets_schedule.loaded()
        return changed

    def refresh_secrets(self, *, refused: bool = False) -> bool:
        """Read the secrets again when they are due (wp_lambda/runtime/rotation.py: ``refused``, PHP
        said the database refused the password); when a value PHP sees changed, restart a running
        php-fpm, whose workers could only inherit the old ones. Whether it was restarted: a failed
        read or restart is logged and changes nothing (the next request starts php-fpm again)."""
        if not self.environ.get(contract.SECRETS_ENV) or not self.secrets_schedule.due(refused=refused):
            return False
        try:
            changed = [name for name in self.reload_secrets(contract.SECRETS_REREAD_TIMEOUT)
                       if name not in contract.RUNTIME_ONLY_ENV]
        except secrets.SecretsError as exc:
            log.error("wplambda: re-reading the secrets failed: %s", exc)
            return False
        if not changed:
            log.info("wplambda: secrets re-read (%s); unchanged", "database refused the password" if refused else "TTL")
            return False
        log.warning("wplambda: secrets re-read (%s); %s changed, restarting php-fpm",
                    "database refused the password" if refused else "TTL", ", ".join(changed))
        if self.fpm.pid is None:
            return False  # the console function runs no php-fpm: its next php or wp command reads them
        try:
            self.fpm.restart()
        except PhpFpmError as exc:
            log.error("wplambda: %s", exc)
            return False
        return True

    def warm(self, budget: float = warmup.BUDGET) -> warmup.Report:
        """Compile WordPress into the opcache before the first visitor (wp_lambda/runtime/warmup.py)."""
        return warmup.run(self.http, self.environ, budget)

    def stop(self) -> None:
        """Stop php-fpm and remove its socket directory (tests, benchmarks, local tools)."""
        self.fpm.close()

    # -- invocations ---------------------------------------------------------------------------

    def handle(self, event: Any, context: LambdaContext | None) -> dict[str, Any]:
        adapter = events.detect(event)
        if adapter is None:
            if isinstance(event, Mapping) and contract.DIRECT_KEY in event:
                return direct.invoke(self, event, context)
            shape = sorted(event)[:12] if isinstance(event, Mapping) else type(event).__name__
            log.error("wplambda: unrecognised event (keys: %s); expected API Gateway, a Function URL, "
                      "an ALB or a {\"wplambda\": ...} invocation", shape)
            return {"statusCode": 400, "headers": {"content-type": "text/plain"},
                    "body": "wplambda: unrecognised event\n"}
        try:
            request = adapter.to_request(event)
        except Exception as exc:  # BadEvent, or a value of a type no front door sends
            log.error("wplambda: bad %s event: %s: %s", adapter.name, type(exc).__name__, exc)
            # No body: the method is unknown, and a HEAD response must not carry one.
            return adapter.to_response(Response(400, [("Cache-Control", "no-store")]), event)
        self._http_invocations += 1
        try:
            response = self.refuse_bypass(request) or self.http(cgi.from_edge(request, self.environ), context)
        except Exception:
            log.exception("wplambda: request %s %s failed", request.method, request.path)
            response = _text(500, "Internal error in the wplambda runtime.")
        if self._mark_init:
            response.headers.append((INIT_HEADER, "cold" if self._http_invocations == 1 else "warm"))
        return self._shape(adapter, event, request, response)

    def refuse_bypass(self, request: Request) -> Response | None:
        """403 for an HTTP event that did not come through the distribution, else None.

        The execute-api URL and the Function URL (AuthType NONE) are public: without this, anyone
        who finds them skips CloudFront and whatever it enforces. CloudFront adds the origin secret
        as a custom origin header (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/forward-custom-headers.html,
        "Controlling access to content"), so a request without the right value is answered here,
        before routing: neither PHP nor a static file sees it. ``wplambda serve`` has no CloudFront
        and sets no origin secret (it drops the caller's WPLAMBDA_* variables), so nothing is
        enforced there; a deployed stack always has one. The check runs on HTTP events only:
        direct invocations, the warm-up and cron never pass through here. A mismatch may mean the
        secret was rotated since this instance read it: the values are read again first, at most
        once a minute (wp_lambda/runtime/origin.py).
        """
        self.load_secrets()  # the secret arrives with the others; a failure to read them is a 500
        if not self.environ.get(contract.ORIGIN_SECRET_ENV) or cgi.from_cloudfront(request, self.environ):
            return None
        offered = "a wrong" if request.header(cgi.ORIGIN_SECRET_HEADER) is not None else "no"
        # CloudFront always sends the header, so only a request carrying one can be CloudFront's
        # after a rotation; one without it never costs a Secrets Manager read.
        if offered == "a wrong" and self.origin_secret.refresh(self.environ) and \
                cgi.from_cloudfront(request, self.environ):
            return None
        # One line, never the offered value: it may be a near miss of the real one.
        log.warning("wplambda: 403 %s %.200r from %s: %s origin header, the request did not come through "
                    "CloudFront", request.method, request.path, request.source_ip, offered)
        return _text(403, "Forbidden.")

    def http(self, request: Request, context: LambdaContext | None) -> Response:
        """One HTTP request: route it, then serve the file or ask PHP."""
        target = routing.route(self.document_root, request.path, request.query, self.content_dir)
        target = self.walls.refusal(self.document_root, target) or target
        if target.kind == "deny":
            return _text(target.status, "Forbidden." if target.status == 403 else "Not found.")
        if target.kind == "redirect":
            return Response(target.status, [("Location", target.location)])
        if target.kind == "static":
            return static.serve(request, target.filename, self.caching)
        response = self.php_request(request, target, cgi.site_host(request, self.environ), context,
                                    cgi.client_address(request, self.environ))
        response.headers = self.walls.cookie_headers(response.headers)
        # Always taken out of the response, whatever is done with it: a visitor never sees it.
        paths = purge.take_header(response)
        if paths:
            self.purger.send(paths, purge.distribution_id(request, self.environ))
        return page_cache.enforce(request, response)

    def php_request(self, request: Request, target: routing.Route, host: str | None,
                    context: LambdaContext | None, remote_addr: str = "127.0.0.1") -> Response:
        """Run ``target`` on php-fpm (once more, with re-read secrets, when the database refused the
        password before WordPress ran); the failures become 502/504 and a fresh php-fpm."""
        try:
            self.start()
        except PhpFpmError as exc:
            log.error("wplambda: %s", exc)
            return _text(502, "Bad gateway: PHP could not start.")
        deadline = time.monotonic() + self.time_left(context)
        fcgi_params = cgi.params(request, target, self.document_root, host, remote_addr)
        token = rotation.new_token()
        response = self.fastcgi_round_trip(request, [*fcgi_params, (contract.DB_DENIED_TOKEN_PARAM, token)], deadline)
        # PHP's own word that the database refused the password before WordPress ran (the retry is
        # safe then: see wp_lambda/runtime/rotation.py); once, and only with fresh secrets.
        if rotation.take_signal(response, token) and self.refresh_secrets(refused=True):
            log.warning("wplambda: %s %s: retrying on php-fpm with the re-read secrets", request.method, request.path)
            retry = rotation.new_token()
            response = self.fastcgi_round_trip(request, [*fcgi_params, (contract.DB_DENIED_TOKEN_PARAM, retry)],
                                               deadline)
            rotation.take_signal(response, retry)
        return response

    def fastcgi_round_trip(self, request: Request, fcgi_params: list[tuple[str, str]], deadline: float) -> Response:
        """One FastCGI round trip to the running php-fpm; the failures become 502/504 and a fresh php-fpm."""
        try:
            try:
                result = fastcgi.request(self.fpm.socket_path, fcgi_params, request.body, deadline=deadline)
            except fastcgi.FastCGIUnavailable as exc:
                # Nothing reached PHP, so trying once more on a fresh php-fpm is safe.
                log.warning("wplambda: %s; restarting php-fpm", exc)
                self.fpm.restart()
                result = fastcgi.request(self.fpm.socket_path, fcgi_params, request.body, deadline=deadline)
        except fastcgi.ParamTooLarge as exc:
            log.warning("wplambda: %s %s: %s", request.method, request.path, exc)
            return _text(431, "Request header fields too large.")
        except fastcgi.FastCGITimeout:
            log.error("wplambda: %s %s did not finish before the deadline; restarting php-fpm",
                      request.method, request.path)
            self.restart_quietly()
            return _text(504, "Gateway timeout: the page took too long.")
        except fastcgi.FastCGIError as exc:
            log.error("wplambda: %s %s: %s; restarting php-fpm", request.method, request.path, exc)
            self.restart_quietly()
            return _text(502, "Bad gateway: PHP stopped before it answered.")
        if result.stderr:
            for line in result.stderr.decode("utf-8", "replace").splitlines():
                log.warning("php: %s", line)
        try:
            return cgi.parse_output(result.stdout)
        except cgi.BadGateway as exc:
            log.error("wplambda: %s %s: %s", request.method, request.path, exc)
            return _text(502, "Bad gateway: PHP sent an invalid response.")

    def restart_quietly(self) -> None:
        """A fresh php-fpm, logging rather than raising if it cannot start: the next request tries again."""
        try:
            self.fpm.restart()
        except PhpFpmError as exc:
            log.error("wplambda: %s", exc)

    def time_left(self, context: LambdaContext | None) -> float:
        """Seconds PHP may take: the invocation's remaining time less a margin to answer in."""
        remaining = context.get_remaining_time_in_millis() / 1000 if context is not None else DEFAULT_TIMEOUT
        return max(remaining - self.margin, remaining / 2, 0.001)

    def _shape(self, adapter: Adapter, event: Mapping[str, Any], request: Request,
               response: Response) -> dict[str, Any]:
        """Source-specific response: no body where HTTP forbids one, gzip when needed, size limit."""
        if request.method == "HEAD" or response.status in (204, 304) or response.status < 200:
            response.body = b""
        elif len(response.body) >= GZIP_MIN and _accepts_gzip(request) and _compressible(response):
            response.body = gzip.compress(response.body, compresslevel=6)
            response.headers += [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
        result = adapter.to_response(response, event)
        # JSON escaping makes a character at most 6 bytes; only a body that could reach the limit
        # is worth serializing to measure (it costs a tenth of a millisecond per 50 KB page).
        size = events.payload_size(result) if len(result["body"]) * 6 > adapter.limit // 2 else 0
        if size > adapter.limit:
            log.error("wplambda: %s %s: the response is %d bytes, over the %s limit of %d bytes; answering 502",
                      request.method, request.path, size, adapter.name, adapter.limit)
            result = adapter.to_response(_text(502, f"Bad gateway: the response ({size} bytes) is larger than "
                                                    f"the {adapter.limit} bytes this front door allows."), event)
        return result


def _accepts_gzip(request: Request) -> bool:
    return any(part.split(";")[0].strip().lower() == "gzip"
               for part in ",".join(request.headers.get("accept-encoding", [])).split(","))


def _compressible(response: Response) -> bool:
    if response.header("content-encoding"):
        return False
    ctype = (response.header("content-type") or "").lower()
    return any(marker in ctype for marker in _COMPRESSIBLE)


_runtime: Runtime | None = None


def runtime() -> Runtime:
    """The instance's runtime, created on first use."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime()
    return _runtime


def handler(event: Any, context: LambdaContext | None) -> dict[str, Any]:
    """The Lambda entry point."""
    return runtime().handle(event, context)


def init_phase() -> None:
    """Lambda's init phase (or awslambdaric's under the local emulator): start now, not at the first
    request. The console function (WPLAMBDA_ROLE=console) runs wp-cli with the PHP CLI, so it starts
    no php-fpm it would not use; an HTTP event sent to it would still start one on demand."""
    started = time.monotonic()
    console = os.environ.get(contract.ROLE_ENV) == contract.CONSOLE_ROLE
    try:
        if console:
            runtime().load_secrets()
        else:
            runtime().start()
    except Exception:
        log.exception("wplambda: cold start failed; the first request will try again")
        return
    # A SnapStart init warms in its before-snapshot hook; any other site init warms right here
    # (the console function serves no pages, so it has nothing to warm).
    if not console and not snapstart.register(runtime()):
        # The budget counts from here: starting php-fpm and loading secrets used part of it.
        runtime().warm(max(0.0, warmup.BUDGET - (time.monotonic() - started)))


if os.environ.get("AWS_LAMBDA_RUNTIME_API"):
    # Importing this module is the init phase; tests and local tools import it without the variable.
    init_phase()
