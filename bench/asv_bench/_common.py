"""Paths and small helpers shared by the suite's modules."""

from __future__ import annotations

import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "bench" / "shapes.toml"

# The gate's package (ci/gate) is imported from the checkout: its cases and measurements are
# the gate's own, not a copy. Only ci/ goes on sys.path, never the repository root (whose
# src/lowbit/ has no compiled extension).
if str(REPO / "ci") not in sys.path:
    sys.path.insert(0, str(REPO / "ci"))


def geomean(values) -> float:
    values = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    if not values:
        return math.nan
    return math.exp(sum(math.log(v) for v in values) / len(values))

