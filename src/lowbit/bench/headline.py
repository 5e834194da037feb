"""`lowbit-bench headline`: the papers' ratios on this machine, under one CPU class.

Each format runs its best kernel allowed under the class (default: this CPU's class, which
honours LOWBIT_MAX_TIER). Compared, one thread: fp32 against numpy/OpenBLAS and int8 against
onnxruntime MatMulInteger at size^3; int4 and 4.6-bit against int8 and each other at size^3;
int4 against int8 on memory-bound GEMV shapes (M <= 4, K = N = 4096). Each ratio is the median
over `repeat` rounds of paired interleaved timings (lowbit.bench.timing), so both sides of a
ratio see the same machine load. Ratio > 1: the first is faster.
"""

from __future__ import annotations

import sys

from . import stats
from .timing import interleaved, paired_ratios


def _lowbit_call(fmt: str, tier: str, M: int, N: int, K: int):
    from .impls import prepare_lowbit

    return prepare_lowbit(fmt, tier, M, N, K, threads=1)


def main(cls: str | None = None, repeat: int = 7, size: int | None = None, out=sys.stdout) -> int:
    from .classes import class_table
    from .impls import PeerUnavailable, prepare

    table = class_table()
    cls = cls or table["this_cpu"]
    entry = next((c for c in table["classes"] if c["name"] == cls), None)
    if entry is None:
        raise ValueError(f"unknown or unavailable CPU class {cls!r}; this machine has: "
                         f"{', '.join(c['name'] for c in table['classes'])}")
    tier = entry["kernels"]
    n = size or (256 if cls == "scalar" else 1024)
    rows, notes = [], {}

    sq = {f: _lowbit_call(f, tier[f], n, n, n) for f in ("fp32", "int8", "int4", "4.6bit")}
    group = {f: p.fn for f, p in sq.items()}
    contexts = []
    for peer in ("numpy", "ort-matmulinteger"):
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
        rows.append((sq_name, f"lowbit fp32 ({tier['fp32']}) / numpy fp32 (OpenBLAS, 1 thread)",
                     ratio("square", "fp32", "numpy"), ""))
    if "ort-matmulinteger" in group:
        rows.append((sq_name, f"lowbit int8 ({tier['int8']}) / onnxruntime MatMulInteger",
                     ratio("square", "int8", "ort-matmulinteger"),
                     "onnxruntime " + notes.get("ort-matmulinteger", "")))
    for a, b in (("int8", "fp32"), ("int4", "fp32"), ("int4", "int8"), ("4.6bit", "int8"),
                 ("4.6bit", "int4")):
        rows.append((sq_name, f"{a} ({tier[a]}) / {b} ({tier[b]})", ratio("square", a, b), ""))
    for M, g in gemv.items():
        rows.append((f"M={M} K=N=4096", f"int4 ({tier['int4']}) / int8 ({tier['int8']}), "
                     "weights prepacked", ratio(f"gemv{M}", "int4", "int8"),
                     f"weights {g['int4'].extra['weight_bytes'] >> 20} vs "
                     f"{g['int8'].extra['weight_bytes'] >> 20} MiB"))
    import lowbit

    print(f"CPU: {lowbit.cpu_info()['model']}; CPU class `{cls}`"
          + (" (the portable reference, not a CPU)" if cls == "scalar" else
             " (this CPU's)" if cls == table["this_cpu"] else "")
          + f"; one thread; {repeat} rounds; ratio > 1 = first is faster\n", file=out)
    for peer in ("numpy", "ort-matmulinteger"):
        if peer not in group and peer in notes:
            print(f"note: {notes[peer]}", file=out)
    print("| shape | comparison | speed ratio | note |\n|---|---|---|---|", file=out)
    for shape, what, r, note in rows:
        print(f"| {shape} | {what} | {r:.2f}x | {note} |", file=out)
    return 0
