"""Generic helpers every other package may use: errors, atomic files, downloads, the reporter.

This package sits at the bottom of the import graph: it imports nothing else from the kit (the
import-linter contracts in ``pyproject.toml`` keep it so).
"""
