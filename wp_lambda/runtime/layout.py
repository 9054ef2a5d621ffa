"""Where PHP lives in the layers under /opt, and how php-fpm and php must be started to find it all.

The function's PHP comes from one of two layouts (``WPLAMBDA_PHP_LAYOUT``, set by the template):

``bref``: Bref v3's runtime layer (``php-84``, ``arm-php-84``), as its Dockerfile builds it:
  binaries in ``bin/`` (``bin/php``, ``bin/php-fpm``), shared libraries in ``lib/`` (compiled with
  the ``/opt/lib`` rpath; Lambda's ``LD_LIBRARY_PATH`` holds it too), extensions in
  ``bref/extensions/``, and PHP compiled with ``--with-config-file-path=/opt/bref/etc/php`` and
  ``--with-config-file-scan-dir=/opt/bref/etc/php/conf.d:/var/task/php/conf.d``. Bref's settings
  (``extension_dir``, opcache, ``variables_order = EGPCS``, ``memory_limit = 10240M``...) are in
  ``bref/etc/php/conf.d/bref.ini``, and each extra-extension layer (gd, imagick) adds its
  ``.so`` to ``bref/extensions/`` and an ``ext-<name>.ini`` beside ``bref.ini``: attaching the layer
  is what enables the extension. Scanned files are read after ``php.ini``, so passing the kit's
  php.ini with ``-c`` would let ``bref.ini`` override it (the configured ``memory_limit`` would be
  silently 10 GB). Instead ``-c`` names Bref's own config path, and the scan list is Bref's conf.d,
  then the kit's php.ini directory, then the function's ``php/conf.d`` (Bref's place for a site's
  own ini files, last so the site wins). Bref's FPM bootstrap also starts php-fpm with
  ``-d opcache.file_cache_only=0`` (the file-only cache suits one-shot CLI processes, not a pool).

``dir``: the kit's own layer with binaries from a directory (``php.source = "dir"``): ``bin/``,
  ``lib/``, extensions in ``lib/php/extensions/`` loaded by ``wplambda/conf.d/10-extensions.ini``.

Unset: the binaries and php.ini are named one by one (``WPLAMBDA_PHP_FPM``, ``WPLAMBDA_PHP``,
``WPLAMBDA_PHP_INI``); ``serve`` and the tests run Debian's PHP this way. Those variables also
override the layout's own paths. ``WPLAMBDA_PHP_PREFIX`` (default ``/opt``, where Lambda mounts
layers) lets the tests put a layout under a temp dir instead of the real /opt.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from wp_lambda.runtime import contract

LAYOUTS = ("bref", "dir")
DEFAULT_PREFIX = contract.LAYER_ROOT
DEFAULT_TASK_ROOT = "/var/task"


@dataclass(frozen=True)
class PhpLayout:
    """The PHP binaries, the kit's config files, and the arguments and variables PHP starts with."""

    php_fpm: str
    php: str
    php_ini: str
    fpm_conf: str
    # Arguments naming the ini files, for php and php-fpm alike.
    ini_args: tuple[str, ...]
    # Arguments for php-fpm only.
    fpm_args: tuple[str, ...] = ()
    # Variables PHP must be started with (merged into the environment by :meth:`environ`).
    variables: dict[str, str] = field(default_factory=dict)

    def environ(self, base: Mapping[str, str]) -> dict[str, str]:
        """``base`` with this layout's variables: search paths get the layout's directory in front
        (``LD_LIBRARY_PATH``) or at the end (``PATH``, where Lambda keeps /opt/bin) unless present."""
        env = dict(base)
        for name, value in self.variables.items():
            if name == "LD_LIBRARY_PATH":
                env[name] = _with_path(env.get(name, ""), value, first=True)
            elif name == "PATH":
                env[name] = _with_path(env.get(name, ""), value, first=False)
            else:
                env[name] = value
        return env


def _with_path(current: str, directory: str, *, first: bool) -> str:
    parts = [p for p in current.split(":") if p]
    if directory in parts:
        return current
    return ":".join([directory, *parts] if first else [*parts, directory])


def from_env(env: Mapping[str, str]) -> PhpLayout:
    """The layout ``env`` describes (see the module docstring); unknown layouts raise ValueError."""
    kind = env.get(contract.PHP_LAYOUT_ENV, "")
    prefix = env.get(contract.PHP_PREFIX_ENV) or DEFAULT_PREFIX
    task_root = env.get(contract.DOCUMENT_ROOT_ENV) or env.get("LAMBDA_TASK_ROOT") or DEFAULT_TASK_ROOT
    php_ini = env.get(contract.PHP_INI_ENV) or f"{prefix}/wplambda/php.ini"
    layout = functools.partial(PhpLayout, php_fpm=env.get(contract.PHP_FPM_ENV) or f"{prefix}/bin/php-fpm",
                               php=env.get(contract.PHP_CLI_ENV) or f"{prefix}/bin/php", php_ini=php_ini,
                               fpm_conf=env.get(contract.FPM_CONF_ENV) or f"{prefix}/wplambda/php-fpm.conf")
    if kind == "bref":
        scan = [f"{prefix}/bref/etc/php/conf.d", os.path.dirname(php_ini), f"{task_root}/php/conf.d"]
        return layout(ini_args=("-c", f"{prefix}/bref/etc/php"),
                         fpm_args=("-d", "opcache.file_cache_only=0"),
                         variables={"PHP_INI_SCAN_DIR": ":".join(scan), "LD_LIBRARY_PATH": f"{prefix}/lib",
                                    "PATH": f"{prefix}/bin"})
    if kind == "dir":
        return layout(ini_args=("-c", php_ini, "-d", f"extension_dir={prefix}/lib/php/extensions"),
                         variables={"PHP_INI_SCAN_DIR": f"{prefix}/wplambda/conf.d",
                                    "LD_LIBRARY_PATH": f"{prefix}/lib"})
    if kind:
        raise ValueError(f"WPLAMBDA_PHP_LAYOUT={kind!r} is not one of {', '.join(LAYOUTS)} (or unset)")
    return layout(ini_args=("-c", php_ini))
