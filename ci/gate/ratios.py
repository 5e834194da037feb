"""In-run speed ratios: each format against fp32 and against int8 at the same tier.

Absolute times on a shared runner are noise, but two kernels timed back to back in the same
process see the same load, frequency and cache state, so their ratio is much steadier. Each
round times every format once (round-robin, the order rotated every round so no format always
follows the same neighbour), and the ratio is taken within the round: a paired design.
"""

from __future__ import annotations

from lowbit import FORMATS
from lowbit.bench import stats
from lowbit.bench.timing import interleaved, paired_ratios

from .cases import RATIO_SHAPES, SCALAR_RATIO_SHAPES, operands, pack

REFS = ("fp32", "int8")


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


def _calls(tier: str, shape) -> dict:
    import lowbit

    M, N, K = shape
    calls = {}
    for fmt in FORMATS:
        x, w, zx, zw, params = operands(fmt, M, N, K)
        packed = pack(fmt, tier, w, zw, params)
        calls[fmt] = (lambda x=x, p=packed, z=zx: lowbit.matmul(x, p, zero_point=z))
    return calls


def measure_groups(groups, rounds: int) -> dict[str, list[float]]:
    """Per-round time ratios for several (tier, shape) groups: {pair id: [ratio per round]}.

    Paired interleaved timing (lowbit.bench.timing.interleaved): measured here, bursts of load
    or a change on the sibling hardware thread moved every ratio against fp32 of a group by
    15-27% at once, in ~1 group in 4, when groups were measured one after the other.
    """
    times = interleaved({(t, tuple(s)): _calls(t, s) for t, s in groups}, rounds)
    ratios = {}
    for (tier, shape), per_fmt in times.items():
        for r in REFS:
            for f in FORMATS:
                if f != r:
                    ratios[pair_id(f, r, tier, shape)] = paired_ratios(per_fmt, f, r)
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
    change = stats.median(current) / stats.median(baseline) - 1
    p = stats.mann_whitney_p(current, baseline, alternative="greater")
    spread = stats.rel_iqr(current)
    if change > threshold and p < alpha and spread <= noisy_iqr:
        return FAIL, change, p, "significant slowdown beyond the threshold"
    if change > threshold:
        why = "not significant" if p >= alpha else f"noisy: IQR/median {spread:.0%}"
        return WARN, change, p, f"beyond the threshold but {why}"
    if spread > noisy_iqr:
        return WARN, change, p, f"noisy measurement (IQR/median {spread:.0%})"
    return OK, change, p, ""
