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


def test_settle_waits_after_that_call_and_rewarms_before_each_timing(clock, monkeypatch):
    """settle={"b": s}: a wait of s after every timing of b (its spinning pool parks before a
    is timed), and one untimed call before every timing, which does not count."""
    waits = []
    cold = {"a": True}

    def a():  # the first call after a wait is slow (a parked pool waking): untimed
        clock.order.append("a")
        clock.t += 1e-3 if cold["a"] else 1e-4
        cold["a"] = False

    b = clock.fn("b", 2e-4)
    real_spin_calls = []

    def spin(s, threads=1):
        assert threads == 3
        waits.append(s)
        if s:
            cold["a"] = True
            real_spin_calls.append(s)

    monkeypatch.setattr(timing, "spin", spin)
    t = timing.interleaved({"g": {"a": a, "b": b}}, rounds=4, subsamples=2, warmup_rounds=0,
                           target_s=1e-4, settle={"b": 0.25}, settle_threads=3)
    assert real_spin_calls == [0.25] * (4 * 2)  # after each of b's timings, nothing else
    assert sorted(set(waits)) == [0.0, 0.25]
    assert timing.paired_ratios(t["g"], "b", "a") == pytest.approx([2.0] * 4)


def test_openblas_spin_window_follows_its_timeout_setting(monkeypatch):
    monkeypatch.setattr(timing, "_tsc_hz", lambda: 2e9)
    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    monkeypatch.delenv("GOTO_THREAD_TIMEOUT", raising=False)
    assert timing.openblas_spin_s() == pytest.approx(1.2 * 2**28 / 2e9)
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", "10")
    assert timing.openblas_spin_s() == pytest.approx(1.2 * 2**10 / 2e9)
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", "99")  # OpenBLAS clamps to 4..30
    assert timing.openblas_spin_s() == pytest.approx(1.2 * 2**30 / 2e9)


def test_rewarm_calls_once_untimed_before_each_timing(clock):
    """rewarm=True: one untimed call before every timing (no wait): a call that is slow only
    right after another member ran (a parked pool waking) is timed warm."""
    last = {"who": None}

    def member(name, cost):
        def call():
            clock.order.append(name)
            clock.t += cost + (1e-3 if last["who"] != name else 0)  # slow after the other
            last["who"] = name
        return call

    groups = {"g": {"a": member("a", 1e-4), "b": member("b", 2e-4)}}
    t = timing.interleaved(groups, rounds=3, subsamples=2, warmup_rounds=0, target_s=1e-4,
                           rewarm=True)
    assert timing.paired_ratios(t["g"], "b", "a") == pytest.approx([2.0] * 3)
    t = timing.interleaved(groups, rounds=3, subsamples=1, warmup_rounds=0, target_s=1e-4)
    assert timing.paired_ratios(t["g"], "b", "a") != pytest.approx([2.0] * 3)
