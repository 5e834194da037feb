"""`lowbit-bench headline`: the papers' ratios on this machine, under one CPU class.

Each format runs its best kernel allowed under the class (default: the best class of this
process, which honours LOWBIT_MAX_TIER). Compared, one thread: fp32 against numpy/OpenBLAS and
int8 against onnxruntime MatMulInteger at size^3 (both peers pick their own ISA: native, not
capped by the class); int4 and 4.6-bit against int8 and each other at size^3; int4 against
int8 on memory-bound GEMV shapes (M <= 4, K = N = 4096). Each ratio is the median over
`repeat` rounds of paired interleaved timings (lowbit.bench.timing), so both sides of a ratio
see the same machine load. Ratio > 1: the first is faster. The papers' figures are printed
beside the ratios they correspond to; they are comparable only under a class without an int8
dot-product instruction (the papers' ARMv8 NEON CPUs had none).
"""

from __future__ import annotations

import os
import sys

from . import stats
from .classes import REFERENCE, papers_classes, top_class
from .tables import SUMMARY
from .timing import interleaved, paired_ratios

PAPER = {(n, d): p for n, d, p in SUMMARY if p}
FORMATS = ("fp32", "int8", "int4", "4.6bit")
PEERS = ("numpy", "ort-matmulinteger")


def _lowbit_call(fmt: str, tier: str, M: int, N: int, K: int):
    from .impls import prepare_lowbit

    return prepare_lowbit(fmt, tier, M, N, K, threads=1)


def pick_class(table: dict, cls: str | None) -> dict:
    """The class entry the headline runs under (default: the best class of this process)."""
    cls = cls or top_class(table)
    entry = next((c for c in table["classes"] if c["name"] == cls), None)
    if entry is None:
        cap = f" (LOWBIT_MAX_TIER={table['cap']})" if table.get("cap") else ""
        raise ValueError(f"unknown or unavailable CPU class {cls!r}; this process{cap} has: "
                         f"{', '.join(c['name'] for c in table['classes'])}")
    return entry


def describe_class(table: dict, entry: dict) -> list[str]:
    """What the class is, in words: this CPU's or a cap below it, the scalar reference, and
    whether it is the papers' situation (no int8 dot-product instruction)."""
    cls, this = entry["name"], table.get("this_cpu")
    if cls == REFERENCE:
        what = f"`{cls}`: the portable C++ reference, not a CPU"
    elif cls == this:
        what = f"`{cls}` (this CPU's class)"
    else:
        how = (f"LOWBIT_MAX_TIER={table['cap']}" if table.get("cap") == cls else "--class")
        what = f"`{cls}` (capped by {how}; this CPU's class is `{this}`)"
    kernels = ", ".join(f"{f} `{t}`" for f, t in entry["kernels"].items() if t)
    lines = [f"CPU class {what}; kernels: {kernels}."]
    papers = papers_classes(table)
    if cls == REFERENCE:
        lines.append("The reference is not set against the papers' figures (printed for "
                     "orientation only).")
    elif not entry.get("int8_dot_product"):
        lines.append("No int8 dot-product instruction under this class: the papers' situation "
                     "(ARMv8 NEON without one), so their figures are comparable.")
    else:
        other = (f"; the class of this run in the papers' situation is `{papers[0]}` "
                 f"(`lowbit-bench headline --class {papers[0]}`)" if papers else
                 "; no class of this process is in the papers' situation")
        lines.append("int8 has a dot-product instruction under this class (4 or more 8-bit "
                     "products per int32 lane): not the papers' situation (ARMv8 NEON without "
                     f"one), so their figures are not comparable here{other}.")
    lines.append("Peers (numpy/OpenBLAS, onnxruntime) are native: they choose their own ISA, "
                 + ("which the class does not cap." if cls != this else "as lowbit does."))
    return lines


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def main(cls: str | None = None, repeat: int = 7, size: int | None = None, out=sys.stdout) -> int:
    from .classes import class_table
    from .impls import PeerUnavailable, prepare

    table = class_table()
    entry = pick_class(table, cls)
    cls = entry["name"]
    tier = entry["kernels"]
    n = size or (256 if cls == REFERENCE else 1024)
    rows, notes = [], {}
    load_start = _load()

    sq = {f: _lowbit_call(f, tier[f], n, n, n) for f in FORMATS}
    group = {f: p.fn for f, p in sq.items()}
    contexts = []
    for peer in PEERS:
        try:
            p = prepare({"impl": peer, "format": "", "tier": "native", "M": n, "N": n, "K": n,
                         "threads": 1})
        except (PeerUnavailable, ImportError) as exc:
            notes[peer] = f"{peer} unavailable: {exc}"
            continue
        p.context.__enter__()
        contexts.append(p.context)
        group[peer] = p.fn
        if p.check:
            notes[peer] = ", ".join(f"{k}={v}" for k, v in p.check(p.fn()).items())
    gemv = {}
    for M in (1, 2, 4):
        gemv[M] = {f: _lowbit_call(f, tier[f], M, 4096, 4096) for f in ("int8", "int4")}
    groups = {"square": group, **{f"gemv{M}": {f: p.fn for f, p in g.items()}
                                  for M, g in gemv.items()}}
    try:
        times = interleaved(groups, repeat, subsamples=3, warmup_rounds=2)
    finally:
        for c in contexts:
            c.__exit__(None, None, None)

    def ratio(g, fast, slow):
        return stats.median(paired_ratios(times[g], slow, fast))

    sq_name = f"{n}^3"
    if "numpy" in group:
        rows.append((sq_name, f"lowbit fp32 ({tier['fp32']}) / numpy fp32 (OpenBLAS, 1 thread, "
                     "native)", ratio("square", "fp32", "numpy"), "", ""))
    if "ort-matmulinteger" in group:
        rows.append((sq_name, f"lowbit int8 ({tier['int8']}) / onnxruntime MatMulInteger "
                     "(native)", ratio("square", "int8", "ort-matmulinteger"), "",
                     "onnxruntime " + notes.get("ort-matmulinteger", "")))
    for a, b in (("int8", "fp32"), ("int4", "fp32"), ("int4", "int8"), ("4.6bit", "int8"),
                 ("4.6bit", "int4")):
        rows.append((sq_name, f"{a} ({tier[a]}) / {b} ({tier[b]})", ratio("square", a, b),
                     PAPER.get((a, b), ""), ""))
    for M, g in gemv.items():
        rows.append((f"M={M} K=N=4096", f"int4 ({tier['int4']}) / int8 ({tier['int8']}), "
                     "weights prepacked", ratio(f"gemv{M}", "int4", "int8"), "",
                     f"weights {g['int4'].extra['weight_bytes'] >> 20} vs "
                     f"{g['int8'].extra['weight_bytes'] >> 20} MiB"))
    import lowbit

    print(f"CPU: {lowbit.cpu_info()['model']}; one thread; {repeat} rounds; load average "
          f"(1, 5, 15 min) {load_start} at the start, {_load()} at the end; "
          "ratio > 1 = first is faster", file=out)
    for line in describe_class(table, entry):
        print(line, file=out)
    print(file=out)
    for peer in PEERS:
        if peer not in group and peer in notes:
            print(f"note: {notes[peer]}", file=out)
    paper_col = "papers (ARMv8 NEON, no dot product)"
    print(f"| shape | comparison | speed ratio | {paper_col} | note |\n|---|---|---|---|---|",
          file=out)
    for shape, what, r, paper, note in rows:
        print(f"| {shape} | {what} | {r:.2f}x | {paper} | {note} |", file=out)
    return 0
