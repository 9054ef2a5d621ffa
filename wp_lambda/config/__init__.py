"""The project config, ``wplambda.toml``: its schema, loading, checks and writing.

- :mod:`~wp_lambda.config.schema`: the pydantic models; shapes and values only, no disk, no data.
- :mod:`~wp_lambda.config.checks`: what a config asks of Bref's published layers and of the disk,
  and the layer ARNs it gives the function.
- :mod:`~wp_lambda.config.loading`: :func:`load`/:func:`parse`, every problem at once as
  ``file:line: key: message``.
- :mod:`~wp_lambda.config.editing`: the commented file ``init`` writes, and pins as they are written.
- :mod:`~wp_lambda.config.reference`: the JSON Schema for editors and the docs.
"""

from wp_lambda.config.checks import PHP_VERSIONS, php_extension_layer_arns, php_layer_arn
from wp_lambda.config.editing import pin_value, toml_text
from wp_lambda.config.loading import ConfigError, load, parse
from wp_lambda.config.reference import json_schema
from wp_lambda.config.schema import (
    ARCHITECTURES,
    CONFIG_FILE,
    DATABASE_MODES,
    DEFAULT_PHP_VERSION,
    DEFAULT_WORDPRESS_VERSION,
    FRONT_DOORS,
    HTTP_API_MAX_TIMEOUT,
    NETWORK_MODES,
    SECTIONS,
    STORAGE_MODES,
    VERSION_RE,
    VERSION_TABLES,
    Assets,
    Aws,
    Build,
    Cache,
    Config,
    ConfigFile,
    Console,
    Cron,
    Database,
    Function,
    Logs,
    Network,
    Php,
    Pin,
    Problem,
    Site,
    Storage,
    Uploads,
    Wordpress,
    declared_active,
    graviton_instance,
)

__all__ = [
    "ARCHITECTURES",
    "CONFIG_FILE",
    "DATABASE_MODES",
    "DEFAULT_PHP_VERSION",
    "DEFAULT_WORDPRESS_VERSION",
    "FRONT_DOORS",
    "HTTP_API_MAX_TIMEOUT",
    "NETWORK_MODES",
    "PHP_VERSIONS",
    "SECTIONS",
    "STORAGE_MODES",
    "VERSION_RE",
    "VERSION_TABLES",
    "Assets",
    "Aws",
    "Build",
    "Cache",
    "Config",
    "ConfigError",
    "ConfigFile",
    "Console",
    "Cron",
    "Database",
    "Function",
    "Logs",
    "Network",
    "Php",
    "Pin",
    "Problem",
    "Site",
    "Storage",
    "Uploads",
    "Wordpress",
    "declared_active",
    "graviton_instance",
    "json_schema",
    "load",
    "parse",
    "php_extension_layer_arns",
    "php_layer_arn",
    "pin_value",
    "toml_text",
]
