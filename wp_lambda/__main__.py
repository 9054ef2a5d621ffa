"""``python -m wp_lambda``: the same CLI as the ``wplambda`` console script."""

from wp_lambda.cli import main

main()
