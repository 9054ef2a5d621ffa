"""The runtime starts PHP the way Bref v3's layer needs, proven with Debian's PHP placed at Bref's paths.

The fake layer lives under a temp prefix (``WPLAMBDA_PHP_PREFIX``; the template sets ``/opt``),
built by ``bref_opt.make_fake_opt``: Debian's binaries and extensions at Bref's paths, a
``bref.ini`` with the Bref settings that collide with the kit's, and the gd extra layer's
``ext-gd.ini``. The kit's php.ini and php-fpm.conf are the real renderings. Nothing is mocked: a
real php-fpm answers a real FastCGI request through the handler.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.bref_opt import FakeOpt, debian_php_missing, make_fake_opt
from tests.support.lambda_events import Context, v2
from wp_lambda.config import parse
from wp_lambda.runtime import layout
from wp_lambda.runtime.fpm import FpmSettings
from wp_lambda.runtime.handler import Runtime

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
    'scan_dir' => getenv('PHP_INI_SCAN_DIR'),
    'path' => getenv('PATH'),
]);
"""


@pytest.fixture(scope="module")
def fake_opt(tmp_path_factory: pytest.TempPathFactory) -> FakeOpt:
    missing = debian_php_missing()
    if missing:
        pytest.fail(missing)
    # The kit's files are rendered for a site with memory_limit = "192M" (bref.ini says 10240M).
    opt = make_fake_opt(tmp_path_factory.mktemp("bref-layout"), parse('[php]\nmemory_limit = "192M"\n'))
    # The function: a page that reports what PHP was started with; a site ini in Bref's place.
    (opt.task / "php" / "conf.d").mkdir(parents=True)
    (opt.task / "php" / "conf.d" / "site.ini").write_text("max_input_vars = 4321\n")
    (opt.task / "info.php").write_text(INFO_PHP)
    return opt


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
    prefix = fake_opt.prefix
    assert info["ld_library_path"] == f"{prefix}/lib:/var/lang/lib:/lib64"
    assert info["scan_dir"] == f"{prefix}/bref/etc/php/conf.d:{prefix}/wplambda:{fake_opt.task}/php/conf.d"
    assert info["path"] == f"/usr/bin:/bin:{prefix}/bin"


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


def test_the_running_php_fpm_has_the_layouts_command_line_and_environment(fake_opt: FakeOpt,
                                                                          bref_runtime: Runtime) -> None:
    """The master php-fpm process the runtime started: the command it executed (php-fpm then rewrites
    its own title and environment block in /proc; its workers' environment is read through PHP in
    the test above)."""
    bref_runtime.handle(v2("GET", "/info.php"), Context())  # started
    process = bref_runtime.fpm.process
    assert process is not None and process.poll() is None
    prefix = fake_opt.prefix
    expected = [f"{prefix}/bin/php-fpm", "--nodaemonize", "--fpm-config", f"{prefix}/wplambda/php-fpm.conf",
                "-c", f"{prefix}/bref/etc/php", "-d", "opcache.file_cache_only=0"]
    assert list(process.args)[:len(expected)] == expected  # type: ignore[arg-type]
    assert list(process.args)[len(expected):] in ([], ["--allow-to-run-as-root"])  # type: ignore[arg-type]
    assert Path(f"/proc/{process.pid}/exe").resolve() == (prefix / "bin/php-fpm").resolve()
