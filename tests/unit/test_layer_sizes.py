"""Lambda's unzipped limit counts every attached layer, not only what the build makes: a function
that fits alone is refused once Bref's layers are counted, each named with its size, and the fix."""

from __future__ import annotations

from wp_lambda.bundle import sizes

PHP = "arn:aws:lambda:us-east-1:873528684822:layer:php-84:21"
GD = "arn:aws:lambda:us-east-1:403367587399:layer:gd-php-84:8"


def test_a_function_that_fits_alone_is_refused_with_the_layers_counted() -> None:
    function = 230 * sizes.MB
    assert function < sizes.UNZIPPED_LIMIT
    assert sizes.with_layers(function, {}) is None
    problem = sizes.with_layers(function, {PHP: 15 * sizes.MB, GD: 6 * sizes.MB})
    assert problem == (f"function + kit layer is 230.0 MB unzipped, and with the attached layers at least 251.0 MB, "
                       f"over Lambda's 250 MB limit for a function and all its layers unzipped (layers counted at "
                       f"their zipped size, which is less than they take unzipped: {PHP}: 15.0 MB zipped; "
                       f"{GD}: 6.0 MB zipped); fix: drop languages or plugins you do not need, or php.extensions "
                       "you do not use, then build again")


def test_exactly_at_the_limit_fits() -> None:
    assert sizes.with_layers(sizes.UNZIPPED_LIMIT - sizes.MB, {PHP: sizes.MB}) is None
    assert sizes.with_layers(sizes.UNZIPPED_LIMIT - sizes.MB, {PHP: sizes.MB + 1}) is not None
