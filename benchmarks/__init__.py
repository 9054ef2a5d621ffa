"""Benchmarks, kept out of the test suite: each runs as `.venv/bin/python -m benchmarks.<name>`,
the kit beside the alternative; `make bench` runs them all."""
