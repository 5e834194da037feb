"""Timing: pytest-benchmark times every benchmark case (bench/test_gemm.py); this module holds
the one other mode, paired interleaved timing, used by the CI gate's ratios and by
`lowbit-bench headline`.

Two kernels timed back to back in one process see the same load, clock and cache state, so
their ratio is much steadier than either time on a shared machine. A round times every call
of a group once per sub-sample (the order rotated every round, so no call always follows the
same neighbour) and keeps each call's fastest sub-sample: preemption only ever adds time, so
the minimum discards it. Ratios are taken within a round (a paired design).
"""

from __future__ import annotations

import os
import time
from typing import Callable, Mapping

# One timing is ~0.5 ms of calls: long against timer and call overhead, short against a
# scheduler time slice, so most timings are not preempted on a busy machine.
TARGET_SAMPLE_S = 5e-4
SUBSAMPLES = 5
WARMUP_ROUNDS = 10


def timed(fn: Callable[[], object], n: int) -> float:
    """Seconds per call of n back-to-back calls."""
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def spin(seconds: float, threads: int = 1) -> None:
    """Busy-waits (a sleep would let the vCPU idle, and the next call start cold).  With
    threads > 1 it keeps that many cores busy (lowbit fp32 calls on that many threads): an
    idle vCPU of a virtual machine wakes slowly, and a 2-thread call timed right after one
    core idled for 0.1 s ran at its one-thread speed (Zen 3 VM, 200-400 us shapes)."""
    t0 = time.perf_counter()
    if threads > 1 and seconds > 0:
        import lowbit

        x, pw = _busy_operands()
        while time.perf_counter() - t0 < seconds:
            lowbit.matmul(x, pw, threads=threads)
        return
    while time.perf_counter() - t0 < seconds:
        pass


_BUSY: list = []


def _busy_operands():
    """256^3 fp32 (~0.2 ms on 2 cores): enough work to run on every thread."""
    if not _BUSY:
        import numpy as np

        import lowbit

        rng = np.random.default_rng(0)
        x = rng.standard_normal((256, 256), dtype=np.float32)
        _BUSY.append((x, lowbit.pack_weights(x, "fp32")))
    return _BUSY[0]


def openblas_spin_s() -> float:
    """How long OpenBLAS's worker threads keep spinning after a multi-threaded call: 2^t
    time-stamp-counter ticks (t = OPENBLAS_THREAD_TIMEOUT, 4..30, default 28), with a margin.
    A spinning worker holds a core: a multi-threaded call of another library made within that
    window runs at about its one-thread speed (measured on a 2-core Zen 3 VM: lowbit fp32
    196x256x2304 at 2 threads 2.8 ms for the first 0.11 s after a numpy call, 1.4 ms after).
    Nobody running one library sees that, so a paired comparison waits it out."""
    try:
        t = int(os.environ.get("OPENBLAS_THREAD_TIMEOUT") or os.environ.get("GOTO_THREAD_TIMEOUT")
                or 28)
    except ValueError:
        t = 28
    t = min(max(t, 4), 30)
    return 1.2 * (1 << t) / _tsc_hz()


def _tsc_hz() -> float:
    """The time-stamp counter's rate: on x86 Linux, BogoMIPS is twice it (the delay loop is
    calibrated on the TSC); 2 GHz where that is not known (a longer, safe wait)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("bogomips"):
                    return max(float(line.split(":")[1]) / 2 * 1e6, 1e9)
    except (OSError, ValueError):
        pass
    return 2e9


def calls_per_timing(calls: Mapping[str, Callable], target_s: float = TARGET_SAMPLE_S) -> int:
    """The same call count for every member of a group, set by the slowest one."""
    slowest = max(timed(c, 3) for c in calls.values())
    return max(1, int(target_s / max(slowest, 1e-7)))


def interleaved(groups: Mapping[object, Mapping[str, Callable]], rounds: int, *,
                subsamples: int = SUBSAMPLES, warmup_rounds: int = WARMUP_ROUNDS,
                target_s: float = TARGET_SAMPLE_S,
                settle: Mapping[str, float] | None = None, settle_threads: int = 1,
                rewarm: bool = False) -> dict:
    """{group: {name: [seconds per call, one per round]}}.

    settle: {name: seconds} to busy-wait after each timing of that call, so that the call's
    spinning worker threads (openblas_spin_s) have parked before the next call is timed.
    With settle, every timing starts with one untimed call: after the wait the timed call's
    own pool is parked too, and waking it is not what a steady stream of calls pays.  The
    wait keeps settle_threads cores busy (spin).  rewarm: the untimed call before every
    timing without a wait (a multi-threaded call timed right after a one-thread one would
    otherwise pay for waking the pool that parked meanwhile, which back-to-back calls never
    pay).

    Rounds of all groups are interleaved too (round i of every group, then round i + 1), so a
    burst of load lasting a second touches a slice of every group's samples instead of all of
    one group's.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    settle = dict(settle or {})
    prepared = {g: (dict(calls), calls_per_timing(calls, target_s)) for g, calls in groups.items()}
    out = {g: {name: [] for name in calls} for g, (calls, _) in prepared.items()}
    for _ in range(warmup_rounds):  # page in buffers, settle caches and clock
        for calls, n in prepared.values():
            for name, fn in calls.items():
                timed(fn, n)
                spin(settle.get(name, 0.0), settle_threads)
    for i in range(rounds):
        for g, (calls, n) in prepared.items():
            names = list(calls)
            k = i % len(names)
            rot = names[k:] + names[:k]
            best = dict.fromkeys(rot, float("inf"))
            for _ in range(subsamples):
                for name in rot:
                    if settle or rewarm:
                        calls[name]()
                    best[name] = min(best[name], timed(calls[name], n))
                    spin(settle.get(name, 0.0), settle_threads)
            for name in rot:
                out[g][name].append(best[name])
    return out


def paired_ratios(times: Mapping[str, list], num: str, den: str) -> list[float]:
    """Per-round time(num) / time(den) (< 1: num is faster)."""
    return [a / b for a, b in zip(times[num], times[den])]
