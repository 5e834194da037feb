"""PNG plots for the report (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

from .cases import NATIVE
from .tables import OVER_FP32, View


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, plt, path: Path) -> Path:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def gops_plot(view: View, cls: str, threads: int, path: Path) -> Path:
    """GOP/s per shape under one class: every lowbit format and every peer, log scale."""
    plt = _pyplot()
    shapes = view.shapes(threads=threads)
    fig, ax = plt.subplots(figsize=(max(8, 0.32 * len(shapes) + 3), 4.8))
    xs = range(len(shapes))
    for fmt in view.formats:
        ys = [(r["gops"] if (r := view.lowbit(sk, fmt, cls)) else float("nan")) for sk in shapes]
        ax.plot(xs, ys, marker="o", linewidth=1.5,
                label=f"lowbit {fmt} ({view.kernel_tier(fmt, cls)})")
    for peer in view.peers:
        ys = [(r["gops"] if (r := view.peer(sk, peer, cls)) else float("nan")) for sk in shapes]
        capped = any(r and r["tier"] == cls for sk in shapes if (r := view.peer(sk, peer, cls)))
        ax.plot(xs, ys, marker="x", linestyle="--", linewidth=0.9,
                label=f"{peer} ({'capped to ' + cls if capped else NATIVE})")
    ax.set_yscale("log")
    ax.set_xticks(list(xs))
    ax.set_xticklabels([view.display_name(sk) for sk in shapes], rotation=75, ha="right",
                       fontsize=7)
    ax.set_ylabel("GOP/s (2MNK / s)")
    ax.set_title(f"GOP/s per shape, class {cls}, {threads} thread(s)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, plt, path)


def speedup_bars(view: View, threads: int) -> tuple[list[str], list[tuple[str, list]]]:
    """(classes, [(label, geomean speedup per class or None)]) of the speedup plot: the CPU
    classes best first, the scalar reference last."""
    classes = [c["name"] for c in view.classes] + ([view.reference["name"]]
                                                    if view.reference else [])
    series = [(f"{num} / {den}", [view.geomean_speedups(c, threads)[(num, den)][0]
                                  for c in classes]) for num, den in OVER_FP32]
    return classes, series


def speedup_plot(view: View, threads: int, path: Path) -> Path:
    """Geometric-mean speedup of each format over fp32, bars grouped by CPU class (the scalar
    reference last, hatched). A ratio that could not be formed is labelled n/a, not drawn."""
    plt = _pyplot()
    classes, series = speedup_bars(view, threads)
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(classes) + 2), 4.2))
    n = len(series)
    width = 0.8 / n
    for i, (label, vals) in enumerate(series):
        pos = [j + (i - (n - 1) / 2) * width for j in range(len(classes))]
        bars = ax.bar(pos, [v if v else float("nan") for v in vals], width, label=label,
                      color=f"C{i}")
        for b, c in zip(bars, classes):
            if view.reference and c == view.reference["name"]:
                b.set_hatch("//")
        ax.bar_label(bars, labels=[f"{v:.2f}" if v else "n/a" for v in vals], fontsize=7)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(classes)))
    short = {"this CPU": "this CPU", "papers' situation": "papers",
             "reference, not a CPU": "reference"}
    ax.set_xticklabels([c + "".join(f"\n({short.get(t, t)})" for t in view.class_tags(c))
                        for c in classes], fontsize=8)
    ax.set_ylabel("speedup over fp32 (geomean over shapes)")
    ax.set_title(f"Speedup over fp32 per CPU class, {threads} thread(s)")
    ax.legend(fontsize=7)
    return _save(fig, plt, path)


def roofline_plot(view: View, cls: str, threads: int, path: Path) -> Path:
    """Cases of one class as points (arithmetic intensity, GOP/s) under their roofs."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    pts = {}
    for sk in view.shapes(threads=threads):
        cells = [(f"lowbit {f}", view.lowbit(sk, f, cls)) for f in view.formats]
        cells += [(p, view.peer(sk, p, cls)) for p in view.peers]
        for label, r in cells:
            b = view.bound(r) if r else None
            if b:
                pts.setdefault(label, []).append((b["ai"], r["gops"]))
    ais = [a for v in pts.values() for a, _ in v] or [1.0]
    lo, hi = min(ais) / 2, max(ais) * 2
    probes = {view.bound(r)["probe"] for sk in view.shapes(threads=threads)
              for f in view.formats if (r := view.lowbit(sk, f, cls)) and view.bound(r)}
    par = min(threads, view.cores or threads)
    for i, p in enumerate(sorted(probes, key=lambda p: view.roof["peaks"][p])):
        peak = view.roof["peaks"][p] * par / 1e9
        # Grey roofs: the colours are the points' (one per implementation).
        ax.hlines(peak, lo, hi, colors="dimgray", linestyles=("-", "--", ":", "-.")[i % 4],
                  linewidth=1)
        # Staggered along x: close peaks would print over each other.
        ax.text(hi / 4 ** i, peak, f"{p}: {peak:.0f}", fontsize=7, va="bottom", ha="right",
                color="dimgray")
    rows = view.roof.get("bandwidth", {}).get(str(threads), [])
    for size, bps in (rows[:1] + rows[-1:]) if rows else []:
        ax.plot([lo, hi], [lo * bps / 1e9, hi * bps / 1e9], "k--", linewidth=0.7)
        what = f"{size >> 20} MiB" if size >= 1 << 20 else f"{size >> 10} KiB"
        ax.text(lo, lo * bps / 1e9, f" streaming read, {what}: {bps / 1e9:.0f} GB/s",
                fontsize=7, va="bottom")
    for i, (label, v) in enumerate(sorted(pts.items())):
        ax.scatter([a for a, _ in v], [g for _, g in v], s=14, label=label, color=f"C{i}",
                   marker="o" if label.startswith("lowbit") else "x")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (ops per byte of A + packed B + C)")
    ax.set_ylabel("GOP/s")
    ax.set_title(f"Roofline, class {cls}, {threads} thread(s)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, plt, path)
