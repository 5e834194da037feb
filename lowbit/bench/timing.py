"""Adaptive timing: warm-up, then repeated samples until a time budget is spent.

Like timeit.autorange, each sample times `inner` back-to-back calls so a sample lasts at least
`min_sample_s` (well above timer resolution and call jitter); samples are kept raw (seconds per
call) so later statistics (median, IQR, Mann-Whitney U in `compare`) work on the real data.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable


@dataclass
class Timing:
    samples_s: list[float]   # seconds per call, one entry per sample
    inner: int               # calls per sample
    warmup_calls: int

    @property
    def median_s(self) -> float:
        return statistics.median(self.samples_s)

    @property
    def iqr_s(self) -> float:
        if len(self.samples_s) < 2:
            return 0.0
        q = statistics.quantiles(self.samples_s, n=4, method="inclusive")
        return q[2] - q[0]


def measure(fn: Callable[[], object], *, budget_s: float = 0.2, min_samples: int = 3,
            max_samples: int = 200, repeat: int | None = None, min_sample_s: float = 2e-3,
            warmup_s: float | None = None, clock: Callable[[], float] = time.perf_counter
            ) -> Timing:
    """Time `fn`. With `repeat`, exactly that many samples are taken (budget ignored)."""
    if repeat is not None:
        if repeat < 1:
            raise ValueError("repeat must be >= 1")
        min_samples = max_samples = repeat
    if min_samples < 1 or max_samples < min_samples:
        raise ValueError("need 1 <= min_samples <= max_samples")
    # Warm-up: first call pays page faults, lazy init and cold caches; keep calling until a
    # slice of the budget is used so clocks and caches settle.
    warmup_s = budget_s / 5 if warmup_s is None else warmup_s
    t0 = clock()
    fn()
    first = clock() - t0
    calls = 1
    while clock() - t0 < warmup_s:
        fn()
        calls += 1
    per_call = max(first if calls == 1 else (clock() - t0) / calls, 1e-9)
    inner = 1
    while inner * per_call < min_sample_s:
        inner *= 2
    samples: list[float] = []
    start = clock()
    while len(samples) < max_samples:
        s = clock()
        for _ in range(inner):
            fn()
        samples.append((clock() - s) / inner)
        if len(samples) >= min_samples and clock() - start >= budget_s:
            break
    return Timing(samples_s=samples, inner=inner, warmup_calls=calls)
