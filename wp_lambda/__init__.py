"""wplambda: put a WordPress site on AWS Lambda and keep it there.

Kept import-free on purpose: ``wp_lambda.runtime`` ships in the Lambda layer with this file
and must not pull in the CLI or any third-party package.
"""

__version__ = "0.1.0"
