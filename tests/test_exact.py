"""Every format on every runnable tier is exact (int) or within the rounding bound (fp32)."""

from __future__ import annotations

import numpy as np
import pytest
from testutil import K_VALUES, SLOW, assert_matches_reference, format_tiers, random_operands
from hypothesis import given
from hypothesis import strategies as st

import lowbit

FT = format_tiers()
ZERO_POINTS = {  # (x zero point, w zero point) pairs: both ends of each range
    "fp32": [(0, 0)],
    "int8": [(0, 0), (255, -128), (0, 127), (128, -1)],
    "int4": [(0, 0), (15, 15), (0, 15), (8, 3)],
    "4.6bit": [(0, 0), (24, 0), (12, 0)],
}


def run(fmt, tier, x, w, zx=0, zw=0, threads=1, **params):
    packed = lowbit.pack_weights(w, fmt, zero_point=zw, tier=tier, **params)
    assert packed.tier == tier
    return lowbit.matmul(x, packed, zero_point=zx, threads=threads)


@pytest.mark.parametrize("fmt,tier", FT)
@pytest.mark.parametrize("K", K_VALUES)
def test_depths_edges(fmt, tier, K, rng):
    """Every K of the matrix with M, N at tile edges and at the ends of 1..33."""
    shapes = [(1, 1), (33, 33), (7, 17), (5, 31)] if K <= 4096 else [(1, 1), (33, 33), (6, 16)]
    if SLOW and K >= 4096:
        shapes = shapes[:2]
    for M, N in shapes:
        x, w = random_operands(rng, fmt, M, N, K)
        for zx, zw in ZERO_POINTS[fmt][:2]:
            assert_matches_reference(run(fmt, tier, x, w, zx, zw), x, w, fmt, zx, zw)


@pytest.mark.parametrize("fmt,tier", FT)
@given(M=st.integers(1, 33), N=st.integers(1, 33), K=st.sampled_from(K_VALUES[:-1]),
       zp=st.integers(0, 3), seed=st.integers(0, 2**32 - 1))
def test_random_shapes(fmt, tier, M, N, K, zp, seed):
    rng = np.random.default_rng(seed)
    x, w = random_operands(rng, fmt, M, N, K)
    zx, zw = ZERO_POINTS[fmt][zp % len(ZERO_POINTS[fmt])]
    assert_matches_reference(run(fmt, tier, x, w, zx, zw), x, w, fmt, zx, zw)


def extreme_cases(fmt):
    """(x code, w code, zx, zw) at every end of every range."""
    if fmt == "fp32":
        return [(3.0e4, -3.0e4, 0, 0), (-1.0, 1.0, 0, 0)]
    spec = lowbit.format_spec(fmt)
    out = []
    for xc in spec.x_range:
        for wc in spec.w_range:
            for zx in spec.zx_range:
                for zw in sorted(set(spec.zw_range)):
                    out.append((xc, wc, zx, zw))
    return out


@pytest.mark.parametrize("fmt,tier", FT)
@pytest.mark.parametrize("K", [1, 255, 258, 291, 4096, 20000])
def test_all_extreme(fmt, tier, K):
    """Every code at its max and min against zero points at both ends (the worst sums)."""
    spec = lowbit.format_spec(fmt)
    M, N = 7, 19
    for xc, wc, zx, zw in extreme_cases(fmt):
        x = np.full((M, K), xc, dtype=spec.x_dtype)
        w = np.full((K, N), wc, dtype=spec.w_dtype)
        assert_matches_reference(run(fmt, tier, x, w, zx, zw), x, w, fmt, zx, zw)


@pytest.mark.parametrize("fmt,tier", FT)
def test_mixed_extremes(fmt, tier, rng):
    """Random mixture of only the two extreme codes: alternating signs at full depth."""
    spec = lowbit.format_spec(fmt)
    if fmt == "fp32":
        pytest.skip("integer formats only")
    M, N, K = 13, 29, 5000
    x = rng.choice(np.array(spec.x_range), (M, K)).astype(spec.x_dtype)
    w = rng.choice(np.array(spec.w_range), (K, N)).astype(spec.w_dtype)
    for zx, zw in ZERO_POINTS[fmt]:
        assert_matches_reference(run(fmt, tier, x, w, zx, zw), x, w, fmt, zx, zw)


@pytest.mark.parametrize("fmt,tier", FT)
def test_threads_identical(fmt, tier, rng):
    """threads=1, 2 and 3 give bit-identical results (fp32 included)."""
    for M, N, K in [(33, 33, 300), (1, 64, 100), (100, 7, 50), (40, 200, 1030)]:
        x, w = random_operands(rng, fmt, M, N, K)
        zx, zw = ZERO_POINTS[fmt][-1]
        ref = run(fmt, tier, x, w, zx, zw, threads=1)
        for t in (2, 3):
            np.testing.assert_array_equal(run(fmt, tier, x, w, zx, zw, threads=t), ref)
        assert_matches_reference(ref, x, w, fmt, zx, zw)


@pytest.mark.parametrize("fmt,tier", FT)
def test_packed_weights_reused(fmt, tier, rng):
    """One packing serves many calls with different M and zero points."""
    x, w = random_operands(rng, fmt, 40, 21, 77)
    packed = lowbit.pack_weights(w, fmt, tier=tier)
    for M in (1, 5, 40):
        for zx, _ in ZERO_POINTS[fmt]:
            c = lowbit.matmul(x[:M], packed, zero_point=zx)
            assert_matches_reference(c, x[:M], w, fmt, zx, 0)


def test_large_square_all_tiers(rng):
    """A blocked shape that crosses every cache-block boundary (MC, KC, NC) on each tier."""
    M, N, K = 130 if not SLOW else 40, 3100 if not SLOW else 200, 1300
    for fmt in lowbit.FORMATS:
        x, w = random_operands(rng, fmt, M, N, K)
        for tier in lowbit.tiers(fmt):
            if tier == "scalar" and SLOW:
                continue
            assert_matches_reference(run(fmt, tier, x, w), x, w, fmt)


def test_every_variant_including_small_m(rng):
    """Each runnable variant is reached (M = its mr picks it) and is exact at depths around
    its flush period; the small-M companions share the packed weights of the main tile."""
    for v in lowbit.variants():
        if not v.runnable:
            continue
        period = v.flush_period() if v.format != "4.6bit" else v.flush_period(
            act_levels=25, weight_levels=21)
        depths = [1, 37] + ([period - 1, period + 1, 3 * period] if period else [700])
        for K in depths:
            x, w = random_operands(rng, v.format, v.mr, 35, K)
            zx, zw = ZERO_POINTS[v.format][-1]
            assert_matches_reference(run(v.format, v.tier, x, w, zx, zw), x, w, v.format, zx, zw)
