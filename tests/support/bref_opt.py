"""Bref v3's layer layout under a temp prefix, filled with Debian's PHP: for the runtime's layout
test and the Bref-layout benchmark.

Debian's ``php-fpm8.2`` and ``php8.2`` become ``bin/php-fpm`` and ``bin/php``, Debian's extension
``.so`` files go to ``bref/extensions/``, and ``bref/etc/php/conf.d/bref.ini`` carries the settings
of Bref's own ``bref.ini`` that matter here (``memory_limit = 10240M``, ``opcache.file_cache_only =
1``, ``variables_order``...) and loads the extensions; ``ext-gd.ini`` beside it says
``extension=gd.so`` as Bref's gd extra layer does (brefphp/extra-php-extensions, layers/gd). The
kit's php.ini and php-fpm.conf are the real renderings of ``config``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from wp_lambda.config import Config
from wp_lambda.render import render_text

DEBIAN_FPM, DEBIAN_PHP = Path("/usr/sbin/php-fpm8.2"), Path("/usr/bin/php8.2")
DEBIAN_CONF_D = Path("/etc/php/8.2/fpm/conf.d")
# The extensions the fake extra layers add; the base layer has neither (as Bref's has neither).
EXTRA = ("gd", "imagick")


@dataclass
class FakeOpt:
    """The prefix standing in for /opt, and the function's code (``LAMBDA_TASK_ROOT``)."""

    prefix: Path
    task: Path

    def environ(self) -> dict[str, str]:
        """What Lambda and the template give the runtime, with the prefix instead of /opt."""
        return {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": "/var/lang/lib:/lib64",
                "WPLAMBDA_PHP_LAYOUT": "bref", "WPLAMBDA_PHP_PREFIX": str(self.prefix),
                "LAMBDA_TASK_ROOT": str(self.task)}


def debian_php_missing() -> str | None:
    """Why the fake layout cannot be built here, or None."""
    if DEBIAN_FPM.is_file() and DEBIAN_PHP.is_file() and DEBIAN_CONF_D.is_dir():
        return None
    return "Debian's php8.2-fpm and php8.2-cli are required (make setup installs them)"


def _debian_extensions() -> list[tuple[str, str]]:
    """(directive, so name) of each module Debian's php-fpm loads, in Debian's priority order."""
    out = []
    for ini in sorted(DEBIAN_CONF_D.glob("*.ini")):
        match = re.search(r"^\s*(zend_extension|extension)\s*=\s*(\S+?)(\.so)?\s*$", ini.read_text(), re.M)
        if match and match.group(2) not in EXTRA:
            out.append((match.group(1), match.group(2)))
    return out


def make_fake_opt(root: Path, config: Config, task: Path | None = None) -> FakeOpt:
    """Bref's layout (plus the gd layer) under ``root / "opt"``; ``task`` defaults to ``root / "task"``."""
    prefix, task = root / "opt", task or root / "task"
    ext_dir = Path(subprocess.run([str(DEBIAN_PHP), "-r", "echo ini_get('extension_dir');"], capture_output=True,
                                  text=True, check=True).stdout.strip())
    (prefix / "bin").mkdir(parents=True)
    (prefix / "lib").mkdir()
    shutil.copy2(DEBIAN_FPM, prefix / "bin" / "php-fpm")
    shutil.copy2(DEBIAN_PHP, prefix / "bin" / "php")
    extensions = prefix / "bref" / "extensions"
    extensions.mkdir(parents=True)
    lines = [f"extension_dir={extensions}", "memory_limit=10240M", "opcache.enable=1", "opcache.enable_cli=1",
             f"opcache.file_cache={root / 'opcache'}", "opcache.file_cache_only=1", 'variables_order="EGPCS"',
             "disable_functions=fastcgi_finish_request"]
    (root / "opcache").mkdir()
    for directive, name in _debian_extensions():
        shutil.copy2(ext_dir / f"{name}.so", extensions / f"{name}.so")
        lines.append(f"{directive}={name}" + (".so" if directive == "zend_extension" else ""))
    conf_d = prefix / "bref" / "etc" / "php" / "conf.d"
    conf_d.mkdir(parents=True)
    (conf_d / "bref.ini").write_text("\n".join(lines) + "\n")
    # The gd extra layer: its .so beside Bref's, and the ini that enables it.
    shutil.copy2(ext_dir / "gd.so", extensions / "gd.so")
    (conf_d / "ext-gd.ini").write_text("extension=gd.so\n")
    (prefix / "wplambda").mkdir()
    (prefix / "wplambda" / "php.ini").write_text(render_text("php.ini.j2", config))
    (prefix / "wplambda" / "php-fpm.conf").write_text(render_text("php-fpm.conf.j2", config))
    task.mkdir(parents=True, exist_ok=True)
    return FakeOpt(prefix, task)
