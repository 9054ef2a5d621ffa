"""``wplambda build``: WordPress, S3 Uploads, plugins and the PHP layer into deterministic zips.

One module per step (``core``, ``composer``, ``plugins``, ``php``, ``assets``, ``zips``,
``report``), orchestrated by ``pipeline``. Other parts of the kit call :func:`build` and
:func:`is_stale`; ``serve`` and ``build --target serve`` pass ``target="serve"`` and
``php_source=local_php_source(config.php.version)``: the PHP this machine has, whatever the branch
the site deploys (Debian 12 ships only 8.2).
"""

from __future__ import annotations

from wp_lambda.bundle.php import PhpSource, debian_php_source, local_php_source
from wp_lambda.bundle.pipeline import BuildResult, build, is_stale, output_dir, read_manifest
from wp_lambda.common.report import QuietReporter, Reporter

__all__ = ["BuildResult", "PhpSource", "QuietReporter", "Reporter", "build", "debian_php_source", "is_stale",
           "local_php_source",
           "output_dir",
           "read_manifest"]
