"""The regression gate's measurements as asv history: callgrind instruction counts and the
in-run time ratios, from ci/gate's own cases and measurement code (callgrind.measure(),
ratios.measure()), so the dashboard tracks exactly what `make regress` checks."""

from __future__ import annotations

import math
import statistics
import sys

from lowbit import FORMATS

from ._common import geomean

from gate import callgrind, ratios
from gate.cases import CALLGRIND_SHAPES, CALLGRIND_TIERS, case_id

# Every valgrind-runnable tier of any architecture, so that all machines share one parameter
# grid (asv keeps one benchmarks.json per results tree); other architectures' tiers are n/a.
TIERS = list(dict.fromkeys(t for ts in CALLGRIND_TIERS.values() for t in ts))
SHAPES = ["x".join(map(str, s)) for s in CALLGRIND_SHAPES]
RATIO_ROUNDS = 101  # as `make regress`
# name -> (format, reference): time of the format / time of the reference, per round.
RATIOS = {"int4/int8": ("int4", "int8"), "4.6bit/int4": ("4.6bit", "int4"),
          "int8/fp32": ("int8", "fp32")}


class Instructions:
    """Instructions executed inside lowbit::gemm for one call (callgrind), per format, tier
    and shape of the gate. Deterministic for a given build; under a LOWBIT_MAX_TIER cap a
    tier's cases run the capped kernels, as in the gate."""

    params = (list(FORMATS), TIERS, SHAPES)
    param_names = ["format", "tier", "shape"]
    unit = "instructions"
    timeout = 1800
    version = "1"

    def setup_cache(self):
        try:
            return callgrind.measure()["counts"]
        except callgrind.CallgrindUnavailable as exc:
            print(f"asv gate_checks: callgrind unavailable, counts skipped: {exc}",
                  file=sys.stderr)
            return {}

    def track_instructions(self, counts, fmt, tier, shape):
        shape = tuple(int(v) for v in shape.split("x"))
        return counts.get(case_id(fmt, tier, shape), math.nan)


def _ratio_medians(rounds: int = RATIO_ROUNDS) -> dict:
    """{name: geometric mean over the gate's ratio shapes of the per-round median ratio} at
    the class's best SIMD tier (scalar only where no SIMD tier runs)."""
    tier = ratios.ratio_tiers()[0]
    got = ratios.measure(rounds=rounds, tiers=[tier])
    out = {}
    for name, (fmt, ref) in RATIOS.items():
        per_shape = []
        for shape in ratios.shapes_for(tier):
            if ref in ratios.REFS:
                series = got[ratios.pair_id(fmt, ref, tier, shape)]
            else:  # both against int8 in the same rounds: their quotient is fmt / ref
                series = [x / y for x, y in zip(got[ratios.pair_id(fmt, "int8", tier, shape)],
                                                got[ratios.pair_id(ref, "int8", tier, shape)])]
            per_shape.append(statistics.median(series))
        out[name] = geomean(per_shape)
    return out


class InRunRatios:
    """Time ratios of two formats measured interleaved in one process (ci/gate/ratios.py):
    steady on a noisy machine where absolute times are not. Lower: the first format is
    relatively faster."""

    params = list(RATIOS)
    param_names = ["ratio"]
    unit = "time ratio"
    timeout = 1800
    version = "1"

    def setup_cache(self):
        return _ratio_medians()

    def track_ratio(self, medians, name):
        return medians.get(name, math.nan)
