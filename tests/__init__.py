"""The test suite, a package so that its shared helpers import as ``tests.support`` from the tests
and from ``benchmarks`` alike, with no ``sys.path`` edits (pytest's ``pythonpath`` puts the
repository root first; ``python -m benchmarks`` runs from it)."""
