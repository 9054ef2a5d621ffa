"""The client side of direct invocations: run wp-cli (or any ``{"wplambda": ...}`` event) in a site.

A :class:`Target` is one place the site's *console function* runs: a deployed stack
(:func:`stack_target`, boto3's Lambda ``Invoke``) or this machine (:func:`local_target`: the
running ``wplambda serve``, else a private MariaDB and one console runtime process started for
the occasion). Both send the same event to the same handler (``wp_lambda.runtime.handler``),
so what works locally works deployed.

For other parts of the kit (plugin lifecycle, import/export), the whole contract is::

    from wp_lambda.remote import local_target, stack_target

    with local_target(config) as target:                    # or: target = stack_target(config, aws, "blog")
        result = target.wp(["plugin", "list", "--format=json"])
        if result.exit_code != 0:
            ...                                             # wp-cli's own failure: result.stderr says why

``wp`` raises :class:`~wp_lambda.common.errors.UserError` (exit code 2 at the CLI) only when wp-cli could
not run or finish: no such stack, no console function, access denied, a timeout
(:class:`WpTimeout`), or a crash of the function. A non-zero exit of wp-cli itself is a result,
not an exception. Each call is a fresh ``php wp-cli.phar`` process: nothing carries over between
calls but the database (and uploads).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

from wp_lambda.common.errors import UserError
from wp_lambda.config import Config
from wp_lambda.runtime import contract
from wp_lambda.runtime.commands import command_words

if TYPE_CHECKING:
    from wp_lambda.aws import Aws
    from wp_lambda.common.report import Reporter
    from wp_lambda.serve.state import RunningEndpoint
    from wp_lambda.stack import StackState

log = logging.getLogger("wplambda")

# Waiting for an answer: the function's own deadline plus time for the network and a cold start.
_GRACE = 30.0

# TCP keepalive on the Invoke connection: the first probe after this many seconds of silence, then
# one every KEEPALIVE_INTERVAL while unanswered, and the connection counts as lost after
# KEEPALIVE_PROBES unanswered ones. See LambdaTarget for why.
KEEPALIVE_IDLE = 60
KEEPALIVE_INTERVAL = 30
KEEPALIVE_PROBES = 5


def keepalive_timing() -> list[tuple[int, int, int]]:
    """The socket options that make the kernel probe an idle connection after KEEPALIVE_IDLE s.

    SO_KEEPALIVE alone (botocore's ``tcp_keepalive``) keeps the system's idle time, 7200 s by
    default on Linux (net.ipv4.tcp_keepalive_time): no probe would leave before a 350 s NAT timeout.
    macOS names the idle option TCP_KEEPALIVE; an option the system lacks is missing from Python's
    ``socket`` module and left out here.
    """
    import socket

    idle = getattr(socket, "TCP_KEEPIDLE", None) or getattr(socket, "TCP_KEEPALIVE", None)
    wanted = [(idle, KEEPALIVE_IDLE), (getattr(socket, "TCP_KEEPINTVL", None), KEEPALIVE_INTERVAL),
              (getattr(socket, "TCP_KEEPCNT", None), KEEPALIVE_PROBES)]
    return [(socket.IPPROTO_TCP, option, value) for option, value in wanted if option is not None]


@dataclass
class WpResult:
    """What one wp-cli run gave: its output, exit code and duration (measured in the function)."""

    stdout: str
    stderr: str
    exit_code: int
    duration_ms: int
    request_id: str
    truncated: bool  # stdout or stderr was cut to fit Lambda's 6 MB response (the text says where)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` shape (the field names above)."""
        return asdict(self)


class WpTimeout(UserError):
    """wp-cli did not finish before the console function's deadline (it was stopped)."""


class Target(Protocol):
    """Where a site's console function runs. See the module docstring for the contract."""

    name: str  # for messages: "stack blog", "local site"

    def invoke(self, event: dict[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        """Send one direct invocation (``{"wplambda": ...}``) to the console function; its return value.

        ``timeout`` narrows the function's own deadline (``console.timeout``) for this call.
        Raises UserError when the function cannot be reached or crashed.
        """
        ...

    def wp(self, args: list[str], *, timeout: float | None = None) -> WpResult:
        """``wp ARGS`` (no shell: each element is one argument) on the site; raises WpTimeout."""
        ...


class _Target:
    """What every target shares: building the event and reading the answer. Subclasses send."""

    name = ""
    console_timeout = 900

    def _send(self, event: dict[str, Any], wait: float) -> tuple[dict[str, Any], str]:
        """The function's return value and the invocation's request id."""
        raise NotImplementedError

    def invoke(self, event: dict[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        return self._call(event, timeout)[0]

    def _limit(self, timeout: float | None) -> float:
        """The deadline a call gets: the console function's own, or ``timeout`` when shorter."""
        return self.console_timeout if timeout is None else min(timeout, self.console_timeout)

    def _call(self, event: dict[str, Any], timeout: float | None) -> tuple[dict[str, Any], str]:
        if timeout is not None:
            event = {**event, "timeout": timeout}
        return self._send(event, self._limit(timeout) + _GRACE)

    def wp(self, args: list[str], *, timeout: float | None = None) -> WpResult:
        payload, request_id = self._call({contract.DIRECT_KEY: contract.WP, "args": list(args)}, timeout)
        if "error" in payload:
            raise UserError(f"{self.name}: {payload['error']}",
                            "deploy the site again with this version of wplambda")
        result = WpResult(str(payload.get("stdout", "")), str(payload.get("stderr", "")),
                          int(payload.get("exitCode", 1)), int(payload.get("durationMs", 0)), request_id,
                          bool(payload.get("truncated", False)))
        if payload.get("timedOut"):
            raise self._timeout(args, result.duration_ms / 1000, self._limit(timeout), result.stdout)
        return result

    def _timeout(self, args: list[str], seconds: float, limit: float, partial: str = "") -> WpTimeout:
        shown = f"; its output so far:\n{partial.rstrip()[-2000:]}" if partial.strip() else ""
        return WpTimeout(f"`{command_words(args)}` on the {self.name} ran for {seconds:.0f} s and was stopped at the "
                         f"console function's deadline ({limit:g} s){shown}",
                         "raise console.timeout in wplambda.toml (up to 900 s) and deploy again (under "
                         "`serve`, restart it), or split the work into shorter commands")

    def _crash(self, payload: dict[str, Any]) -> UserError:
        """A function error: Lambda's own timeout (the handler did not answer in time), or a crash."""
        message = payload.get("errorMessage", payload)
        if "timed out" in str(message).lower():
            return self._timeout([], self.console_timeout, self.console_timeout)
        return UserError(f"the console function of the {self.name} failed: {message}",
                         "see its log (`wplambda logs`, or .wplambda/local/logs/ under serve)")


class LambdaTarget(_Target):
    """The console function of a deployed stack, through boto3's Lambda ``Invoke``.

    ``AWS_ENDPOINT_URL_LAMBDA`` (or ``AWS_ENDPOINT_URL``) sends the call elsewhere, e.g. to the
    local invoke endpoint of ``wplambda serve``; nothing else changes.

    Long commands (an ``import`` may run the whole 900 s) keep their reply because the connection
    never looks idle. A synchronous Invoke sends nothing until the function returns, and whatever
    translates addresses between this machine and Lambda forgets a silent flow: an AWS NAT gateway
    or load balancer after 350 s (the CLI run from an EC2 instance, CI runner or CodeBuild in a
    private subnet), a home router, carrier-grade or corporate NAT after its own, often shorter,
    time. The function's own network (its VPC, its NAT) is not on this path at all. AWS's advice
    is TCP keepalive below 350 s
    (https://aws.amazon.com/premiumsupport/knowledge-center/lambda-vpc-timeout/): every probe
    and its answer refresh each NAT's entry, so the client probes after KEEPALIVE_IDLE seconds of
    silence (:func:`keepalive_timing`), and the read timeout is the function's deadline plus
    _GRACE, not botocore's 60 s.

    Considered instead: an asynchronous invoke (``InvocationType=Event``) whose result the function
    writes to S3 for the CLI to poll. It would survive what keepalive cannot (a laptop that sleeps,
    a proxy that closes idle upstream connections: keepalive probes reach only the proxy), but
    Lambda may deliver an asynchronous event twice even when the function succeeded, and may drop
    it (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html), so
    `plugin activate` or an import could run twice, or never, and a crash would show only as a
    missing result. A console must run a command once and say how it ended, so it stays
    synchronous.
    """

    def __init__(self, aws: Aws, function_name: str, stack: str, console_timeout: int) -> None:
        self.aws = aws
        self.function_name = function_name
        self.name = f"stack {stack}"
        self.console_timeout = console_timeout
        self._clients: dict[float, Any] = {}

    def _client(self, wait: float) -> Any:
        from wp_lambda.aws import client_config

        if wait not in self._clients:
            # No retries: a command like `plugin activate` or `post create` must not run twice.
            cfg = client_config(read_timeout=wait, connect_timeout=10, retries={"total_max_attempts": 1},
                                tcp_keepalive=True)
            client: Any = self.aws.session.client("lambda", region_name=self.aws.region, config=cfg)
            # botocore's Config has SO_KEEPALIVE (above) but no say over the idle time, so the timing
            # joins the list of socket options the client's HTTP session gives each new connection
            # (botocore.httpsession.URLLib3Session; its pools hold this very list). A private name:
            # tests/integration/wp_cli/test_wp_stack.py reads the options off the live socket, so a
            # botocore that moves it fails there, not silently.
            try:
                client._endpoint.http_session._socket_options.extend(keepalive_timing())
            except (AttributeError, TypeError):
                # A botocore without that list still sends SO_KEEPALIVE (the system's idle time):
                # a long command may lose its reply behind a NAT, every other command still runs.
                log.warning("wplambda: this botocore has no socket options list; TCP keepalive keeps the "
                            "system's idle time, so a reply after 350 s idle may be lost behind a NAT")
            self._clients[wait] = client
        return self._clients[wait]

    def _send(self, event: dict[str, Any], wait: float) -> tuple[dict[str, Any], str]:
        import botocore.exceptions

        from wp_lambda.aws import aws_errors, error_code

        started = time.monotonic()
        try:
            with aws_errors():
                response = self._client(wait).invoke(FunctionName=self.function_name,
                                                     Payload=json.dumps(event).encode())
        except botocore.exceptions.ReadTimeoutError:
            raise self._timeout(event.get("args", []), time.monotonic() - started, wait - _GRACE) from None
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code in ("AccessDeniedException", "AccessDenied"):
                raise UserError(f"access denied invoking {self.function_name} ({self.name}): {exc}",
                                "use credentials allowed lambda:InvokeFunction on it (--profile, or "
                                "aws.profile in wplambda.toml)") from None
            if code == "ResourceNotFoundException":
                raise UserError(f"the console function {self.function_name} of the {self.name} does not exist",
                                "deploy the stack again (`wplambda deploy`)") from None
            raise UserError(f"invoking {self.function_name} failed: {exc}", "retry, or check `wplambda status`") \
                from None
        payload = _decode(response["Payload"].read(), self.name)
        if response.get("FunctionError"):
            raise self._crash(payload)
        return payload, str(response.get("ResponseMetadata", {}).get("RequestId", ""))


class EndpointTarget(_Target):
    """A function behind a Lambda invoke endpoint on this machine (``serve``'s), over plain HTTP.

    The same ``POST /2015-03-31/functions/NAME/invocations`` boto3 sends, without importing boto3:
    ``wplambda wp --local`` starts faster.
    """

    def __init__(self, running: RunningEndpoint, function_name: str, console_timeout: int,
                 name: str = "local site") -> None:
        self.url = f"http://{running.address}/2015-03-31/functions/{function_name}/invocations"
        self._authorization = running.credentials.bearer()
        self.name = name
        self.console_timeout = console_timeout

    def _send(self, event: dict[str, Any], wait: float) -> tuple[dict[str, Any], str]:
        request = urllib.request.Request(self.url, data=json.dumps(event).encode(), method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": self._authorization})
        try:
            with urllib.request.urlopen(request, timeout=wait) as response:
                body, headers = response.read(), response.headers
        except urllib.error.HTTPError as exc:
            raise UserError(f"the {self.name}'s invoke endpoint answered {exc.code}: {exc.read()[:300]!r}",
                            "restart `wplambda serve`") from None
        except TimeoutError:
            raise self._timeout(event.get("args", []), wait, wait - _GRACE) from None
        except OSError as exc:
            raise UserError(f"cannot reach the {self.name}'s invoke endpoint at {self.url}: {exc}",
                            "is `wplambda serve` still running? restart it") from None
        payload = _decode(body, self.name)
        if headers.get("X-Amz-Function-Error"):
            raise self._crash(payload)
        return payload, headers.get("x-amzn-RequestId", "")


def _decode(body: bytes, where: str) -> dict[str, Any]:
    """The function's answer as a JSON object, or a UserError quoting what came instead."""
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise UserError(f"the console function of the {where} answered {body[:300]!r}, not a JSON object",
                        "deploy the site again with this version of wplambda, and see its log")
    return payload


def stack_target(config: Config, aws: Aws, stack: str, *, state: StackState | None = None) -> Target:
    """The console function of ``stack`` (found by its logical id, ``ConsoleFunction``), from
    ``state`` when the caller has read the stack already (a deploy), else read here.

    Raises UserError when the stack does not exist, has no console function (deployed by an
    older kit) or the credentials may not read it.
    """
    from wp_lambda import stack as stack_mod
    from wp_lambda.aws import aws_errors, error_code

    if state is not None:
        function = state.physical_id(stack_mod.CONSOLE_FUNCTION)
    else:
        cfn = aws.client("cloudformation")
        try:
            with aws_errors():
                stack_mod.require(cfn, stack)
                function = stack_mod.physical_id(cfn, stack, stack_mod.CONSOLE_FUNCTION)
        except UserError:
            raise
        except Exception as exc:
            if error_code(exc) in ("AccessDenied", "AccessDeniedException"):
                raise UserError(f"access denied reading stack {stack!r}: {exc}",
                                "use credentials allowed cloudformation:DescribeStacks and DescribeStackResources "
                                "(--profile, or aws.profile in wplambda.toml)") from None
            raise
    if function is None:
        raise UserError(f"stack {stack!r} has no console function ({stack_mod.CONSOLE_FUNCTION})",
                        f"deploy it with this version of wplambda (`wplambda deploy --stack {stack}`)")
    return LambdaTarget(aws, function, stack, config.console.timeout)


@contextlib.contextmanager
def local_target(config: Config, *, progress: Reporter | None = None) -> Iterator[Target]:
    """The project's local site: the console function of a running ``wplambda serve`` (through its
    invoke endpoint), else one started for the ``with`` block and stopped after it.

    Without ``serve`` this brings the serve build up to date (``progress`` reports it), starts the
    private MariaDB (``.wplambda/local/db``) and one console runtime process under awslambdaric,
    exactly as ``serve`` runs it; while the block runs, ``serve`` refuses to start for the project.
    Raises UserError when it cannot start (no MariaDB, a broken build, another such session).
    """
    from wp_lambda import serve as serve_mod

    running = serve_mod.running_endpoint(config)
    if running is not None:
        yield EndpointTarget(running, running.console_function, config.console.timeout)
        return
    with serve_mod.console_session(config, progress=progress) as session:
        yield EndpointTarget(session, session.console_function, config.console.timeout)


@contextlib.contextmanager
def open_target(config: Config, *, stack: str | None, local: bool, profile: str | None = None,
                progress: Reporter | None = None) -> Iterator[Target]:
    """The target ``--local`` or ``--stack NAME`` names, open for the block.

    Without either it is the deployed stack ``site.name`` (:func:`wp_lambda.stack.stack_name`),
    as for every command that takes ``--stack``; both at once is refused.
    """
    if stack and local:
        raise UserError(f"--stack {stack} and --local both name where this runs",
                        "pass --local for the local site, or --stack NAME (default: site.name) for a deployed "
                        "one, not both")
    if local:
        with local_target(config, progress=progress) as target:
            yield target
        return
    from wp_lambda.aws import connect
    from wp_lambda.stack import stack_name

    yield stack_target(config, connect(config, profile=profile), stack_name(config, stack))
