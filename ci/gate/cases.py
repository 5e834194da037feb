"""The fixed case set of the gate: shapes, tiers per architecture, operands.

Shapes are small on purpose: callgrind runs ~50x slower than native, and an instruction count
does not need a large problem to show a kernel change. Each set has an edge-tile shape (M, N
not multiples of any tile) and a depth beyond the 16-bit flush period of int4 / 4.6-bit
(~258-291), so the flush schedule and the zero-point corrections are both counted.
"""

from __future__ import annotations

import platform

import numpy as np

# (M, N, K)
CALLGRIND_SHAPES = ((8, 32, 64), (17, 40, 300), (64, 64, 256))
# Cache-resident shapes for the timing ratios: big enough that a call is tens of microseconds
# (timer resolution is irrelevant), small enough that every format's packed weights (fp32:
# 256 KiB) stay in a core's L2, so memory-bandwidth contention from other processes on a shared
# machine hardly moves them. (16x512x512, whose fp32 weights spill L2, drifted by up to 22%
# between runs on the busy development machine; these by at most 8%: ci/README.md.)
RATIO_SHAPES = ((64, 256, 256), (8, 128, 512))
# The scalar tier is 5-20x slower: smaller shapes keep one call well under a scheduler time
# slice, which the interleaved timing needs to discard preempted samples.
SCALAR_RATIO_SHAPES = ((16, 64, 128), (4, 64, 256))

# Tiers valgrind can execute. valgrind 3.19 decodes AVX2 but not AVX-512 on x86-64; on aarch64
# it runs NEON (ARMv8.0). Higher tiers are covered by the timing ratios only.
CALLGRIND_TIERS = {"x86_64": ("scalar", "avx2"), "aarch64": ("scalar", "neon")}


def arch() -> str:
    m = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(m, m)


def case_id(fmt: str, tier: str, shape) -> str:
    M, N, K = shape
    return f"{fmt}/{tier}/{M}x{N}x{K}"


# (activation, weight) zero points of the gate's cases: a choice, recorded in the baselines.
GATE_ZERO_POINTS = {"int8": (128, 0), "int4": (8, 8), "4.6bit": (0, 0)}


def operands(fmt: str, M: int, N: int, K: int, seed: int = 0):
    """(x, w, zero_point_x, zero_point_w, params) in the ranges each format accepts.

    The gate's own deterministic data: the committed baselines were recorded with it, and
    instruction counts depend on the zero points (the driver skips work when they are 0),
    so it must not change when the benchmark harness changes its operands.
    """
    import lowbit

    rng = np.random.default_rng(seed)
    if fmt == "fp32":
        return (rng.standard_normal((M, K), dtype=np.float32),
                rng.standard_normal((K, N), dtype=np.float32), 0, 0, {})
    spec = lowbit.format_spec(fmt)  # the kernels' ranges and default parameters
    zx, zw = GATE_ZERO_POINTS[fmt]
    xr, wr = spec.x_range, spec.w_range
    x = rng.integers(xr[0], xr[1] + 1, size=(M, K)).astype(spec.x_dtype)
    w = rng.integers(wr[0], wr[1] + 1, size=(K, N)).astype(spec.w_dtype)
    return x, w, zx, zw, dict(spec.params)


def pack(fmt: str, tier: str, w, zw: int, params: dict):
    """Pack for `tier`; if the process is capped below it (LOWBIT_MAX_TIER), the best tier the
    cap allows. That is what a user's binary would run, and the gate compares the counts of
    what actually ran (the kernel name is recorded next to them)."""
    import lowbit

    runnable = lowbit.tiers(fmt)
    return lowbit.pack_weights(w, fmt, zero_point=zw, tier=tier if tier in runnable else None,
                               **params)
