"""Benchmarks, kept out of the test suite: ``python -m benchmarks.<name>``."""
