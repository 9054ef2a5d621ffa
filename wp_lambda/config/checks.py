"""What a config asks of the world outside its file: Bref's published layers, and ``php.dir`` on disk.

The schema (:mod:`wp_lambda.config.schema`) only judges the file's shapes and values. Whether PHP
8.1 has a layer, whether Bref publishes gd in il-central-1, or whether ``php.dir`` is there, depends
on Bref's packaged ``layers.json`` (:mod:`wp_lambda.bref_layers`) and on this machine. Loading runs
these checks right after the schema's, so a user still gets every problem in one pass.

The layer ARNs a config gives the function live here too: checking that they exist is asking for them.
"""

from __future__ import annotations

from pathlib import Path

from wp_lambda import bref_layers
from wp_lambda.common.errors import UserError
from wp_lambda.config.schema import Config, Problem, not_allowed

# Exactly what Bref publishes a runtime layer for, read from its packaged layers.json (8.2 ... 8.5 in
# Bref 3.0.9): a version Bref has no layer for could not be deployed with the default php.source.
PHP_VERSIONS = bref_layers.php_versions()
LAMBDA_MAX_LAYERS = 5


def php_layer_arn(config: Config) -> str | None:
    """The PHP binaries layer: ``php.layer_arn``, else Bref's pinned one; None with ``php.source = "dir"``
    (the binaries then ship inside the runtime layer) or where Bref publishes none (a config problem)."""
    if config.php.source != "bref":
        return None
    return config.php.layer_arn or bref_layers.layer_arn(config.aws.region, config.php.version,
                                                         config.aws.architecture)


def php_extension_layer_arns(config: Config) -> list[str]:
    """Bref's extra-extension layers for ``php.extensions`` (none with ``php.source = "dir"``, whose
    extensions ship in the runtime layer). Raises UserError for one Bref does not publish here."""
    if config.php.source != "bref":
        return []
    return [bref_layers.extension_layer_arn(name, config.aws.region, config.php.version, config.aws.architecture)
            for name in config.php.extensions]


def problems(config: Config) -> list[Problem]:
    """Every problem of ``config`` with Bref's layers and the disk, with keys but no lines yet."""
    return _bref_checks(config) + _disk_checks(config)


def _bref_checks(c: Config) -> list[Problem]:
    if c.php.version not in PHP_VERSIONS:
        # Every other answer about layers would be about a PHP that Bref does not have.
        return [Problem("php.version", not_allowed(c.php.version, PHP_VERSIONS))]
    out = []
    if c.php.source == "bref" and not c.php.layer_arn and php_layer_arn(c) is None:
        published = bref_layers.published_regions(c.php.version, c.aws.architecture)
        out.append(Problem("aws.region", f"Bref publishes no PHP {c.php.version} layer for {c.aws.architecture} in "
                           f"{c.aws.region}; it publishes to: {', '.join(published)}; use one of those regions, "
                           "set php.layer_arn to a layer in that region, or php.source = \"dir\""))
    return out + _extension_checks(c)


def _extension_checks(c: Config) -> list[Problem]:
    """php.extensions: only what Bref publishes for this PHP, region and architecture, and no more
    layers than Lambda attaches to one function (the first problem only: each explains the next)."""
    if c.php.source != "bref":
        return []
    if c.php.extensions and c.aws.architecture == "arm64":
        # Refused rather than dropped: a site without gd or imagick uploads images but never makes
        # thumbnails, and nobody notices until the pages look wrong.
        return [Problem("php.extensions", f"{', '.join(c.php.extensions)} cannot be attached on arm64: Bref "
                        "publishes its extra-extension layers for x86_64 only; set aws.architecture = "
                        "\"x86_64\", or php.extensions = [] to run without them (WordPress then makes no "
                        "thumbnails or resized images)")]
    known = bref_layers.extension_names(c.php.version)
    unknown = [name for name in c.php.extensions if name not in known]
    if unknown:
        return [Problem("php.extensions", f"Bref publishes no {', '.join(unknown)} layer for PHP {c.php.version}; "
                        f"it publishes: {', '.join(known)}")]
    if len(set(c.php.extensions)) != len(c.php.extensions):
        return [Problem("php.extensions", "an extension is listed twice; list each once")]
    out = []
    try:
        php_extension_layer_arns(c)
    except UserError as exc:  # one not published in this region
        out.append(Problem("php.extensions", f"{exc.message}; {exc.hint}" if exc.hint else exc.message))
    if c.function_layer_count > LAMBDA_MAX_LAYERS:
        out.append(Problem("php.extensions", f"the function would get {c.function_layer_count} layers (PHP, "
                           f"{len(c.php.extensions)} extension layers and the wplambda runtime); Lambda attaches "
                           f"at most {LAMBDA_MAX_LAYERS} to a function: drop an extension"))
    return out


def _disk_checks(c: Config) -> list[Problem]:
    if c.php.source == "dir" and c.php.dir:
        php_dir = Path(c.php.dir) if Path(c.php.dir).is_absolute() else c.root / c.php.dir
        if not php_dir.is_dir():
            return [Problem("php.dir", f"{php_dir} is not a directory")]
    return []
