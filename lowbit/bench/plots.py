"""PNG plots for the report (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

from .tables import SPEEDUPS, View


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def gops_plot(view: View, tier: str, threads: int, path: Path) -> Path:
    """GOPS per shape at one tier: every lowbit format and every peer, log scale."""
    plt = _pyplot()
    shapes = view.shapes(threads=threads)
    fig, ax = plt.subplots(figsize=(max(8, 0.32 * len(shapes) + 3), 4.8))
    xs = range(len(shapes))
    for fmt in view.formats:
        ys = [(r["gops"] if (r := view.lowbit(sk, fmt, tier)) else float("nan")) for sk in shapes]
        ax.plot(xs, ys, marker="o", linewidth=1.5, label=f"lowbit {fmt}")
    for peer in view.peers:
        ys = [(r["gops"] if (r := view.peer(sk, peer, tier)) else float("nan")) for sk in shapes]
        ax.plot(xs, ys, marker="x", linestyle="--", linewidth=0.9, label=peer)
    ax.set_yscale("log")
    ax.set_xticks(list(xs))
    ax.set_xticklabels([view.display_name(sk) for sk in shapes], rotation=75, ha="right",
                       fontsize=7)
    ax.set_ylabel("GOPS (2MNK / s)")
    ax.set_title(f"GOPS per shape, tier {tier}, {threads} thread(s)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def speedup_plot(view: View, threads: int, path: Path) -> Path:
    """Geometric-mean speedups of each format over fp32 and int8, bars grouped by tier."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.2))
    n = len(SPEEDUPS)
    width = 0.8 / n
    for i, (num, den) in enumerate(SPEEDUPS):
        vals = [view.geomean_speedups(t, threads)[(num, den)][0] or 0.0 for t in view.tiers]
        pos = [j + (i - (n - 1) / 2) * width for j in range(len(view.tiers))]
        bars = ax.bar(pos, vals, width, label=f"{num} / {den}")
        ax.bar_label(bars, fmt="%.2f", fontsize=6)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(view.tiers)))
    ax.set_xticklabels(view.tiers)
    ax.set_ylabel("speedup (geomean over shapes)")
    ax.set_title(f"Speedup per tier, {threads} thread(s)")
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
