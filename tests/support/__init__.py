"""Helpers the tests (and the benchmarks) share: the real console script, ``../shared/``'s parts,
a serve subprocess, Lambda events and a WordPress site for the handler, the fake plugin directory.

Modules here hold no tests and no fixtures; fixtures live in the ``conftest.py`` of the folder
whose tests use them.
"""
