"""Template tests: new test files reuse the matrix's cases and rendering (test_template_matrix)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
