"""measure(): warm-up, autorange-style inner loops and sample counts, on a fake clock."""

import pytest

from lowbit.bench.timing import measure


class FakeClock:
    """Each call of the timed function advances time by `cost` seconds."""

    def __init__(self, cost):
        self.t, self.cost, self.calls = 0.0, cost, 0

    def __call__(self):
        return self.t

    def fn(self):
        self.calls += 1
        self.t += self.cost


def test_inner_loops_make_samples_long_enough():
    c = FakeClock(1e-5)
    t = measure(c.fn, budget_s=0.1, min_sample_s=2e-3, clock=c)
    assert t.inner * 1e-5 >= 2e-3 and (t.inner // 2) * 1e-5 < 2e-3
    assert all(s == pytest.approx(1e-5) for s in t.samples_s)
    assert t.warmup_calls >= 1


def test_budget_bounds_samples_but_min_samples_wins():
    c = FakeClock(0.5)  # one call is longer than the whole budget
    t = measure(c.fn, budget_s=0.1, min_samples=5, clock=c)
    assert len(t.samples_s) == 5 and t.inner == 1
    c = FakeClock(1e-3)
    t = measure(c.fn, budget_s=0.1, min_samples=3, max_samples=1000, clock=c)
    spent = sum(t.samples_s) * t.inner
    assert 0.1 <= spent < 0.1 + 2 * t.inner * 1e-3


def test_repeat_is_exact_and_validated():
    c = FakeClock(1e-3)
    assert len(measure(c.fn, repeat=7, clock=c).samples_s) == 7
    with pytest.raises(ValueError):
        measure(c.fn, repeat=0, clock=c)
    with pytest.raises(ValueError):
        measure(c.fn, min_samples=5, max_samples=2, clock=c)


def test_median_and_iqr():
    from lowbit.bench.timing import Timing

    t = Timing([1.0, 2.0, 3.0, 4.0, 100.0], 1, 1)
    assert t.median_s == 3.0
    assert t.iqr_s == pytest.approx(2.0)
