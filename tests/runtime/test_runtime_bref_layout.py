"""The runtime starts PHP the way Bref v3's layer needs, proven with Debian's PHP placed at Bref's paths.

The fake layer lives under a temp prefix (``WPLAMBDA_PHP_PREFIX``; the template sets ``/opt``):
Debian's ``php-fpm8.2`` and ``php8.2`` as ``bin/php-fpm`` and ``bin/php``, Debian's extension
``.so`` files in ``bref/extensions/``, a ``bref/etc/php/conf.d/bref.ini`` carrying the settings of
Bref's own ``bref.ini`` that collide with the kit's (``memory_limit = 10240M``,
``opcache.file_cache_only = 1``, ``variables_order``) and loading the extensions, and an
``ext-gd.ini`` with ``extension=gd.so`` beside it, as Bref's gd extra layer drops one
(brefphp/extra-php-extensions, layers/gd/Dockerfile). The kit's php.ini and php-fpm.conf are the
real renderings. Nothing is mocked: a real php-fpm answers a real FastCGI request through the handler.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lambda_events import Context, v2

from wp_lambda.config import parse
from wp_lambda.render import render_text
from wp_lambda.runtime import layout
from wp_lambda.runtime.fpm import FpmSettings
from wp_lambda.runtime.handler import Runtime

DEBIAN_FPM, DEBIAN_PHP = Path("/usr/sbin/php-fpm8.2"), Path("/usr/bin/php8.2")
DEBIAN_CONF_D = Path("/etc/php/8.2/fpm/conf.d")
# The extensions the fake extra layers add; the base layer has neither (as Bref's has neither).
EXTRA = ("gd", "imagick")

INFO_PHP = r"""<?php
$image = imagecreatetruecolor(40, 30);
imagefilledrectangle($image, 0, 0, 39, 29, imagecolorallocate($image, 200, 30, 30));
$thumb = imagescale($image, 20);
ob_start();
imagepng($thumb);
$png = ob_get_clean();
header('Content-Type: application/json');
echo json_encode([
    'scanned' => array_values(array_filter(array_map('trim', explode(',', (string) php_ini_scanned_files())))),
    'loaded_ini' => php_ini_loaded_file(),
    'memory_limit' => ini_get('memory_limit'),
    'file_cache_only' => ini_get('opcache.file_cache_only'),
    'variables_order' => ini_get('variables_order'),
    'max_input_vars' => ini_get('max_input_vars'),
    'extension_dir' => ini_get('extension_dir'),
    'mysqli' => extension_loaded('mysqli'),
    'thumbnail' => [imagesx($thumb), imagesy($thumb), substr($png, 1, 3)],
    'ld_library_path' => getenv('LD_LIBRARY_PATH'),
]);
"""


@dataclass
class FakeOpt:
    prefix: Path
    task: Path

    def environ(self) -> dict[str, str]:
        return {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": "/var/lang/lib:/lib64",
                "WPLAMBDA_PHP_LAYOUT": "bref", "WPLAMBDA_PHP_PREFIX": str(self.prefix),
                "LAMBDA_TASK_ROOT": str(self.task)}


def _debian_extensions() -> list[tuple[str, str]]:
    """(directive, so name) of each module Debian's php-fpm loads, in Debian's priority order."""
    out = []
    for ini in sorted(DEBIAN_CONF_D.glob("*.ini")):
        match = re.search(r"^\s*(zend_extension|extension)\s*=\s*(\S+?)(\.so)?\s*$", ini.read_text(), re.M)
        if match and match.group(2) not in EXTRA:
            out.append((match.group(1), match.group(2)))
    return out


@pytest.fixture(scope="module")
def fake_opt(tmp_path_factory: pytest.TempPathFactory) -> FakeOpt:
    if not (DEBIAN_FPM.is_file() and DEBIAN_PHP.is_file() and DEBIAN_CONF_D.is_dir()):
        pytest.fail("Debian's php8.2-fpm and php8.2-cli are required (make setup installs them)")
    root = tmp_path_factory.mktemp("bref-layout")
    prefix, task = root / "opt", root / "task"
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
    # The kit's own layer files, rendered for a site with memory_limit = "192M".
    config = parse('[php]\nmemory_limit = "192M"\n')
    (prefix / "wplambda").mkdir()
    (prefix / "wplambda" / "php.ini").write_text(render_text("php.ini.j2", config))
    (prefix / "wplambda" / "php-fpm.conf").write_text(render_text("php-fpm.conf.j2", config))
    # The function: a page that reports what PHP was started with; a site ini in Bref's place.
    (task / "php" / "conf.d").mkdir(parents=True)
    (task / "php" / "conf.d" / "site.ini").write_text("max_input_vars = 4321\n")
    (task / "info.php").write_text(INFO_PHP)
    return FakeOpt(prefix, task)


@pytest.fixture(scope="module")
def bref_runtime(fake_opt: FakeOpt) -> Iterator[Runtime]:
    rt = Runtime(fake_opt.environ())
    try:
        yield rt
    finally:
        rt.stop()


def test_bref_layout_at_opt_names_bref_v3_paths() -> None:
    """The paths the template's ``WPLAMBDA_PHP_PREFIX=/opt`` gives, as Bref v3's Dockerfile lays them out."""
    php = layout.from_env({"WPLAMBDA_PHP_LAYOUT": "bref", "WPLAMBDA_PHP_PREFIX": "/opt"})
    assert (php.php_fpm, php.php) == ("/opt/bin/php-fpm", "/opt/bin/php")
    assert php.ini_args == ("-c", "/opt/bref/etc/php")
    assert php.fpm_args == ("-d", "opcache.file_cache_only=0")
    env = php.environ({"LD_LIBRARY_PATH": "/var/lang/lib:/opt/lib", "PATH": "/var/lang/bin:/usr/bin:/opt/bin"})
    assert env["PHP_INI_SCAN_DIR"] == "/opt/bref/etc/php/conf.d:/opt/wplambda:/var/task/php/conf.d"
    # Lambda already has /opt/lib and /opt/bin on its search paths: nothing is added twice.
    assert env["LD_LIBRARY_PATH"] == "/var/lang/lib:/opt/lib"
    assert env["PATH"] == "/var/lang/bin:/usr/bin:/opt/bin"
    settings = FpmSettings.from_env({"WPLAMBDA_PHP_LAYOUT": "bref"})
    assert (settings.binary, settings.config) == ("/opt/bin/php-fpm", "/opt/wplambda/php-fpm.conf")
    assert settings.args == ("-c", "/opt/bref/etc/php", "-d", "opcache.file_cache_only=0")


def test_unknown_layout_is_refused() -> None:
    with pytest.raises(ValueError, match="WPLAMBDA_PHP_LAYOUT='brefv2'"):
        layout.from_env({"WPLAMBDA_PHP_LAYOUT": "brefv2"})


def test_php_fpm_under_the_bref_layout_loads_bref_ini_the_extra_layer_and_the_kit_last(
        fake_opt: FakeOpt, bref_runtime: Runtime) -> None:
    response = bref_runtime.handle(v2("GET", "/info.php"), Context())
    assert response["statusCode"] == 200, response
    info = json.loads(response["body"])
    conf_d = fake_opt.prefix / "bref/etc/php/conf.d"
    # Bref's conf.d first (bref.ini, then the extra layer's ini), then the kit's php.ini, then the site's.
    assert info["scanned"] == [str(conf_d / "bref.ini"), str(conf_d / "ext-gd.ini"),
                               str(fake_opt.prefix / "wplambda/php.ini"),
                               str(fake_opt.task / "php/conf.d/site.ini")]
    assert info["loaded_ini"] is False  # no php.ini in Bref's config path, none of Debian's
    assert info["memory_limit"] == "192M"  # the kit's setting wins over bref.ini's 10240M
    assert info["file_cache_only"] == "0"  # what Bref's FPM bootstrap passes with -d
    assert info["variables_order"] == "EGPCS"  # from bref.ini, untouched by the kit
    assert info["max_input_vars"] == "4321"  # the site's php/conf.d wins over the kit's 3000
    assert info["extension_dir"] == str(fake_opt.prefix / "bref/extensions")
    assert info["mysqli"] is True
    assert info["thumbnail"] == [20, 15, "PNG"]  # gd from the extra layer really scales an image
    assert info["ld_library_path"].split(":")[0] == str(fake_opt.prefix / "lib")


def test_php_cli_invocation_uses_the_same_layout(fake_opt: FakeOpt, bref_runtime: Runtime) -> None:
    """``{"wplambda": "php"}`` (what `wplambda wp` runs) reads the same ini files as the pool,
    without the FPM-only ``-d``."""
    result = bref_runtime.handle({"wplambda": "php", "args": [
        "-r", "echo json_encode([ini_get('memory_limit'), extension_loaded('gd'), "
              "ini_get('opcache.file_cache_only'), php_ini_scanned_files()]);"]}, Context())
    assert result["exitCode"] == 0, result
    memory, gd, file_cache_only, scanned = json.loads(result["stdout"])
    assert (memory, gd, file_cache_only) == ("192M", True, "1")
    assert str(fake_opt.prefix / "wplambda/php.ini") in scanned
