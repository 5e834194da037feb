"""Render reports/latest.md (tabulate) and its PNG plots from a results document, organised
by CPU class (lowbit.bench.tables)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tabulate import tabulate

from .atomic import write_text
from .cases import NATIVE, PEER_DESCRIPTIONS
from .narrative import what_this_means
from .plots import gops_plot, roofline_plot, speedup_plot
from .tables import SPEEDUPS, SUMMARY, View


def _f(x, fmt="{:.1f}") -> str:
    return "–" if x is None else fmt.format(x)


def _table(rows, headers) -> str:
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def _fingerprint_table(v: View) -> str:
    fp = v.machine
    build = fp.get("build") or {}
    build_s = ", ".join(f"{k}={val}" for k, val in build.items()) if isinstance(build, dict) \
        else str(build)
    vers = fp.get("versions") or {}
    classes = "; ".join(f"{c['name']}: " + ", ".join(f"{f} {t}" for f, t in c["kernels"].items()
                                                    if t)
                        for c in v.classes)
    rows = [
        ["CPU", fp.get("cpu_model")],
        ["ISA flags", " ".join(fp.get("isa_flags") or [])],
        ["cores / affinity", f"{fp.get('cores')} / {fp.get('affinity')}"],
        ["load average at start (1, 5, 15 min)",
         " ".join(f"{x:.2f}" for x in fp.get("loadavg") or [])],
        ["runnable tiers per format", "; ".join(
            f"{k}: {', '.join(t) if isinstance(t, list) else t}"
            for k, t in (fp.get("tiers") or {}).items())],
        ["CPU classes (kernel per format)", classes or "–"],
        ["LOWBIT_MAX_TIER", fp.get("max_tier") or "(not set)"],
        ["compiler and flags", build_s or "(not reported by the build)"],
        ["commit", fp.get("commit")],
        ["versions", ", ".join(f"{k} {val}" for k, val in vers.items() if val)],
        ["OS", fp.get("os")],
        ["date", fp.get("date")],
    ]
    return _table(rows, ["", ""])


def _method(v: View) -> str:
    o = v.lb["options"]
    rep = (f"exactly {o['repeat']} rounds" if o.get("repeat") else
           f"rounds until {o['budget_s']} s are spent (at least {o['min_rounds']})")
    return "\n".join([
        f"- **Timing**: pytest-benchmark (bench/test_gemm.py), {rep}; each round lasts >= "
        f"{o['min_round_s'] * 1e3:.0f} ms (pytest-benchmark calibrates the calls per round), "
        f"after a warm-up of up to {o['warmup_iterations']} calls; GC disabled. Raw round times "
        "are in the results JSON (`stats.data`, seconds per call).",
        "- **Statistic**: median; GOP/s = 2*M*N*K / median. Weights are packed before timing "
        "(lowbit `pack_weights`, ORT session creation, fbgemm prepack; `pack_s`).",
        f"- **Threads**: {o['threads']}; lowbit `threads=`, OpenBLAS via threadpoolctl, "
        "onnxruntime `intra_op_num_threads` (no spinning), torch `set_num_threads`. No pinning.",
        "- **Cache state**: warm (same operands every call).",
        "- **Order**: shape-major in one process (lowbit, numpy, onnxruntime); torch runs in one "
        "process per ISA cap afterwards. A benchmark's group is its shape and thread count.",
        "- **CPU classes**: a class is a LOWBIT_MAX_TIER value; under it each format runs its "
        "best kernel allowed there, torch._int_mm its run capped by ONEDNN_MAX_CPU_ISA, and "
        "the other peers (marked native) their own ISA choice.",
        "- **Roofline**: bound = min(peak x threads, AI x bandwidth). Peak: the measured "
        "throughput of the kernel's instruction class (register-resident loop of independent "
        "operations, kernels/src/roofline.cpp; for a peer, the fastest class of its number "
        "type it may use); AI = 2MNK / bytes of A + packed B + C; bandwidth: streaming read at "
        "the largest measured working set not above the case's. Probes (best of many 1 ms "
        "trials) run before, during (every ~60 s) and after the cases; each figure's best is "
        "used.",
        "- **Exactness**: a corner of every integer result (8x64) is checked against numpy int64.",
    ])


def _peers_table(v: View) -> str:
    rows = []
    for p in v.lb["options"].get("peers", []):
        st = v.lb["peers"].get(p, {})
        if st.get("available"):
            state = "measured"
        elif st:
            state = f"**skipped**: {st.get('reason')}"
        else:
            state = "not run"
        vers = v.machine.get("versions") or {}
        dist = "numpy" if p == "numpy" else "onnxruntime" if p.startswith("ort") else "torch"
        rows.append([p, vers.get(dist) or "–", state, PEER_DESCRIPTIONS.get(p, "")])
    if not rows:
        return "_No peers were requested._"
    return _table(rows, ["peer", "version", "status", "what"])


def _summary_table(v: View, threads: int) -> str:
    rows = []
    for c in v.classes + ([v.reference] if v.reference else []):
        name = c["name"]
        g = v.geomean_speedups(name, threads)
        tags = v.class_tags(name)
        label = f"`{name}`" + (f" ({', '.join(tags)})" if tags else "")
        rows.append([label] + [_f(g[(n, d)][0], "{:.2f}x") + (
            f" ({g[(n, d)][1]:.2f}–{g[(n, d)][2]:.2f})" if g[(n, d)][1] else "")
            for n, d, _ in SUMMARY])
    rows.append(["papers (ARMv8 NEON, no dot product)"] + [p or "–" for _, _, p in SUMMARY])
    return _table(rows, ["CPU class"] + [f"{n}/{d}" for n, d, _ in SUMMARY])


def _roofline_tables(v: View) -> str:
    roof = v.roof
    if not roof.get("peaks"):
        return "_Roofline probes not run._"
    rows = [[p, roof["probes"].get(p, {}).get("tier"), roof["probes"].get(p, {}).get("what"),
             f"{g / 1e9:.1f}"] for p, g in roof["peaks"].items()]
    out = [_table(rows, ["instruction class", "tier", "loop", "peak GOP/s (1 thread)"]), ""]
    not_run = [p for p, info in roof.get("probes", {}).items() if p not in roof["peaks"]]
    if not_run:
        out += [f"Not runnable on this CPU (compiled, not run): {', '.join(not_run)}.", ""]
    bw = roof.get("bandwidth", {})
    if bw:
        sizes = [s for s, _ in next(iter(bw.values()))]
        brow = [[f"{t} thread(s)"] + [f"{b / 1e9:.1f}" for _, b in rows_] for t, rows_ in bw.items()]
        out += [f"Streaming read (`{roof.get('reader')}`), GB/s by working set:", "",
                _table(brow, [""] + [_size(s) for s in sizes])]
    return "\n".join(out)


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


def _gops_table(v: View, group, cls, threads) -> str:
    headers = ["shape", "M", "N", "K"] + [f"{f} ({v.kernel_tier(f, cls)})" for f in v.formats]
    headers += [p + ("" if p == "torch-int-mm" else f" ({NATIVE})") for p in v.peers]
    rows = []
    for sk in v.shapes(group, threads):
        row = [v.display_name(sk), sk[0], sk[1], sk[2]]
        for r in [v.lowbit(sk, f, cls) for f in v.formats] + [v.peer(sk, p, cls) for p in v.peers]:
            pct = v.pct_bound(r) if r else None
            row.append(_f(r["gops"] if r else None) + (f" ({pct:.0f}%)" if pct is not None else ""))
        rows.append(row)
    return _table(rows, headers)


def _speedup_table(v: View, group, cls, threads) -> str:
    sp = [(n, d) for n, d in SPEEDUPS if n in v.formats and d in v.formats]
    rows = []
    for sk in v.shapes(group, threads):
        rows.append([v.display_name(sk)] + [_f(v.speedup(sk, n, d, cls), "{:.2f}x") for n, d in sp])
    g = v.geomean_speedups(cls, threads, group)
    rows.append(["**geomean**"] + [_f(g[(n, d)][0], "**{:.2f}x**") for n, d in sp])
    return _table(rows, ["shape"] + [f"{n}/{d}" for n, d in sp])


def _pack_table(v: View, cls, threads) -> str:
    cols = [("lowbit", f) for f in v.formats] + [(p, None) for p in v.peers]
    rows = []
    for sk in v.shapes(threads=threads):
        row = [v.display_name(sk)]
        for impl, f in cols:
            r = v.lowbit(sk, f, cls) if impl == "lowbit" else v.peer(sk, impl, cls)
            row.append(_f(r["pack_s"] * 1e3 if r and r.get("pack_s") else None, "{:.2f}"))
        rows.append(row)
    return _table(rows, ["shape"] + [f if impl == "lowbit" else impl for impl, f in cols])


def _demote(md: str, levels: int = 2) -> str:
    return re.sub(r"^(#+)", lambda m: m.group(1) + "#" * levels, md, flags=re.M)


def _img(p: Path, out_md: Path, alt: str) -> str:
    return f"![{alt}]({os.path.relpath(p, out_md.parent)})"


def _class_section(v: View, cls: str, threads: int, plots: bool, plot_dir: Path, out_md: Path,
                   suite: str, reference: bool) -> list[str]:
    title = (f"## Scalar reference (portable C++, not a CPU), {threads} thread(s)" if reference
             else f"## Class `{cls}`" + (f" ({', '.join(tags)})" if (tags := v.class_tags(cls))
                                          else "") + f", {threads} thread(s)")
    L = [title, ""]
    if not reference:
        L += [f"Kernels under this class: " + ", ".join(
            f"{f} `{v.kernel_tier(f, cls)}`" for f in v.formats) +
            ". Peers: torch-int-mm capped to this class; the others native. "
            "GOP/s (median), with % of the case's roofline bound in brackets.", ""]
        if plots:
            L += [_img(gops_plot(v, cls, threads, plot_dir / f"{suite}-gops-{cls}-t{threads}.png"),
                       out_md, f"GOP/s {cls}"), "",
                  _img(roofline_plot(v, cls, threads,
                                     plot_dir / f"{suite}-roofline-{cls}-t{threads}.png"),
                       out_md, f"roofline {cls}"), ""]
    for group in v.group_list:
        if not v.shapes(group, threads):
            continue
        L += [f"### {group}" + (" (scalar reference)" if reference else f": class `{cls}`"), "",
              _gops_table(v, group, cls, threads), "", _speedup_table(v, group, cls, threads), ""]
    return L


def render(doc: dict, out_md: str | os.PathLike, *, results_path: str | None = None,
           accuracy_md: str | os.PathLike | None = None, plots: bool = True) -> str:
    """Write the markdown report (and PNGs next to it, under plots/). Returns the markdown."""
    out_md = Path(out_md)
    v = View(doc)
    lb = v.lb
    suite = lb["suite"]
    plot_dir = out_md.parent / "plots"
    L = [f"# lowbit benchmark report: suite `{suite}`", ""]
    L.append(f"Generated by `lowbit-bench report` from `{results_path or 'results'}` "
             f"({len(doc['benchmarks'])} measured cases"
             + (f", measuring time {lb['wall_s']:.0f} s" if lb.get("wall_s") else "")
             + ("" if lb.get("complete") else ", **run incomplete**") + "). "
             "Regenerate with `make bench` (see reports/README.md); the results file is "
             "pytest-benchmark JSON (`pytest-benchmark compare` reads it).")
    L += ["", "## What this means", "", what_this_means(v), ""]
    for threads in v.threads:
        L += [f"## Summary by CPU class, {threads} thread(s)", "",
              "Geometric mean over every shape of the run (min–max in brackets); each format "
              "runs its best kernel allowed under the class.", "", _summary_table(v, threads), ""]
        if plots and v.classes:
            L += [_img(speedup_plot(v, threads, plot_dir / f"{suite}-speedup-t{threads}.png"),
                       out_md, "speedup over fp32"), ""]
    L += ["## Machine", "", _fingerprint_table(v), ""]
    L += ["## Method", "", _method(v), ""]
    L += ["## Peers", "", _peers_table(v), ""]
    L += ["## Roofline probes (measured)", "", _roofline_tables(v), ""]
    for threads in v.threads:
        for c in v.classes:
            L += _class_section(v, c["name"], threads, plots, plot_dir, out_md, suite, False)
        if v.reference:
            L += _class_section(v, v.reference["name"], threads, plots, plot_dir, out_md, suite,
                                True)
    if v.classes and v.threads:
        cls = v.classes[0]["name"]
        L += [f"## Weight packing time (ms, once per weight matrix), class `{cls}`", "",
              "lowbit `pack_weights`; onnxruntime: session creation with the weights as "
              "initializers; fbgemm: `linear_prepack`; `–`: nothing to prepare.", "",
              _pack_table(v, cls, v.threads[0]), ""]
    L += ["## Exactness, errors and skipped cases", ""]
    bad = v.check_failures()
    if bad:
        for (impl, fmt, tier), n in sorted(bad.items()):
            L.append(f"- `{impl}` {fmt} @ {tier}: result **not exact** on {n} shape(s).")
    else:
        L.append("- Every checked integer result was exact.")
    for e in lb.get("errors", []):
        L.append(f"- case `{e['case']}`: {e['error']}")
    skipped: dict = {}
    for s in lb.get("skipped", []):
        skipped.setdefault(s["reason"], []).append(s["case"])
    for reason, ids in skipped.items():
        L.append(f"- skipped ({len(ids)} cases): {reason}")
    L.append("")
    L += ["## Accuracy", ""]
    acc = Path(accuracy_md) if accuracy_md else out_md.parent / "accuracy.md"
    if acc.is_file():
        L += [f"From [{acc.name}]({os.path.relpath(acc, out_md.parent)}) (`make accuracy`):", "",
              _demote(acc.read_text().strip()), ""]
    else:
        L += [f"_No accuracy study found ({acc.name} missing): run `make accuracy`._", ""]
    md = "\n".join(L)
    write_text(out_md, md)
    return md
