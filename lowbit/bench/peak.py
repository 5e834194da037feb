"""Peak probe: the best throughput lowbit's own kernels reach per tier, measured.

Method (nothing assumed from datasheets): each format's kernel at each tier is timed through
`lowbit.matmul` on a few small shapes whose packed operands stay in L1/L2, one thread, and the
best GOPS is kept. This is a measured *lower bound* of the tier's fp32 FMA / int8 MAC peak (it
includes the call, A-packing and edge overheads); "% of peak" in the reports is relative to it.
"""

from __future__ import annotations

from .impls import prepare_lowbit
from .timing import measure

# Cache-resident shapes (M, N, K): the largest keeps fp32 A+B in ~0.6 MiB (L2), the
# smallest fits L1 (32 KiB) for the integer formats.
PROBE_SHAPES = ((64, 64, 128), (128, 128, 256), (192, 256, 256))


def probe(tiers: dict, budget_s: float = 0.05) -> dict:
    """tiers: format -> tiers to probe. Returns {tier: {...}} (see reports/README.md)."""
    out: dict = {}
    for fmt, fmt_tiers in tiers.items():
        for tier in fmt_tiers:
            best, best_shape = 0.0, None
            for M, N, K in PROBE_SHAPES:
                prep = prepare_lowbit(fmt, tier, M, N, K, threads=1)
                t = measure(prep.fn, budget_s=budget_s, min_samples=3)
                gops = 2 * M * N * K / min(t.samples_s) / 1e9
                if gops > best:
                    best, best_shape = gops, [M, N, K]
            entry = out.setdefault(tier, {"formats": {}})
            entry["formats"][fmt] = {"gops": best, "shape": best_shape}
    for entry in out.values():
        f = entry["formats"]
        entry["fp32_gflops"] = f.get("fp32", {}).get("gops")
        entry["int8_gops"] = f.get("int8", {}).get("gops")
        ints = [v["gops"] for k, v in f.items() if k != "fp32"]
        entry["int_best_gops"] = max(ints) if ints else None
    return out


def peak_for(peak: dict, fmt: str, tier: str) -> float | None:
    """The peak a record of `fmt` at `tier` is compared with (fp32 FMA or best integer MAC)."""
    entry = peak.get(tier)
    if not entry:
        return None
    return entry.get("fp32_gflops") if fmt == "fp32" else entry.get("int_best_gops")
