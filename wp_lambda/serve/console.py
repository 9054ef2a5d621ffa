"""Console sessions for ``wplambda wp --local`` (and export/import) when no ``serve`` runs: only
the console function, brought up for a ``with`` block and stopped after it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from wp_lambda.bundle.php import local_php_source
from wp_lambda.common.report import QuietReporter, Reporter
from wp_lambda.config import Config
from wp_lambda.serve.site import LocalSite, ServeOptions, prepare_build
from wp_lambda.serve.state import RunningEndpoint


@contextlib.contextmanager
def console_session(config: Config, *, progress: Reporter | None = None) -> Iterator[RunningEndpoint]:
    """The console function on this machine for the ``with`` block, when no ``serve`` runs: the
    serve build brought up to date, the private MariaDB, one console runtime process and an invoke
    endpoint on a free port; all stopped by PID afterwards."""
    from wp_lambda import bundle as build_mod

    # Asked first, so an up-to-date build says nothing: stderr is wp-cli's own.
    stale = build_mod.is_stale(config, "serve", php_source=local_php_source(config.php.version))
    build_dir, php = prepare_build(config, rebuild=stale, progress=progress or QuietReporter())
    site = LocalSite(config, ServeOptions(), log_line=lambda line: None)
    running = site.start_console(build_dir, php)
    try:
        yield running
    finally:
        site.stop()
