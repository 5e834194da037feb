"""The report's "what this means" paragraph, generated from the numbers (no fixed claims)."""

from __future__ import annotations

from collections import Counter

from .tables import View, geomean

# Published claims the numbers are set against (shared/papers.md); measured on ARMv8, not here.
PAPER_INT4_VS_FP32, PAPER_INT4_VS_INT8, PAPER_46_VS_INT4_SLOWER = 2.9, 1.5, 0.04


def _x(v) -> str:
    return "n/a" if v is None else f"{v:.2f}x"


def _tier_sentence(v: View, tier: str, threads: int) -> str:
    g = v.geomean_speedups(tier, threads)
    shapes = v.shapes(threads=threads)
    parts = []
    for fmt in ("int8", "int4", "4.6bit"):
        vs_fp32 = g.get((fmt, "fp32"), (None,))[0]
        vs_int8 = g.get((fmt, "int8"), (None,))[0] if fmt != "int8" else None
        if vs_fp32 is None and vs_int8 is None:
            continue
        s = f"{fmt} runs at {_x(vs_fp32)} fp32"
        if vs_int8 is not None:
            s += f" and {_x(vs_int8)} int8"
        parts.append(s)
    wins = Counter()
    for sk in shapes:
        best = max(((r["gops"], f) for f in v.formats if (r := v.lowbit(sk, f, tier))),
                   default=None)
        if best:
            wins[best[1]] += 1
    txt = f"On the `{tier}` tier ({threads} thread(s), geometric mean over {len(shapes)} shapes), "
    txt += "; ".join(parts) + "." if parts else "no format pair could be compared."
    if wins:
        top = ", ".join(f"{f} on {n}" for f, n in wins.most_common())
        txt += f" Fastest lowbit format per shape: {top} of {sum(wins.values())}."
    r46 = g.get(("4.6bit", "int4"), (None,))[0]
    if r46 is not None:
        diff = (1 / r46 - 1) * 100
        txt += (f" 4.6-bit takes {abs(diff):.0f}% {'more' if diff >= 0 else 'less'} time than "
                f"int4 (the 2024 paper reports {PAPER_46_VS_INT4_SLOWER * 100:.0f}% more on "
                "ARMv8).")
    return txt


def _peer_sentence(v: View, tier: str, threads: int) -> str | None:
    out = []
    for fmt, peer in (("fp32", "numpy"), ("int8", "ort-matmulinteger"),
                      ("int8", "torch-fbgemm"), ("int4", "ort-matmulnbits")):
        if peer not in v.peers or fmt not in v.formats:
            continue
        ratios = [r["gops"] / p["gops"] for sk in v.shapes(threads=threads)
                  if (r := v.lowbit(sk, fmt, tier)) and (p := v.peer(sk, peer, tier))]
        gm = geomean(ratios)
        if gm:
            out.append(f"lowbit {fmt} reaches {_x(gm)} the throughput of {peer}")
    best_low = []
    for sk in v.shapes(threads=threads):
        lows = [r["gops"] for f in ("int4", "4.6bit") if (r := v.lowbit(sk, f, tier))]
        peers = [p["gops"] for q in v.peers if (p := v.peer(sk, q, tier)) and p["format"] != "fp32"]
        if lows and peers:
            best_low.append(max(lows) > max(peers))
    if best_low:
        out.append(f"the best lowbit low-bit format beats every installed integer peer on "
                   f"{sum(best_low)} of {len(best_low)} shapes")
    return (f"Against the peers on `{tier}`: " + "; ".join(out) + ".") if out else None


def what_this_means(v: View) -> str:
    if not v.doc["records"]:
        return "_No cases were measured._"
    threads = v.threads[0]
    lines = [_tier_sentence(v, t, threads) for t in v.tiers]
    if v.tiers:
        ps = _peer_sentence(v, v.tiers[0], threads)
        if ps:
            lines.append(ps)
        g = v.geomean_speedups(v.tiers[0], threads)
        i4f, i4i = g[("int4", "fp32")][0], g[("int4", "int8")][0]
        if i4f is not None and i4i is not None:
            lines.append(
                f"For comparison, the 2020 paper measured int4 at {PAPER_INT4_VS_FP32}x fp32 and "
                f"{PAPER_INT4_VS_INT8}x int8 on an ARM CPU with NEON; on this machine's best tier "
                f"(`{v.tiers[0]}`) the measured figures are {_x(i4f)} and {_x(i4i)}. x86 and ARM "
                "differ in which int8 instructions exist, so the ratios need not match.")
    fp = v.doc.get("fingerprint", {})
    load, cores = fp.get("loadavg"), fp.get("cores")
    if load and cores and load[0] > 0.5 * cores:
        lines.append(f"The machine was shared during this run (load average {load[0]:.1f} on "
                     f"{cores} cores at the start), so absolute GOPS are lower and noisier than "
                     "on an idle machine; ratios within a shape, measured back to back, are more "
                     "robust.")
    bad = v.check_failures()
    for (impl, fmt, tier), n in sorted(bad.items()):
        lines.append(f"Note: {impl} ({fmt}, {tier}) returned inexact integer results on {n} "
                     "shape(s), so its speed is not for the same exact answer.")
    return " ".join(lines)
