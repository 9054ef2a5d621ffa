"""One ``wplambda serve`` run: the built site on this machine, through the same Lambda handler.

One run owns: a private MariaDB (data kept in ``.wplambda/local/db``), N handler processes under
AWS's ``awslambdaric`` pulling events from the local Runtime API emulator (each starting its own
php-fpm as it would on Lambda), and the local gateway in front. Uploads stay in
``.wplambda/local/uploads``, or with ``--s3-endpoint`` go through S3 Uploads to a bucket there.
Every child is recorded in a pid file and stopped by PID; a later run cleans what a crashed one
left behind.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wp_lambda import assets_sync, stack
from wp_lambda import efs as efs_mod
from wp_lambda.bundle.php import PhpSource, local_php_source
from wp_lambda.common.errors import UserError
from wp_lambda.common.report import Reporter
from wp_lambda.config import Config
from wp_lambda.function_env import LocalStandIns
from wp_lambda.local.edge_cache import EdgeCache
from wp_lambda.local.gateway import LAMBDA_REQUEST_LIMIT, Directory, Gateway, Limits, Origin, Routes, throttle_status
from wp_lambda.local.invoke_endpoint import InvokeCredentials, InvokeEndpoint, LocalFunction
from wp_lambda.local.mariadb import MariaDB
from wp_lambda.local.processes import ProcessGroup
from wp_lambda.local.runtime_api import RuntimeAPI
from wp_lambda.local.runtime_process import start_runtime_process
from wp_lambda.local.s3_uploads import UploadsBucket, check_endpoint, default_bucket
from wp_lambda.runtime import contract
from wp_lambda.serve.environment import DB_NAME, DB_USER, console_environment, handler_environment, private_database
from wp_lambda.serve.install import SiteClient
from wp_lambda.serve.state import (
    INVOKE_FILE,
    LocalPaths,
    RunningEndpoint,
    check_port_free,
    local_secrets,
    record_endpoint,
)


def php_branch_warning(local: str, deployed: str) -> str | None:
    """The warning serve prints when the machine's PHP branch is not the one the site deploys with
    (``php.version``): serve runs the local PHP (Debian's 8.2 in the kit's setup), never Bref's layer,
    so a site can work here and fail, or behave otherwise, on the deployed PHP."""
    if local == deployed:
        return None
    return (f"local PHP is {local} but the deployed site runs PHP {deployed} (php.version): code that works "
            "here may still fail when deployed")


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2
    install: bool = False
    admin_user: str = "admin"
    admin_email: str | None = None
    admin_password: str | None = None
    # Uploads in a bucket of an S3-compatible endpoint (through S3 Uploads) instead of on disk.
    s3_endpoint: str | None = None
    s3_bucket: str | None = None
    profile: str | None = None
    # The local Lambda invoke endpoint (0: any free port; it is printed, and kept in run/invoke.json
    # with this run's credentials for it).
    invoke_port: int = 0
    # The largest request body the gateway takes (Lambda's request payload quota unless raised).
    max_body: int = LAMBDA_REQUEST_LIMIT
    # serve --concurrency: the site function's reserved concurrency to emulate. None by default,
    # not the config's: that is sized for Aurora's connections (83 at 2 ACU), far above serve's
    # handler processes, so it would never be reached here; a developer asks for throttling to see it.
    concurrency: int | None = None
    # The page cache in the gateway, as the distribution's ([cache] pages); False: serve --no-cache.
    cache: bool = True


@dataclass
class ServeInfo:
    url: str
    admin_url: str
    logs: Path
    workers: int
    php_version: str
    uploads: str
    # storage.mode = "efs": where wp-content's plugins and themes live, and what the sync did.
    content: str | None = None
    content_sync: dict[str, Any] | None = None
    admin_user: str | None = None
    admin_password: str | None = None
    warnings: list[str] = field(default_factory=list)
    invoke_url: str = ""
    # Where this run's credentials for the invoke endpoint are (0600); never the credentials.
    invoke_credentials: str = ""
    # The emulated reserved concurrency, for the banner.
    concurrency: str = ""
    # What the banner says of the page cache.
    page_cache: str = ""


class LocalSite:
    """One ``serve`` run: start everything, serve until stopped, stop everything by PID."""

    def __init__(self, config: Config, options: ServeOptions, *, log_line: Callable[[str], None]) -> None:
        self.config = config
        self.options = options
        self.paths = LocalPaths.of(config)
        self.log_line = log_line
        self.group = ProcessGroup(self.paths.run)
        self.db: MariaDB | None = None
        self.api: RuntimeAPI | None = None
        self.gateway: Gateway | None = None
        self.bucket: UploadsBucket | None = None
        self.console_api: RuntimeAPI | None = None
        self.endpoint: InvokeEndpoint | None = None
        self._gateway_thread: threading.Thread | None = None
        # This run's bearer token for the gateway's purge endpoint (contract.LOCAL_PURGE_PATH).
        self._purge_token = secrets.token_urlsafe(32)

    @property
    def url(self) -> str:
        host = f"[{self.options.host}]" if ":" in self.options.host else self.options.host
        return f"http://{host}:{self.options.port}"

    def preflight(self) -> None:
        """Fail before building anything when another run serves this project, the port is
        taken or the S3 endpoint is not a URL."""
        if self.options.s3_endpoint is not None:
            check_endpoint(self.options.s3_endpoint)
        self._claim()
        check_port_free(self.options.host, self.options.port)
        if self.options.invoke_port:
            check_port_free("127.0.0.1", self.options.invoke_port)

    def _claim(self) -> None:
        """Refuse when another run (a ``serve``, or a ``wp --local`` that started its own
        console) owns this project's database."""
        for name, what in (("serve", "being served"), ("console", "used by a `wplambda wp --local` or console")):
            other = self.group.running(name)
            if other:
                raise UserError(f"{self.config.site.name} is already {what} by process {other}",
                                f"stop it first (Ctrl-C in its terminal, or kill {other})")

    def start(self, build_dir: Path, php: PhpSource) -> ServeInfo:
        """Start the database, the handler processes and the gateway; install WordPress if asked."""
        self.preflight()
        assert php.fpm is not None and php.cli is not None
        warnings = []
        branch = php_branch_warning(php.version, self.config.php.version)
        if branch:
            warnings.append(branch)
        stale = self.group.clean_stale(str(self.paths.root), self.paths.state_entry)
        if stale:
            warnings.append(f"stopped processes left by an earlier run: {', '.join(map(str, stale))}")
        efs = self.config.storage.mode == "efs"
        for directory in (self.paths.logs, self.paths.uploads, self.paths.run, *([self.paths.efs] if efs else [])):
            directory.mkdir(parents=True, exist_ok=True)
        local = local_secrets(self.paths)
        self.group.record("serve", os.getpid())
        try:
            uploads = self._uploads_origin()  # first: an unreachable endpoint fails before anything starts
            if self.config.database.mode == "external":
                warnings.append(f"using the external database {self.config.database.name} on "
                                f"{self.config.database.host} (database.mode = \"external\"); its password "
                                "comes from database.secret_arn, as on Lambda")
            else:
                self._start_database(local)
            self.api = RuntimeAPI(timeout=self.config.function.timeout,
                                  function_name=self.site_function, region=self.config.aws.region,
                                  concurrency=self.options.concurrency)
            self.api.start()
            env = self._handler_env(build_dir, php, local)
            # Where the runtime sends a purge (the mu-plugin's changed paths) in place of CloudFront:
            # the gateway's own endpoint, with this run's token, which PHP never sees (RUNTIME_ONLY_ENV).
            env.update({contract.LOCAL_PURGE_URL_ENV: f"{self.url}{contract.LOCAL_PURGE_PATH}",
                        contract.LOCAL_PURGE_TOKEN_ENV: self._purge_token})
            for index in range(self.options.workers):
                self.group.adopt(f"handler-{index}",
                                 start_runtime_process(env, log=self.paths.logs / "handler.log"))
            self._start_console(env)
            # As after a deploy: the function seeds the file system, then syncs the pinned plugins.
            synced = self.sync_content() if efs else None
            cache = self.config.cache
            page_cache = (EdgeCache(contract.page_cache_ttls(cache.ttl)) if cache.pages and self.options.cache
                          else None)
            self.gateway = Gateway((self.options.host, self.options.port),
                                   routes=Routes(Directory(build_dir / "assets", self.config.assets), uploads, efs),
                                   invoke=lambda event: self._invoke(event), log_line=self.log_line,
                                   limits=Limits(max_body=self.options.max_body,
                                                 throttle_status=throttle_status(self.config.function.front_door)),
                                   cache=page_cache, purge_token=self._purge_token)
            self._gateway_thread = threading.Thread(target=self.gateway.serve_forever, name="gateway", daemon=True)
            self._gateway_thread.start()
            self.client.wait_ready(self.group.children)
            where = (f"bucket {self.bucket.name} on {self.bucket.endpoint}"
                     f"{' (created now)' if self.bucket.created else ''}" if self.bucket else str(self.paths.uploads))
            info = ServeInfo(self.url, f"{self.url}/wp-admin/", self.paths.logs, self.options.workers,
                             php.version, where, warnings=warnings, content_sync=synced,
                             invoke_url=self.endpoint.url if self.endpoint else "",
                             invoke_credentials=self.endpoint.where if self.endpoint else "",
                             concurrency=self._concurrency_line(), page_cache=self._page_cache_line())
            if efs:
                # No NFS client in the kernels serve targets (nor in its test sandbox): a plain
                # directory stands in for the mount, so NFS latency is not part of what you see.
                info.content = f"{self.paths.efs} (a plain directory standing in for EFS, not an NFS mount)"
            installed = self.client.installed()
            if self.options.install and not installed:
                info.admin_user = self.options.admin_user
                info.admin_password = self.options.admin_password or secrets.token_urlsafe(12)
                # Raises unless the site is installed afterwards.
                self.client.install(title=self.config.site.title, user=info.admin_user,
                                    password=info.admin_password,
                                    email=self.options.admin_email or self.config.site.admin_email)
                installed = True
            if installed:  # an uninstalled site only redirects to install.php: nothing to check yet
                self.client.check_home_page()
            return info
        except BaseException:
            self.stop()
            raise

    @property
    def site_function(self) -> str:
        return f"{self.config.site.name}-local"

    @property
    def console_function(self) -> str:
        return f"{self.config.site.name}-console-local"

    def start_console(self, build_dir: Path, php: PhpSource) -> RunningEndpoint:
        """Only what a wp-cli command needs: the private MariaDB, the console function and the
        invoke endpoint (no site function, no gateway). ``serve`` refuses to start meanwhile."""
        self._claim()
        self.group.clean_stale(str(self.paths.root), self.paths.state_entry)
        for directory in (self.paths.logs, self.paths.uploads, self.paths.run):
            directory.mkdir(parents=True, exist_ok=True)
        local = local_secrets(self.paths)
        self.group.record("console", os.getpid())
        try:
            self._uploads_origin()
            if self.config.database.mode != "external":
                self._start_database(local)
            running = self._start_console(self._handler_env(build_dir, php, local))
        except BaseException:
            self.stop()
            raise
        return running

    def _start_database(self, local: dict[str, str]) -> None:
        self.db = MariaDB.start(self.paths.db, socket_path=self._socket_path())
        self.group.record("mariadb", self.db.pid)
        self.db.ensure_database(DB_NAME, DB_USER, local["db_password"])

    def _start_console(self, env: dict[str, str]) -> RunningEndpoint:
        """The console function (its own Runtime API and timeout, one runtime process that starts
        no php-fpm) and the invoke endpoint in front of it and of the site's function; waits until
        the console polls for work, and records the endpoint in ``run/invoke.json``."""
        self.console_api = RuntimeAPI(timeout=self.config.console.timeout, function_name=self.console_function,
                                      region=self.config.aws.region).start()
        child = self.group.adopt("console-0", start_runtime_process(
            console_environment(self.config, env, api_address=self.console_api.address,
                                function_name=self.console_function, site_url=self.url),
            log=self.paths.logs / "console.log"))
        functions = [LocalFunction(stack.CONSOLE_FUNCTION, self.console_function, self.console_api)]
        if self.api is not None:
            functions.append(LocalFunction(stack.FUNCTION, self.site_function, self.api))
        record = self.paths.run / INVOKE_FILE
        self.endpoint = InvokeEndpoint(functions, InvokeCredentials.generate(), where=str(record),
                                       port=self.options.invoke_port).start()
        deadline = time.monotonic() + 60
        while self.console_api.polling == 0:
            if child.process.poll() is not None or time.monotonic() > deadline:
                raise UserError(f"the local console function did not start (exit code {child.process.poll()})",
                                f"see {self.paths.logs / 'console.log'}")
            time.sleep(0.02)
        running = RunningEndpoint(self.endpoint.address, self.site_function, self.console_function,
                                  self.endpoint.credentials)
        record_endpoint(self.paths, running)
        return running

    def _uploads_origin(self) -> Origin:
        """The uploads bucket on the S3 endpoint (created when missing), else the local directory."""
        if self.options.s3_endpoint is None:
            return Directory(self.paths.uploads, self.config.assets, strip=assets_sync.UPLOADS_PREFIX)
        self.bucket = UploadsBucket.connect(self.config, self.options.s3_endpoint,
                                            self.options.s3_bucket or default_bucket(self.config),
                                            profile=self.options.profile)
        self.bucket.ensure()
        self.bucket.allow_browser_uploads(self._origins())
        return self.bucket

    def _origins(self) -> list[str]:
        """Where the site's pages come from: the served URL, and localhost for 127.0.0.1."""
        origins = [self.url]
        if self.options.host == "127.0.0.1":
            origins.append(f"http://localhost:{self.options.port}")
        return origins

    def _socket_path(self) -> Path:
        # Socket paths are limited to ~100 bytes; deep project directories fall back to /tmp.
        candidate = self.paths.run / "mysqld.sock"
        if len(str(candidate)) <= 100:
            return candidate
        short = Path("/tmp") / f"wplambda-{os.getuid()}-{abs(hash(str(self.paths.root))) % 10**8}"
        short.mkdir(mode=0o700, exist_ok=True)
        return short / "mysqld.sock"

    def _handler_env(self, build_dir: Path, php: PhpSource, local: dict[str, str]) -> dict[str, str]:
        """The site function's environment (:mod:`wp_lambda.serve.environment`), with this run's
        database, uploads and EFS stand-ins."""
        database = None
        if self.config.database.mode != "external":
            assert self.db is not None
            database = private_database(self.db.wordpress_host, local["db_password"])
        uploads = self.bucket.handler_env() if self.bucket else {contract.UPLOADS_DIR_ENV: str(self.paths.uploads)}
        stand_ins = LocalStandIns(salt=local["salt"], database=database, uploads=uploads,
                                  content_dir=str(self.paths.efs) if self.config.storage.mode == "efs" else None)
        return handler_environment(self.config, self.paths, build_dir, php, stand_ins,
                                   function_name=self.site_function,
                                   api_address=self.api.address if self.api else None, profile=self.options.profile)

    def sync_content(self) -> dict[str, Any]:
        """The ``{"wplambda": "content"}`` invocation a deploy sends, to the console function (its
        timeout, not the site's, bounds a first copy of a large wp-content)."""
        assert self.console_api is not None
        result = self.console_api.invoke(efs_mod.sync_event(self.config), timeout=self.config.console.timeout + 5)
        if "error" in result:
            raise UserError(f"seeding {self.paths.efs} failed: {result['error']}",
                            f"see {self.paths.logs / 'console.log'}")
        return result

    def _concurrency_line(self) -> str:
        """The banner's word on --concurrency: the cap and what a request beyond it gets."""
        cap = self.options.concurrency
        if cap is None:
            return "no cap (serve --concurrency N emulates the site function's reserved concurrency)"
        status = throttle_status(self.config.function.front_door)
        return (f"{cap} request(s) in the site's function at once, as reserved concurrency; the rest get "
                f"{status} ({self.config.function.front_door}'s throttle answer)")

    def _page_cache_line(self) -> str:
        """The banner's word on the page cache: on with its TTLs (those of the distribution's
        cache policy), or off and why."""
        cache = self.config.cache
        if not cache.pages:
            return "off (cache.pages = false): every page goes to WordPress, as deployed"
        if not self.options.cache:
            return "off (--no-cache): every page goes to WordPress; deployed, CloudFront caches them"
        ttls = contract.page_cache_ttls(cache.ttl)
        return (f"on, as CloudFront's (min/default/max TTL {ttls.min}/{ttls.default}/{ttls.max} s; WordPress "
                f"marks pages for {cache.ttl} s, then {cache.stale_ttl} s stale); the X-Cache header says "
                "Hit or Miss, --no-cache turns it off")

    def _invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        assert self.api is not None
        return self.api.invoke(event, timeout=self.config.function.timeout + 5)

    @property
    def client(self) -> SiteClient:
        """The served site over HTTP: readiness, installation, the home page."""
        return SiteClient(self.options.host, self.options.port, self.url, self.paths.logs)

    def stop(self) -> None:
        """Stop the gateway, every handler process (and its php-fpm), the emulator and the private MariaDB."""
        if self.gateway is not None:
            self.gateway.shutdown()
            self.gateway.server_close()
            self.gateway = None
        if self.endpoint is not None:
            (self.paths.run / INVOKE_FILE).unlink(missing_ok=True)
            self.endpoint.stop()
            self.endpoint = None
        self.group.stop_all()
        for api in (self.api, self.console_api):
            if api is not None:
                api.stop()
        self.api = self.console_api = None
        if self.db is not None:
            self.db.stop()
            self.db = None
        for pid_file in self.paths.run.glob("*.pid"):
            pid_file.unlink(missing_ok=True)



def prepare_build(config: Config, *, rebuild: bool, progress: Reporter,
                  s3_uploads: bool = False) -> tuple[Path, PhpSource]:
    """The serve build and the local PHP it runs with, rebuilt first when an input changed.

    The serve build has its own directory (a deploy build is never overwritten) and uses the
    distribution's PHP. It carries S3 Uploads only when ``s3_uploads`` (``--s3-endpoint``);
    otherwise uploads stay on the local disk and no Composer source is needed.
    """
    from wp_lambda import bundle as build_mod

    php = local_php_source(config.php.version)
    if rebuild:
        build_mod.build(config, target="serve", php_source=php, progress=progress, s3_uploads=s3_uploads)
    build_dir = build_mod.output_dir(config, "serve")
    if not (build_dir / "function" / "wp-settings.php").exists():
        raise UserError(f"no serve build in {build_dir}", "drop --no-build so serve builds first")
    if s3_uploads and not (build_dir / "function" / "vendor" / "humanmade" / "s3-uploads").is_dir():
        raise UserError(f"the serve build in {build_dir} has no S3 Uploads, which --s3-endpoint needs",
                        "drop --no-build so serve builds it in")
    return build_dir, php
