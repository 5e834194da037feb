"""In-run speed ratios: each format against fp32 and against int8 at the same tier.

Absolute times on a shared runner are noise, but two kernels timed back to back in the same
process see the same load, frequency and cache state, so their ratio is much steadier. Each
round times every format once (round-robin, the order rotated every round so no format always
follows the same neighbour), and the ratio is taken within the round: a paired design.
"""

from __future__ import annotations

import time

import numpy as np

from .cases import FORMATS, RATIO_SHAPES, SCALAR_RATIO_SHAPES, operands, pack

REFS = ("fp32", "int8")
# One timing is ~0.5 ms of calls: long against timer and call overhead, short against a
# scheduler time slice, so most timings are not preempted on a busy machine. A round keeps each
# format's fastest of SUBSAMPLES interleaved timings: preemption only ever adds time, so the
# minimum discards it.
TARGET_SAMPLE_S = 5e-4
SUBSAMPLES = 5
WARMUP_ROUNDS = 10


def pair_id(fmt: str, ref: str, tier: str, shape) -> str:
    M, N, K = shape
    return f"{fmt}:{ref}/{tier}/{M}x{N}x{K}"


def ratio_tiers() -> list[str]:
    """Every SIMD tier on which all four formats run here (a ratio needs fp32 and int8 there).

    The scalar tier is left out when a SIMD tier exists: it is the reference, not a fast path,
    callgrind already pins its cost, and its timing ratios swing by up to 50% with what runs on
    the sibling hardware thread (measured on the shared development machine: ci/README.md).
    """
    import lowbit

    common = set(lowbit.tiers("fp32"))
    for f in FORMATS[1:]:
        common &= set(lowbit.tiers(f))
    found = [t for t in lowbit.tiers("fp32") if t in common]
    return [t for t in found if t != "scalar"] or found


def _timed(fn, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def _prepare(tier: str, shape):
    import lowbit

    M, N, K = shape
    calls = {}
    for fmt in FORMATS:
        x, w, zx, zw, params = operands(fmt, M, N, K)
        packed = pack(fmt, tier, w, zw, params)
        calls[fmt] = (lambda x=x, p=packed, z=zx: lowbit.matmul(x, p, zero_point=z))
    # Same call count for every format of a group, set by the slowest one.
    slowest = max(_timed(c, 3) for c in calls.values())
    return calls, max(1, int(TARGET_SAMPLE_S / max(slowest, 1e-7)))


def measure_groups(groups, rounds: int) -> dict[str, list[float]]:
    """Per-round time ratios for several (tier, shape) groups: {pair id: [ratio per round]}.

    Rounds of all groups are interleaved too (round i of every group, then round i + 1), so a
    burst of load or a change on the sibling hardware thread lasting a second touches a slice
    of every group's samples instead of all of one group's: measured here, such bursts moved
    every ratio against fp32 of a group by 15-27% at once, in ~1 group in 4.
    """
    prepared = {g: _prepare(*g) for g in groups}
    order = list(FORMATS)
    ratios = {pair_id(f, r, t, s): [] for (t, s) in groups for r in REFS for f in FORMATS
              if f != r}
    # Warm-up rounds, discarded: page in buffers, settle caches and clock.
    for _ in range(WARMUP_ROUNDS):
        for calls, n in prepared.values():
            for f in order:
                _timed(calls[f], n)
    for i in range(rounds):
        rot = order[i % len(order):] + order[:i % len(order)]
        for (tier, shape), (calls, n) in prepared.items():
            t = dict.fromkeys(rot, float("inf"))
            for _ in range(SUBSAMPLES):
                for f in rot:
                    t[f] = min(t[f], _timed(calls[f], n))
            for r in REFS:
                for f in FORMATS:
                    if f != r:
                        ratios[pair_id(f, r, tier, shape)].append(t[f] / t[r])
    return ratios


def measure_group(tier: str, shape, rounds: int) -> dict[str, list[float]]:
    return measure_groups([(tier, tuple(shape))], rounds)


def shapes_for(tier: str):
    return SCALAR_RATIO_SHAPES if tier == "scalar" else RATIO_SHAPES


def measure(rounds: int = 101, tiers=None) -> dict[str, list[float]]:
    groups = [(t, s) for t in tiers or ratio_tiers() for s in shapes_for(t)]
    return measure_groups(groups, rounds)


def group_of(key: str) -> tuple[str, tuple]:
    """(tier, shape) of a pair id, to measure its group again."""
    _, tier, shape = key.split("/")
    return tier, tuple(int(v) for v in shape.split("x"))


# --- decision -----------------------------------------------------------------------------

FAIL, WARN, OK = "FAIL", "WARN", "ok"


def judge(current, baseline, threshold: float, alpha: float, noisy_iqr: float):
    """Verdict for one ratio measurement: (verdict, change, p, note).

    change = median(current) / median(baseline) - 1 (> 0: the format got slower relative to its
    reference). One-sided Mann-Whitney U (scipy) asks whether current ratios are stochastically
    larger than the baseline's. FAIL needs both: significant (p < alpha) and beyond the
    threshold, and a measurement whose own spread (IQR / median) is within noisy_iqr. Beyond the
    threshold but not significant, or too spread out, is a WARN: too noisy to call. (The gate
    then measures a failing group once more and fails only if the repeat fails too.)
    """
    from scipy.stats import mannwhitneyu

    cur, base = np.asarray(current, float), np.asarray(baseline, float)
    change = float(np.median(cur) / np.median(base) - 1)
    p = float(mannwhitneyu(cur, base, alternative="greater").pvalue)
    q1, q3 = np.percentile(cur, [25, 75])
    spread = float((q3 - q1) / np.median(cur))
    if change > threshold and p < alpha and spread <= noisy_iqr:
        return FAIL, change, p, "significant slowdown beyond the threshold"
    if change > threshold:
        why = "not significant" if p >= alpha else f"noisy: IQR/median {spread:.0%}"
        return WARN, change, p, f"beyond the threshold but {why}"
    if spread > noisy_iqr:
        return WARN, change, p, f"noisy measurement (IQR/median {spread:.0%})"
    return OK, change, p, ""
