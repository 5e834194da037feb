"""The wide x86 tiers (avx512, avxvnni, avx512vnni, amx) as the registry describes them.

These run on any x86-64 CPU: they check what is compiled in, not what executes.  Exactness
of these kernels is tested by test_exact.py on CPUs that have them, and everywhere by the
emulated native harness (`make x86-emulated-test`, kernels/tests_native/x86/).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import lowbit
from lowbit import _core

WIDE = {  # tier -> formats it provides (docs/architecture.md, "Tiers")
    "avx512": {"fp32", "int8", "int4", "4.6bit"},
    "avxvnni": {"int8", "int4", "4.6bit"},
    "avx512vnni": {"int8", "int4", "4.6bit"},
    "amx": {"int8"},
}
DTYPE = {"fp32": "f32", "int8": "qu8s8", "int4": "qu4", "4.6bit": "q46"}

pytestmark = pytest.mark.skipif("avx512" not in lowbit.all_tiers(), reason="x86 build only")


def wide_variants():
    return [v for v in lowbit.variants() if v.tier in WIDE]


def of(tier, fmt):
    """The variants of a tier and format: the main tile and its small-M companions."""
    found = [v for v in wide_variants() if v.tier == tier and v.format == fmt]
    assert found, (tier, fmt)
    return found


def q46_pairs():
    """Every (N_x, N_w) the 4.6bit rule allows (test_lowbit_formats.py checks the rule)."""
    return [(lowbit.format_spec("4.6bit", weight_levels=nw).params["act_levels"], nw)
            for nw in range(3, 256, 2)]


def test_each_wide_tier_has_its_formats():
    have = {}
    for v in wide_variants():
        have.setdefault(v.tier, set()).add(v.format)
    assert have == WIDE


@pytest.mark.parametrize("v", wide_variants(), ids=lambda v: v.name)
def test_name_states_dtype_tile_and_tier(v):
    c = "" if v.format == "fp32" else f"c{v.kb}"
    assert v.name == f"{DTYPE[v.format]}_gemm_{v.mr}x{v.nr}{c}__{v.tier}"


def _norm(feature: str) -> str:
    return feature.replace("_", "").replace("-", "").lower()


def _cpuinfo_flags() -> set:
    try:
        with open("/proc/cpuinfo") as f:
            line = next((l for l in f if l.startswith("flags")), "")
    except OSError:
        return set()
    return {_norm(t) for t in line.split(":", 1)[-1].split()}


@pytest.mark.parametrize("v", wide_variants(), ids=lambda v: v.name)
def test_dispatch_offers_only_runnable_variants(v):
    """Dispatch offers a tier exactly when the CPU has every feature it needs (read here from
    /proc/cpuinfo, independently of the C++ detection) and LOWBIT_MAX_TIER allows it."""
    flags = _cpuinfo_flags()
    if not flags:
        pytest.skip("no /proc/cpuinfo flags to check against")
    need = {_norm(f) for f in _core.tier_features(v.tier)}
    expected = need <= flags
    cap = _core.max_tier()
    if cap:
        expected = expected and set(_core.tier_features(v.tier)) <= set(_core.tier_features(cap))
    offered = v.tier in lowbit.tiers(v.format)
    assert offered == v.runnable
    if v.tier == "amx":  # also needs the kernel's tile-data permission: only one direction
        assert not offered or expected
    else:
        assert offered == expected, (v.tier, sorted(need - flags))


def test_dot_product_tiers_accumulate_in_32_bits():
    """vpdpbusd / tdpbusd sum into int32 lanes: no 16-bit lanes, no flush, any depth."""
    for v in wide_variants():
        if v.tier == "avx512":
            continue
        assert v.acc_bits == 32, v.name
        params = [{"act_levels": a, "weight_levels": w} for a, w in q46_pairs()]
        for p in params if v.format == "4.6bit" else [{}]:
            assert v.flush_period(**p) is None, v.name


def longest_period(step_max, lane_max, kb, kpad):
    """Largest depth (multiple of kpad) whose worst-case lane sum stays within lane_max."""
    k = (lane_max // step_max) * kb
    return k - k % kpad


def test_avx512_int4_flush_period_uses_unsigned_lanes():
    # vpmaddubsw step: 2 products of codes 0..15, at most 450; all products >= 0, so an
    # int16 lane read as unsigned holds 65535 // 450 = 145 steps of 4 k; nibble blocks pair
    # two k-groups, so the period is a multiple of 8.
    for v in of("avx512", "int4"):
        assert v.acc_bits == 16
        assert v.flush_period() == longest_period(2 * 15 * 15, 65535, 4, 8) == 576


@pytest.mark.parametrize("pair", q46_pairs(), ids=lambda p: f"{p[0]}x{p[1]}")
def test_avx512_q46_flush_period_every_pair(pair):
    # Activations centred to [-a, a] (signed operand), weights shifted to [0, 2b]
    # (unsigned operand): one step adds 2 products of magnitude <= a * 2b into a signed lane.
    nx, nw = pair
    a, b = (nx - 1) // 2, (nw - 1) // 2
    for v in of("avx512", "4.6bit"):
        got = v.flush_period(act_levels=nx, weight_levels=nw)
        assert got == longest_period(2 * a * 2 * b, 32767, 4, 4)
        assert got >= 256  # 2ab <= 254 for every allowed pair: never shorter than 64 steps


@pytest.mark.parametrize("tier", sorted(WIDE))
def test_unrunnable_tier_is_refused_clearly(tier):
    if tier in lowbit.tiers("int8"):
        pytest.skip(f"this CPU runs {tier}")
    with pytest.raises(ValueError, match=re.escape(tier)):
        lowbit.pack_weights(np.zeros((4, 4), np.int8), "int8", tier=tier)
