"""int4 and 4.6bit: flush periods, every allowed 4.6bit pair, depths around each period."""

from __future__ import annotations

import numpy as np
import pytest
from testutil import SLOW, assert_matches_reference

import lowbit

LOWBIT = ("int4", "4.6bit")
ALL_PAIRS = [(lowbit.format_spec("4.6bit", weight_levels=nw).params["act_levels"], nw)
             for nw in range(3, 256, 2)]


def test_pair_rule_is_the_papers():
    """The kernels' rule (formats.cpp) against the paper: N_x = 2*floor(127/b)+1, N_w = 2b+1;
    (29, 19), (25, 21) and (23, 23) are the pairs its tables use."""
    assert all(nx == 2 * (127 // ((nw - 1) // 2)) + 1 for nx, nw in ALL_PAIRS)
    assert {(29, 19), (25, 21), (23, 23)} <= set(ALL_PAIRS)


def runnable_variants(fmt):
    return [v for v in lowbit.variants(fmt) if v.runnable]


def test_flush_period_properties():
    """Every 16-bit variant has a period that is a whole number of k-blocks, at least 128
    deep (a step is at most 2 * 254 = 508 < 32767 / 64) for every allowed 4.6bit pair."""
    for fmt in LOWBIT:
        for v in runnable_variants(fmt):
            for pair in (ALL_PAIRS if fmt == "4.6bit" else [None]):
                params = {} if pair is None else dict(act_levels=pair[0], weight_levels=pair[1])
                period = v.flush_period(**params)
                if v.acc_bits == 32:
                    assert period is None
                else:
                    assert period % v.kpad == 0 and period >= 128, (v.name, pair, period)


def test_46bit_avx2_period_formula():
    """avx2: activations centred to [-a, a], weights shifted to [0, 2b]: one vpmaddubsw step
    is at most 2 * a * 2b, and a 4-deep k-group is one step per int16 lane."""
    v = [v for v in lowbit.variants("4.6bit") if v.tier == "avx2"]
    if not v:
        pytest.skip("no avx2 build")
    for nx, nw in ALL_PAIRS:
        a, b = (nx - 1) // 2, (nw - 1) // 2
        assert v[0].flush_period(act_levels=nx, weight_levels=nw) == 32767 // (4 * a * b) * 4


def test_int4_avx2_period_is_288():
    v = [v for v in lowbit.variants("int4") if v.tier == "avx2"]
    if not v:
        pytest.skip("no avx2 build")
    # 2 products of at most 15*15 per step; 32767 // 450 = 72 steps of 4 k each.
    assert v[0].flush_period() == 288


def extreme_operands(fmt, M, N, K, sign, **params):
    spec = lowbit.format_spec(fmt, **params)
    x = np.full((M, K), spec.x_range[1], spec.x_dtype)
    w = np.full((K, N), spec.w_range[1] if sign > 0 else spec.w_range[0], spec.w_dtype)
    return x, w


@pytest.mark.parametrize("fmt", LOWBIT)
def test_depth_around_flush_period(fmt):
    """K at period-1, period, period+1 and 100x period, with all-extreme codes."""
    for v in runnable_variants(fmt):
        period = v.flush_period()
        if period is None:
            continue
        for K in (period - 1, period, period + 1, 100 * period if not SLOW else 10 * period):
            for sign in (1, -1):
                x, w = extreme_operands(fmt, 3, 17, K, sign)
                spec = lowbit.format_spec(fmt)
                zx = 0
                zw = spec.zw_range[0] if sign > 0 else spec.zw_range[1]
                p = lowbit.pack_weights(w, fmt, zero_point=zw, tier=v.tier)
                assert_matches_reference(lowbit.matmul(x, p, zero_point=zx), x, w, fmt, zx, zw)


@pytest.mark.parametrize("pair", ALL_PAIRS, ids=lambda p: f"{p[0]}x{p[1]}")
def test_every_46bit_pair_every_tier(pair):
    nx, nw = pair
    params = dict(act_levels=nx, weight_levels=nw)
    rng = np.random.default_rng(nw)
    spec = lowbit.format_spec("4.6bit", **params)
    for tier in lowbit.tiers("4.6bit"):
        p_var = [v for v in lowbit.variants("4.6bit") if v.tier == tier][0]
        period = p_var.flush_period(**params) or 256
        K = period + 1
        x = rng.integers(0, nx, (5, K)).astype(np.uint8)
        w = rng.integers(spec.w_range[0], spec.w_range[1] + 1, (K, 18)).astype(np.int8)
        p = lowbit.pack_weights(w, "4.6bit", tier=tier, **params)
        assert p.params == params
        zx = (nx - 1) // 2
        assert_matches_reference(lowbit.matmul(x, p, zero_point=zx), x, w, "4.6bit", zx, 0)
        # the worst case: every product at its extreme, at 3 periods deep
        for sign in (1, -1):
            xe, we = extreme_operands("4.6bit", 2, 17, 3 * period, sign, **params)
            pe = lowbit.pack_weights(we, "4.6bit", tier=tier, **params)
            assert_matches_reference(lowbit.matmul(xe, pe), xe, we, "4.6bit")
