"""``python -m benchmarks`` (``make bench``): every benchmark module in this package, in turn."""

import pkgutil
import runpy
from pathlib import Path

# Shared code of the benchmarks, not a benchmark itself.
HELPERS = {"served"}

for module in sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name not in HELPERS):
    print(f"== benchmarks.{module}", flush=True)
    runpy.run_module(f"benchmarks.{module}", run_name="__main__")
