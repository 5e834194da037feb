"""GEMM time of the recogniser's layers, per kernel format, in this process's CPU class.

Run as `LOWBIT_MAX_TIER=<tier> python -m lowbit.accuracy.ocr_timing < spec.json`: the cap is
process-wide, so each CPU class is measured in its own process.  spec: {"layers": [[node, M, K,
N, groups, batch, constant], ...], "formats": {label: [fmt, params]}, "min_time_s", "reps"}.
Prints {"tier": ..., "seconds": {label: {node: s}}} as JSON: the median time of all the kernel
calls one layer makes at batch 1 (one call per group; for the attention products one weight
packing and one call per head, as the executor does them).
"""

from __future__ import annotations

import json
import sys

import numpy as np

import lowbit
from lowbit import format_spec
from lowbit.bench.timing import timed


def _operands(fmt: str, params: dict, m: int, k: int, n: int, rng):
    spec = format_spec(fmt, **params)
    if fmt == "fp32":
        return (rng.standard_normal((m, k)).astype(np.float32),
                rng.standard_normal((k, n)).astype(np.float32))
    if fmt == "int8":
        return (rng.integers(0, 256, (m, k), dtype=np.uint8),
                rng.integers(-128, 128, (k, n), dtype=np.int8))
    if fmt == "int4":
        return (rng.integers(0, 16, (m, k), dtype=np.uint8),
                rng.integers(0, 16, (k, n), dtype=np.uint8))
    n_x, n_w = spec.params["act_levels"], spec.params["weight_levels"]
    b = (n_w - 1) // 2
    return (rng.integers(0, n_x, (m, k), dtype=np.uint8),
            rng.integers(-b, b + 1, (k, n), dtype=np.int8))


def time_layer(fmt: str, params: dict, layer, *, min_time_s: float, reps: int, rng) -> float:
    _node, m, k, n, groups, batch, constant = layer
    x, w = _operands(fmt, params, m, k, n, rng)
    packed = lowbit.pack_weights(w, fmt, **params)

    def layer_once() -> None:
        if constant:
            for _ in range(groups):
                lowbit.matmul(x, packed)
        else:
            for _ in range(batch):
                lowbit.matmul(x, lowbit.pack_weights(w, fmt, **params))

    def once() -> float:  # the layer's time, by the suite's one timing core
        return timed(layer_once, 1)

    once()  # warm-up
    runs, total = [], 0.0
    while len(runs) < reps or (total < min_time_s and len(runs) < 50):
        runs.append(once())
        total += runs[-1]
    return float(np.median(runs))


def measure(spec: dict) -> dict:
    rng = np.random.default_rng(0)
    out = {}
    for label, (fmt, params) in spec["formats"].items():
        out[label] = {layer[0]: time_layer(fmt, params, layer, min_time_s=spec["min_time_s"],
                                           reps=spec["reps"], rng=rng)
                      for layer in spec["layers"]}
    return {"tier": lowbit.tiers("int8")[0], "seconds": out}


def main() -> int:
    json.dump(measure(json.load(sys.stdin)), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
