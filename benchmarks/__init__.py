"""Benchmarks: each runs as `.venv/bin/python -m benchmarks.<name>`, the kit beside an alternative."""
