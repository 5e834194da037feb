"""The report's "what this means" paragraph, generated from the run's numbers (no fixed claims
beyond the papers' published figures, shared/papers.md)."""

from __future__ import annotations

import statistics
from collections import Counter

from .tables import View, geomean

PAPERS = {("int4", "fp32"): "2.9x", ("int4", "int8"): "1.5x", ("4.6bit", "int8"): "1.5-1.6x",
          ("4.6bit", "int4"): "4% slower"}


def _x(v) -> str:
    return "n/a" if v is None else f"{v:.2f}x"


def _kernels(v: View, cls: str) -> str:
    k = v.cls(cls)["kernels"]
    return ", ".join(f"{f} `{k[f]}`" for f in v.formats if k.get(f))


def _class_sentence(v: View, cls: str, threads: int) -> str:
    g = v.geomean_speedups(cls, threads)
    shapes = v.shapes(threads=threads)
    parts = []
    for fmt in ("int8", "int4", "4.6bit"):
        vs_fp32 = g[(fmt, "fp32")][0] if (fmt, "fp32") in g else None
        vs_int8 = g[(fmt, "int8")][0] if (fmt, "int8") in g else None
        if vs_fp32 is None and vs_int8 is None:
            continue
        s = f"{fmt} runs at {_x(vs_fp32)} fp32"
        if vs_int8 is not None:
            s += f" and {_x(vs_int8)} int8"
        parts.append(s)
    tag = (" (this CPU's class)" if cls == v.this_cpu else
           f" (the cap LOWBIT_MAX_TIER={v.cap})" if cls == v.top and v.cap else "")
    txt = (f"Under the class `{cls}`{tag} (kernels: {_kernels(v, cls)}; {threads} thread(s), "
           f"geometric mean over {len(shapes)} shapes), ")
    txt += ("; ".join(parts) + ".") if parts else "no format pair could be compared."
    wins = Counter()
    for sk in shapes:
        best = max(((r["gops"], f) for f in v.formats if (r := v.lowbit(sk, f, cls))),
                   default=None)
        if best:
            wins[best[1]] += 1
    if wins:
        top = ", ".join(f"{f} on {n}" for f, n in wins.most_common())
        txt += f" Fastest lowbit format per shape: {top} of {sum(wins.values())}."
    r46 = g.get(("4.6bit", "int4"), (None,))[0]
    if r46 is not None:
        diff = (1 / r46 - 1) * 100
        txt += f" 4.6-bit takes {abs(diff):.0f}% {'more' if diff >= 0 else 'less'} time than int4."
    return txt


def _papers_sentence(v: View, threads: int) -> str:
    pcs = [c for c in v.papers_classes if any(x["name"] == c for x in v.classes)]
    if not pcs:
        return ("No CPU class of this run lacks an int8 dot-product instruction, so none matches "
                "the papers' situation (ARMv8 NEON without one).")

    def got(pc):
        g = v.geomean_speedups(pc, threads)
        return "; ".join(f"{n}/{d} {_x(g[(n, d)][0])} (paper: {p})"
                         for (n, d), p in PAPERS.items() if (n, d) in g)

    names = ", ".join(f"`{c}`" for c in pcs)
    txt = (f"The papers measured ARMv8 NEON CPUs without an int8 dot-product instruction; the "
           + (f"class of this run in that situation is {names}" if len(pcs) == 1 else
              f"classes of this run in that situation are {names}")
           + " (int8 multiplies 16-bit pairs, the low-bit formats sum 8-bit products in 16 "
           f"bits). Under `{pcs[0]}`: {got(pcs[0])}.")
    for pc in pcs[1:]:
        txt += f" Under `{pc}`: {got(pc)}."
    txt += " The 4.6-bit vs int8 figure of the paper is for whole networks, ours for single GEMMs."
    dot = [c["name"] for c in v.classes if c["int8_dot_product"]]
    if dot:
        txt += (f" Classes with a dot-product instruction ({', '.join(f'`{d}`' for d in dot)}) "
                "give int8 as many MACs per instruction as the low-bit formats, so there int4 "
                "and 4.6-bit gain only from smaller weights.")
    return txt


def _peer_sentence(v: View, cls: str, threads: int) -> str | None:
    out = []
    for fmt, peer in (("fp32", "numpy"), ("int8", "ort-matmulinteger"), ("int8", "torch-int-mm"),
                      ("int8", "torch-fbgemm"), ("int4", "ort-matmulnbits")):
        if peer not in v.peers or fmt not in v.formats:
            continue
        ratios = [r["gops"] / p["gops"] for sk in v.shapes(threads=threads)
                  if (r := v.lowbit(sk, fmt, cls)) and (p := v.peer(sk, peer, cls))]
        gm = geomean(ratios)
        if gm:
            out.append(f"lowbit {fmt} reaches {_x(gm)} the throughput of {peer}")
    best_low = []
    for sk in v.shapes(threads=threads):
        lows = [r["gops"] for f in ("int4", "4.6bit") if (r := v.lowbit(sk, f, cls))]
        peers = [p["gops"] for q in v.peers if (p := v.peer(sk, q, cls)) and p["format"] != "fp32"]
        if lows and peers:
            best_low.append(max(lows) > max(peers))
    if best_low:
        out.append(f"the best lowbit low-bit format beats every integer peer on "
                   f"{sum(best_low)} of {len(best_low)} shapes")
    return (f"Against the peers under `{cls}`: " + "; ".join(out) + ".") if out else None


def _roofline_sentence(v: View) -> str | None:
    rows = [(b["pct"], r) for r, b in v.bounded_records() if r["impl"] == "lowbit"]
    if not rows:
        return None
    pcts = sorted(p for p, _ in rows)
    top, rec = max(rows, key=lambda x: x[0])
    return (f"Against the roofline (min(measured peak of the kernel's instruction class, "
            f"arithmetic intensity x measured bandwidth)), lowbit's kernels reach a median "
            f"{statistics.median(pcts):.0f}% of their bound; the highest is {top:.0f}% "
            f"({rec['case']}).")


def what_this_means(v: View) -> str:
    if not v.records:
        return "_No cases were measured._"
    threads = v.threads[0]
    lines = [_class_sentence(v, c["name"], threads) for c in v.classes]
    if v.classes:
        lines.append(_papers_sentence(v, threads))
        ps = _peer_sentence(v, v.classes[0]["name"], threads)
        if ps:
            lines.append(ps)
    rs = _roofline_sentence(v)
    if rs:
        lines.append(rs)
    if v.reference:
        lines.append("The scalar tier is the portable C++ reference, not a CPU: it is reported "
                     "in its own section and not set against the papers.")
    fp = v.machine
    load, cores = fp.get("loadavg"), fp.get("cores")
    if load and cores and load[0] > 0.5 * cores:
        lines.append(f"The machine was shared during this run (load average {load[0]:.1f} on "
                     f"{cores} cores at the start), so absolute GOP/s are lower and noisier than "
                     "on an idle machine; ratios within a shape, measured back to back, are more "
                     "robust.")
    for (impl, fmt, tier), n in sorted(v.check_failures().items()):
        lines.append(f"Note: {impl} ({fmt}, {tier}) returned inexact integer results on {n} "
                     "shape(s), so its speed is not for the same exact answer.")
    return "\n\n".join(lines)  # a paragraph each: per class, the papers, peers, roofline
