"""A project's local state (``.wplambda/local``): where each part lives, the local secrets, the
invoke endpoint a running ``serve`` records, and resetting it all.

Read by ``serve`` itself and by what talks to a running one (``wplambda wp --local``, export and
import), so none of them needs the orchestration in :mod:`wp_lambda.serve.site`.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from wp_lambda.common.errors import UserError
from wp_lambda.common.files import atomic_write
from wp_lambda.config import Config
from wp_lambda.local.invoke_endpoint import InvokeCredentials
from wp_lambda.local.processes import ProcessGroup
from wp_lambda.runtime import contract

# Set in every handler's environment (and so in its php-fpm's): how a later run finds the
# processes of a crashed one that no pid file names.
STATE_ENV = "WPLAMBDA_SERVE_STATE"
INVOKE_FILE = "invoke.json"


@dataclass
class LocalPaths:
    """Where one project's local state lives (all under ``.wplambda/local``)."""

    root: Path

    @classmethod
    def of(cls, config: Config) -> LocalPaths:
        return cls(config.root / ".wplambda" / "local")

    db = property(lambda self: self.root / "db")
    run = property(lambda self: self.root / "run")
    logs = property(lambda self: self.root / "logs")
    uploads = property(lambda self: self.root / "uploads")
    efs = property(lambda self: self.root / "efs")  # storage.mode = "efs": what the function mounts
    secrets = property(lambda self: self.root / "secrets.json")
    layer = property(lambda self: self.root / "layer")
    mail = property(lambda self: self.root / contract.LOCAL_MAIL_DIR)  # serve's mailbox: one .eml per message

    @property
    def state_entry(self) -> str:
        """``STATE_ENV=root``: what the environment of this project's processes holds."""
        return f"{STATE_ENV}={self.root}"


@dataclass(frozen=True)
class RunningEndpoint:
    """The invoke endpoint of a running local site (what ``run/invoke.json`` records, 0600: its
    credentials let whoever reads them run PHP as the developer)."""

    address: str
    site_function: str
    console_function: str
    credentials: InvokeCredentials

    def as_json(self) -> str:
        """The file's content: flat, so a boto3 user passes its keys to ``boto3.client`` as they are."""
        return json.dumps({"address": self.address, "endpoint_url": f"http://{self.address}",
                           "site_function": self.site_function, "console_function": self.console_function,
                           "access_key_id": self.credentials.access_key_id,
                           "secret_access_key": self.credentials.secret_access_key}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> RunningEndpoint:
        data = json.loads(text)
        return cls(data["address"], data["site_function"], data["console_function"],
                   InvokeCredentials(data["access_key_id"], data["secret_access_key"]))


def local_secrets(paths: LocalPaths) -> dict[str, str]:
    """The local DB password and salt: generated once, kept 0600 outside the build and the repo."""
    try:
        return json.loads(paths.secrets.read_text())
    except FileNotFoundError:
        values = {"db_password": secrets.token_urlsafe(24), "salt": secrets.token_urlsafe(48)}
        atomic_write(paths.secrets, json.dumps(values), mode=0o600)
        return values


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}",
                            f"stop what uses port {port}, or pass --port with a free port") from None


def reset(config: Config) -> Path:
    """Delete the project's local data (database, uploads, EFS stand-in, logs, local secrets)."""
    paths = LocalPaths.of(config)
    ProcessGroup(paths.run).clean_stale(str(paths.root), paths.state_entry)
    shutil.rmtree(paths.root, ignore_errors=True)
    return paths.root


def record_endpoint(paths: LocalPaths, running: RunningEndpoint) -> None:
    """Write ``run/invoke.json``: created 0600 by ``atomic_write``'s temp file and renamed into
    place, so no other user can read the credentials even while it is being written."""
    atomic_write(paths.run / INVOKE_FILE, running.as_json(), mode=0o600)


def running_endpoint(config: Config) -> RunningEndpoint | None:
    """The invoke endpoint of the project's running ``serve``, or None when it is not running."""
    paths = LocalPaths.of(config)
    if ProcessGroup(paths.run).running("serve") is None:
        return None
    try:
        return RunningEndpoint.from_json((paths.run / INVOKE_FILE).read_text())
    except (FileNotFoundError, ValueError, TypeError, KeyError):
        return None
