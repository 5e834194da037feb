"""Compare two results files case by case: time ratios with a significance test.

For every case present in both files: ratio = median(B) / median(A) (> 1: B is slower), a
two-sided Mann-Whitney U test on the raw per-call samples (no normality assumption; timing
noise is skewed), and a bootstrap 95% CI of the ratio of medians. A case is a significant
regression when p < alpha AND the ratio exceeds 1 + threshold (a tiny but "significant" shift
is not flagged), an improvement symmetrically.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import stats
from .results import records

REGRESSION, IMPROVEMENT, SAME = "REGRESSION", "improvement", "~"


@dataclass
class CaseComparison:
    key: str  # case id
    median_a: float
    median_b: float
    ratio: float
    p_value: float
    ci: tuple[float, float]
    verdict: str


def compare_samples(a, b, alpha: float = 0.05, threshold: float = 0.05):
    ma, mb = stats.median(a), stats.median(b)
    ratio = mb / ma
    p = stats.mann_whitney_p(a, b)
    ci = stats.bootstrap_ratio_ci(a, b)
    if p < alpha and ratio > 1 + threshold:
        verdict = REGRESSION
    elif p < alpha and ratio < 1 / (1 + threshold):
        verdict = IMPROVEMENT
    else:
        verdict = SAME
    return ma, mb, ratio, p, ci, verdict


def compare_docs(a: dict, b: dict, alpha: float = 0.05, threshold: float = 0.05):
    ra = {r["case"]: r for r in records(a)}
    rb = {r["case"]: r for r in records(b)}
    out = []
    for key in ra:
        if key in rb:
            out.append(CaseComparison(key, *compare_samples(ra[key]["samples_s"],
                                                             rb[key]["samples_s"],
                                                             alpha, threshold)))
    only_a = [k for k in ra if k not in rb]
    only_b = [k for k in rb if k not in ra]
    return out, only_a, only_b


def render(comparisons, only_a, only_b, alpha: float, threshold: float, name_a: str,
           name_b: str) -> str:
    from tabulate import tabulate

    rows = []
    for c in comparisons:
        rows.append([c.key, f"{c.median_a * 1e3:.4g}",
                     f"{c.median_b * 1e3:.4g}", f"{c.ratio:.3f}",
                     f"[{c.ci[0]:.3f}, {c.ci[1]:.3f}]", f"{c.p_value:.3g}", c.verdict])
    n_reg = sum(c.verdict == REGRESSION for c in comparisons)
    n_imp = sum(c.verdict == IMPROVEMENT for c in comparisons)
    lines = [
        f"# lowbit-bench compare: `{name_a}` (A) vs `{name_b}` (B)",
        "",
        f"ratio = median time B / median time A (> 1: B slower). Mann-Whitney U (two-sided) on "
        f"the raw samples, 95% bootstrap CI of the ratio of medians; flagged when p < {alpha} "
        f"and the ratio is beyond {1 + threshold:.2f}x either way.",
        "",
        f"**{n_reg} significant regression(s), {n_imp} significant improvement(s), "
        f"{len(comparisons)} cases compared.**",
        "",
        tabulate(rows, headers=["case", "A ms", "B ms",
                                "ratio", "95% CI", "p", "verdict"], tablefmt="github"),
    ]
    if only_a or only_b:
        lines += ["", f"Cases only in A: {len(only_a)}; only in B: {len(only_b)}."]
    return "\n".join(lines) + "\n"
