"""The one statistics module of the bench, the gate and the headline.

Timing noise is skewed (preemption only ever adds time), so location is the median, spread
the inter-quartile range, and two sets of samples are compared with Mann-Whitney U (no
normality assumption) and a bootstrap CI of the ratio of medians.
"""

from __future__ import annotations

import math

import numpy as np


def median(xs) -> float:
    return float(np.median(np.asarray(xs, float)))


def iqr(xs) -> float:
    xs = np.asarray(xs, float)
    if xs.size < 2:
        return 0.0
    q1, q3 = np.percentile(xs, [25, 75])
    return float(q3 - q1)


def rel_iqr(xs) -> float:
    """IQR / median: the spread of a measurement relative to its size."""
    return iqr(xs) / median(xs)


def geomean(xs) -> float | None:
    xs = [x for x in xs if x is not None and x > 0 and math.isfinite(x)]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def mann_whitney_p(a, b, alternative: str = "two-sided") -> float:
    """p-value of Mann-Whitney U; `alternative="greater"`: is `a` stochastically larger?
    Fewer than 2 samples a side cannot show anything: p = 1."""
    from scipy.stats import mannwhitneyu

    if len(a) < 2 or len(b) < 2:
        return 1.0
    return float(mannwhitneyu(np.asarray(a, float), np.asarray(b, float),
                              alternative=alternative).pvalue)


def bootstrap_ratio_ci(a, b, n_resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap CI of median(b) / median(a)."""
    from scipy.stats import bootstrap

    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2:
        r = float(np.median(b) / np.median(a))
        return (r, r)
    res = bootstrap((a, b), lambda x, y, axis=-1: np.median(y, axis=axis) / np.median(x, axis=axis),
                    n_resamples=n_resamples, method="percentile", vectorized=True,
                    random_state=np.random.default_rng(seed), paired=False)
    return (float(res.confidence_interval.low), float(res.confidence_interval.high))
