"""Render reports/latest.md (tabulate) and its PNG plots from a results document."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tabulate import tabulate

from .cases import NATIVE, PEER_DESCRIPTIONS
from .narrative import what_this_means
from .plots import gops_plot, speedup_plot
from .tables import SPEEDUPS, View


def _f(x, fmt="{:.1f}") -> str:
    return "–" if x is None else fmt.format(x)


def _fingerprint_table(doc: dict) -> str:
    fp = doc["fingerprint"]
    build = fp.get("build") or {}
    build_s = ", ".join(f"{k}={v}" for k, v in build.items()) if isinstance(build, dict) else \
        str(build)
    vers = fp.get("versions") or {}
    rows = [
        ["CPU", fp.get("cpu_model")],
        ["ISA flags", " ".join(fp.get("isa_flags") or [])],
        ["cores / affinity", f"{fp.get('cores')} / {fp.get('affinity')}"],
        ["load average at start (1, 5, 15 min)",
         " ".join(f"{x:.2f}" for x in fp.get("loadavg") or [])],
        ["runnable tiers per format", "; ".join(f"{k}: {', '.join(v) if isinstance(v, list) else v}"
                                               for k, v in (fp.get("tiers") or {}).items())],
        ["LOWBIT_MAX_TIER", fp.get("max_tier") or "(not set)"],
        ["compiler and flags", build_s or "(not reported by the build)"],
        ["commit", fp.get("commit")],
        ["versions", ", ".join(f"{k} {v}" for k, v in vers.items() if v)],
        ["OS", fp.get("os")],
        ["date", fp.get("date")],
    ]
    return tabulate(rows, headers=["", ""], tablefmt="github")


def _method(doc: dict) -> str:
    o = doc["options"]
    rep = (f"exactly {o['repeat']} samples" if o.get("repeat") else
           f"samples until {o['budget_s']} s are spent (at least {o['min_samples']}, at most "
           f"{o['max_samples']})")
    return "\n".join([
        f"- **Warm-up**: every case is called repeatedly for budget/5 (= {o['budget_s'] / 5:.3g} s,"
        " at least one call) before timing.",
        f"- **Repetitions**: {rep}; each sample times enough back-to-back calls to last >= 2 ms "
        "(like `timeit.autorange`) and stores seconds per call. Raw samples are in the results "
        "JSON.",
        "- **Statistic**: median of the samples; GOPS = 2*M*N*K / median. Spread: IQR in the "
        "JSON. Packing of weights (lowbit `pack_weights`, ORT session creation, fbgemm prepack) "
        "happens before timing and is recorded separately as `pack_s`.",
        f"- **Threads**: {o['threads']}; lowbit `threads=`, OpenBLAS limited with threadpoolctl, "
        "onnxruntime `intra_op_num_threads` (no spinning), torch `set_num_threads`. "
        "**Thread pinning**: none (the OS schedules; affinity mask in the fingerprint).",
        "- **Cache state**: warm. The same input and prepacked weights are reused across calls, so "
        "shapes whose operands fit the caches run from cache; larger ones stream from memory.",
        "- **Order**: shape-major; all implementations of a shape are measured back to back, so "
        "the ratios within a shape see the same machine load. torch runs in one worker process "
        "per ISA cap.",
        "- **% of peak**: relative to the peak probe below (the best GOPS lowbit's own kernels "
        "reach on small cache-resident shapes, one thread; a measured lower bound of the true "
        "peak, not a datasheet number). fp32 is compared with the fp32 probe, integer formats "
        "with the best integer probe of the same tier.",
        "- **Exactness**: a corner of every integer result (8x64) is checked against numpy int64; "
        "results that were not exact are listed below.",
    ])


def _peers_table(doc: dict) -> str:
    rows = []
    for p, st in doc.get("peers", {}).items():
        state = "measured" if st.get("available") else f"**skipped**: {st.get('reason')}"
        rows.append([p, st.get("version") or "–", state, PEER_DESCRIPTIONS.get(p, "")])
    if not rows:
        return "_No peers were requested._"
    return tabulate(rows, headers=["peer", "version", "status", "what"], tablefmt="github")


def _peak_table(doc: dict) -> str:
    peak = doc.get("peak") or {}
    if not peak:
        return "_Peak probe not run._"
    rows = []
    for tier, e in peak.items():
        f = e.get("formats", {})
        rows.append([tier, _f(e.get("fp32_gflops")), _f(e.get("int8_gops")),
                     _f(e.get("int_best_gops"))] +
                    [_f(f.get(k, {}).get("gops")) for k in ("int4", "4.6bit")])
    return tabulate(rows, headers=["tier", "fp32 GFLOP/s", "int8 GOP/s", "best integer GOP/s",
                                   "int4 GOP/s", "4.6bit GOP/s"], tablefmt="github")


def _gops_table(v: View, group, tier, threads) -> str:
    headers = ["shape", "M", "N", "K"] + [f"{f}" for f in v.formats]
    headers += [p + ("" if p == "torch-int-mm" else f" ({NATIVE})") for p in v.peers]
    rows = []
    for sk in v.shapes(group, threads):
        row = [v.display_name(sk), sk[0], sk[1], sk[2]]
        row += [_f(r["gops"] if (r := v.lowbit(sk, f, tier)) else None) for f in v.formats]
        row += [_f(r["gops"] if (r := v.peer(sk, p, tier)) else None) for p in v.peers]
        rows.append(row)
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def _speedup_table(v: View, group, tier, threads) -> str:
    sp = [(n, d) for n, d in SPEEDUPS if n in v.formats and d in v.formats]
    headers = ["shape"] + [f"{n}/{d}" for n, d in sp] + [f"% peak {f}" for f in v.formats]
    rows = []
    for sk in v.shapes(group, threads):
        row = [v.display_name(sk)]
        row += [_f(v.speedup(sk, n, d, tier), "{:.2f}x") for n, d in sp]
        row += [_f(v.pct_peak(r) if (r := v.lowbit(sk, f, tier)) else None, "{:.0f}%")
                for f in v.formats]
        rows.append(row)
    g = v.geomean_speedups(tier, threads, group)
    rows.append(["**geomean**"] + [_f(g[(n, d)][0], "**{:.2f}x**") for n, d in sp] +
                [""] * len(v.formats))
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def _pack_table(v: View, tier, threads) -> str:
    """One-off weight preparation per shape (not in the timed calls)."""
    cols = [("lowbit", f) for f in v.formats] + [(p, None) for p in v.peers]
    headers = ["shape"] + [f if impl == "lowbit" else impl for impl, f in cols]
    rows = []
    for sk in v.shapes(threads=threads):
        row = [v.display_name(sk)]
        for impl, f in cols:
            r = v.lowbit(sk, f, tier) if impl == "lowbit" else v.peer(sk, impl, tier)
            row.append(_f(r["pack_s"] * 1e3 if r and r.get("pack_s") else None, "{:.2f}"))
        rows.append(row)
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def _demote(md: str, levels: int = 2) -> str:
    return re.sub(r"^(#+)", lambda m: m.group(1) + "#" * levels, md, flags=re.M)


def render(doc: dict, out_md: str | os.PathLike, *, results_path: str | None = None,
           accuracy_md: str | os.PathLike | None = None, plots: bool = True) -> str:
    """Write the markdown report (and PNGs next to it, under plots/). Returns the markdown."""
    out_md = Path(out_md)
    v = View(doc)
    suite = doc["suite"]
    plot_dir = out_md.parent / "plots"
    L = [f"# lowbit benchmark report: suite `{suite}`", ""]
    L.append(f"Generated by `lowbit-bench report` from `{results_path or 'results'}` "
             f"({len(doc['records'])} measured cases"
             + (f", run wall time {doc['wall_s']:.0f} s" if doc.get("wall_s") else "")
             + ("" if doc.get("complete") else ", **run incomplete**") + "). "
             "Regenerate with `make bench` (see reports/README.md).")
    L += ["", "## What this means", "", what_this_means(v), ""]
    L += ["## Machine", "", _fingerprint_table(doc), ""]
    L += ["## Method", "", _method(doc), ""]
    L += ["## Peers", "", _peers_table(doc), ""]
    L += ["## Peak probe (measured)", "", _peak_table(doc), ""]
    for threads in v.threads:
        L += [f"## Speedups, {threads} thread(s)", ""]
        if plots and v.tiers:
            p = speedup_plot(v, threads, plot_dir / f"{suite}-speedup-t{threads}.png")
            L += [f"![speedups]({os.path.relpath(p, out_md.parent)})", ""]
        rows = []
        for tier in v.tiers:
            g = v.geomean_speedups(tier, threads)
            rows.append([tier] + [_f(g[k][0], "{:.2f}x") + (
                f" ({g[k][1]:.2f}–{g[k][2]:.2f})" if g[k][1] else "") for k in SPEEDUPS])
        L += [tabulate(rows, headers=["tier"] + [f"{n}/{d}" for n, d in SPEEDUPS],
                       tablefmt="github", disable_numparse=True),
              "", "Geometric mean over every shape of the run (min–max in brackets).", ""]
        for tier in v.tiers:
            if plots:
                p = gops_plot(v, tier, threads, plot_dir / f"{suite}-gops-{tier}-t{threads}.png")
                L += [f"### GOPS per shape, tier `{tier}`, {threads} thread(s)", "",
                      f"![GOPS {tier}]({os.path.relpath(p, out_md.parent)})", ""]
        for group in v.group_list:
            for tier in v.tiers:
                if not v.shapes(group, threads):
                    continue
                L += [f"### {group}: tier `{tier}`, {threads} thread(s)", "",
                      "GOPS (2MNK/s, median). lowbit formats at this tier; peers marked "
                      f"({NATIVE}) choose their own ISA.", "",
                      _gops_table(v, group, tier, threads), "",
                      _speedup_table(v, group, tier, threads), ""]
    if v.tiers and v.threads:
        L += [f"## Weight packing time (ms, once per weight matrix), tier `{v.tiers[0]}`", "",
              "lowbit `pack_weights`; onnxruntime: session creation with the weights as "
              "initializers; fbgemm: `linear_prepack`; `–`: nothing to prepare.", "",
              _pack_table(v, v.tiers[0], v.threads[0]), ""]
    L += ["## Exactness and errors", ""]
    bad = v.check_failures()
    if bad:
        for (impl, fmt, tier), n in sorted(bad.items()):
            L.append(f"- `{impl}` {fmt} @ {tier}: result **not exact** on {n} shape(s).")
    else:
        L.append("- Every checked integer result was exact.")
    for e in doc.get("errors", []):
        L.append(f"- case {e['case']}: {e['error']}")
    L.append("")
    L += ["## Accuracy", ""]
    acc = Path(accuracy_md) if accuracy_md else out_md.parent / "accuracy.md"
    if acc.is_file():
        L += [f"From [{acc.name}]({os.path.relpath(acc, out_md.parent)}) (`make accuracy`):", "",
              _demote(acc.read_text().strip()), ""]
    else:
        L += [f"_No accuracy study found ({acc.name} missing): run `make accuracy`._", ""]
    md = "\n".join(L)
    out_md.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_md.with_suffix(".md.tmp")
    tmp.write_text(md)
    os.replace(tmp, out_md)
    return md
