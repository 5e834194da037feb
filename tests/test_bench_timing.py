"""Paired interleaved timing (the gate's and the headline's mode), on a fake clock."""

import pytest

from lowbit.bench import timing


class FakeClock:
    def __init__(self):
        self.t = 0.0
        self.order = []

    def __call__(self):
        return self.t

    def fn(self, name, cost, extra=None):
        def call():
            self.order.append(name)
            self.t += cost
            if extra is not None and extra["left"] > 0:  # a burst of load: one slow call
                extra["left"] -= 1
                self.t += 10 * cost
        return call


@pytest.fixture
def clock(monkeypatch):
    c = FakeClock()
    monkeypatch.setattr(timing.time, "perf_counter", c)
    return c


def test_paired_ratios_are_exact_and_bursts_are_discarded(clock):
    burst = {"left": 1}
    groups = {"g": {"a": clock.fn("a", 1e-5, burst), "b": clock.fn("b", 2e-5)}}
    t = timing.interleaved(groups, rounds=6, warmup_rounds=0)
    assert len(t["g"]["a"]) == len(t["g"]["b"]) == 6
    # Best of the sub-samples: the slow call is gone, the ratio is the true 2.
    assert timing.paired_ratios(t["g"], "b", "a") == pytest.approx([2.0] * 6)


def test_order_rotates_and_groups_interleave(clock):
    groups = {1: {"a": clock.fn("a", 1e-4), "b": clock.fn("b", 1e-4)},
              2: {"c": clock.fn("c", 1e-4)}}
    timing.interleaved(groups, rounds=2, subsamples=1, warmup_rounds=0, target_s=1e-4)
    calib = 3 * 3  # calls_per_timing: 3 calls of each
    seq = "".join(clock.order[calib:])
    assert seq == "abc" + "bac"  # round 0: a b | c ; round 1 rotated: b a | c


def test_rounds_must_be_positive(clock):
    with pytest.raises(ValueError):
        timing.interleaved({"g": {"a": clock.fn("a", 1e-5)}}, rounds=0)
