"""``wplambda serve``: the built site on this machine, through the same Lambda handler.

By concern: :mod:`.state` (where ``.wplambda/local`` keeps things, the local secrets, the invoke
endpoint a running serve records), :mod:`.environment` (what the runtime processes are started
with, from the template's own function), :mod:`.install` (WordPress over HTTP: ready, installed,
install, home page), :mod:`.site` (one run: start everything, stop everything by PID) and
:mod:`.console` (the console function alone, for ``wplambda wp --local``).
"""

from wp_lambda.serve.console import console_session
from wp_lambda.serve.site import LocalSite, ServeInfo, ServeOptions, prepare_build
from wp_lambda.serve.state import LocalPaths, RunningEndpoint, reset, running_endpoint

__all__ = ["LocalPaths", "LocalSite", "RunningEndpoint", "ServeInfo", "ServeOptions", "console_session",
           "prepare_build", "reset", "running_endpoint"]
