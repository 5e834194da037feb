"""GOP/s of lowbit's kernels per (format, shape group), and lowbit/peer time ratios.

The CPU class is the asv machine (ci/asv_history.py names it from the fingerprint and
LOWBIT_MAX_TIER), so each format runs at the best tier the class allows: lowbit.tiers(fmt)[0].
Shapes: the suite LOWBIT_ASV_SUITE (default "quick") of bench/shapes.toml, grouped by their
source group (square, cnn, llm, deepbench); a group's figure is the geometric mean over its
shapes. Timing, operands and peers are `make bench`'s own (lowbit.bench.timing, .impls).
"""

from __future__ import annotations

import math
import os
import statistics
import sys
from collections import defaultdict

from ._common import CATALOG, geomean

import lowbit
from lowbit.bench.cases import PEERS
from lowbit.bench.catalog import load_catalog

SUITE = os.environ.get("LOWBIT_ASV_SUITE", "quick")
# Interleaved rounds per shape (every implementation once per round, order rotated), and the
# sampling budget of one timing (lowbit.bench.timing.measure, which warms up first).
ROUNDS = 3
BUDGET_S = 0.05
# The in-process peers (the torch peers run in a worker process of their own per tier cap,
# which `make bench` covers).
IN_PROCESS_PEERS = [p for p in PEERS if not p.startswith("torch-")]


def _shapes():
    catalog = load_catalog(CATALOG)
    seen, out = set(), []
    for s in catalog.suite(SUITE):
        if s.dims not in seen:
            seen.add(s.dims)
            out.append((s, catalog.groups(s)))
    return out


def _group_names():
    names = []
    for _, groups in _shapes():
        names += [g for g in groups if g not in names]
    return names


GROUPS = _group_names()


def _prepare_peer(peer, M, N, K):
    from lowbit.bench import impls

    fn = {"numpy": impls.prepare_numpy, "ort-matmulinteger": impls.prepare_ort_matmulinteger,
          "ort-matmulnbits": impls.prepare_ort_matmulnbits}[peer]
    return fn(M, N, K, 1)


def measure(rounds: int = ROUNDS, budget_s: float = BUDGET_S, log=sys.stderr) -> dict:
    """{"gops": {"fmt/group": GOP/s}, "peer": {"peer/group": lowbit time / peer time},
    "tiers": {fmt: tier}}. Per shape, lowbit's formats and the peers are timed in interleaved
    rounds; a peer ratio is the median of its per-round ratios (both saw the same load)."""
    from lowbit.bench import impls
    from lowbit.bench.runner import peer_status
    from lowbit.bench.timing import measure as timed

    tiers = {f: lowbit.tiers(f)[0] for f in lowbit.FORMATS}
    status = peer_status(IN_PROCESS_PEERS)
    peers = [p for p in IN_PROCESS_PEERS if status[p]["available"]]
    for p in IN_PROCESS_PEERS:
        if p not in peers:
            print(f"asv gemm: peer {p} skipped: {status[p]['reason']}", file=log)
    gops, ratio = defaultdict(list), defaultdict(list)
    for shape, groups in _shapes():
        M, N, K = shape.dims
        calls = {f: impls.prepare_lowbit(f, tiers[f], M, N, K, 1) for f in lowbit.FORMATS}
        calls.update({p: _prepare_peer(p, M, N, K) for p in peers})
        order = list(calls)
        times = defaultdict(list)
        for r in range(rounds):
            for name in order[r % len(order):] + order[:r % len(order)]:
                prep = calls[name]
                with prep.context:
                    times[name].append(timed(prep.fn, budget_s=budget_s, min_samples=3,
                                             max_samples=50).median_s)
        for g in groups:
            for f in lowbit.FORMATS:
                gops[f"{f}/{g}"].append(shape.ops / statistics.median(times[f]) / 1e9)
            for p in peers:
                own = PEERS[p][0]
                ratio[f"{p}/{g}"].append(statistics.median(
                    a / b for a, b in zip(times[own], times[p])))
        print(f"asv gemm: {shape.name} {M}x{N}x{K} done", file=log)
    return {"gops": {k: geomean(v) for k, v in gops.items()},
            "peer": {k: geomean(v) for k, v in ratio.items()}, "tiers": tiers}


class _Measured:
    """One measurement for every class below (same setup_cache, so asv runs it once)."""

    timeout = 1800
    version = "1"  # bump when a figure changes meaning; asv keeps results of the same version

    def setup_cache(self):
        return measure()


class Throughput(_Measured):
    """GOP/s (2*M*N*K per call) at the class's best tier; higher is better."""

    params = (list(lowbit.FORMATS), GROUPS)
    param_names = ["format", "group"]
    unit = "GOP/s"

    def track_gops(self, cache, fmt, group):
        return cache["gops"].get(f"{fmt}/{group}", math.nan)


class TimePerOp(_Measured):
    """The same measurement as milliseconds per giga-op (1000 / GOP/s): asv counts a rise as
    worse, so its regression marks and `asv compare` point the right way for a slowdown."""

    params = (list(lowbit.FORMATS), GROUPS)
    param_names = ["format", "group"]
    unit = "ms/GOP"

    def track_ms_per_gop(self, cache, fmt, group):
        v = cache["gops"].get(f"{fmt}/{group}", math.nan)
        return 1e3 / v if v and math.isfinite(v) else math.nan


class PeerRatio(_Measured):
    """lowbit's time / the peer's time for the peer's format (below 1: lowbit is faster)."""

    params = (IN_PROCESS_PEERS, GROUPS)
    param_names = ["peer", "group"]
    unit = "time ratio"

    def track_lowbit_over_peer(self, cache, peer, group):
        return cache["peer"].get(f"{peer}/{group}", math.nan)
