"""GOP/s of lowbit's kernels per (format, shape group), and lowbit/peer time ratios.

The CPU class is the asv machine (ci/asv_history.py names it from the fingerprint and
LOWBIT_MAX_TIER), so each format runs at the best tier the class allows: lowbit.tiers(fmt)[0].
Shapes: the suite LOWBIT_ASV_SUITE (default "quick") of bench/shapes.toml, grouped by their
source group (square, cnn, llm, deepbench); a group's figure is the geometric mean over its
shapes. Timing, operands and peers are `make bench`'s own (lowbit.bench.timing, .impls).
"""

from __future__ import annotations

import contextlib
import importlib.util
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
# A subset of the suite's shapes to time (comma-separated names; `lowbit-docker history`
# under QEMU times one or two): the parameter grid stays the suite's, so the results merge
# with every other machine's, and a group with no timed shape is n/a. LOWBIT_ASV_PEERS=0
# skips timing the peers (their ratios are then n/a).
ONLY_SHAPES = [n for n in os.environ.get("LOWBIT_ASV_SHAPES", "").split(",") if n]
TIME_PEERS = os.environ.get("LOWBIT_ASV_PEERS", "1") != "0"
# Interleaved rounds per shape (every implementation once per round, order rotated; each
# round keeps the fastest of lowbit.bench.timing's sub-samples) after a few warm-up rounds.
ROUNDS = 3
WARMUP_ROUNDS = 2
# The in-process peers (the torch peers run in a worker process of their own per tier cap,
# which `make bench` covers).
IN_PROCESS_PEERS = [p for p in PEERS if not p.startswith("torch-")]


def _shapes(only=()):
    catalog = load_catalog(CATALOG)
    seen, out = set(), []
    for s in catalog.suite(SUITE):
        if s.dims not in seen:
            seen.add(s.dims)
            out.append((s, catalog.groups(s)))
    if only:
        unknown = sorted(set(only) - {s.name for s, _ in out})
        if unknown:
            raise ValueError(f"LOWBIT_ASV_SHAPES: {', '.join(unknown)} not in suite {SUITE!r} "
                             f"({', '.join(s.name for s, _ in out)})")
        out = [(s, g) for s, g in out if s.name in only]
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


def measure(rounds: int = ROUNDS, log=sys.stderr) -> dict:
    """{"gops": {"fmt/group": GOP/s}, "peer": {"peer/group": lowbit time / peer time},
    "tiers": {fmt: tier}}. Per shape, lowbit's formats and the peers are timed in interleaved
    rounds (lowbit.bench.timing.interleaved, the gate's paired timing); a peer ratio is the
    median of its per-round ratios (both saw the same load)."""
    from lowbit.bench import impls
    from lowbit.bench.timing import interleaved, paired_ratios

    tiers = {f: lowbit.tiers(f)[0] for f in lowbit.FORMATS}
    peers = []
    for p in IN_PROCESS_PEERS:
        missing = [d for d in impls.PEER_DISTS[p] if importlib.util.find_spec(d) is None]
        why = ("LOWBIT_ASV_PEERS=0" if not TIME_PEERS else
               f"{', '.join(missing)} not installed" if missing else None)
        if why:
            print(f"asv gemm: peer {p} skipped: {why}", file=log)
        else:
            peers.append(p)
    gops, ratio = defaultdict(list), defaultdict(list)
    for shape, groups in _shapes(ONLY_SHAPES):
        M, N, K = shape.dims
        prepared = {f: impls.prepare_lowbit(f, tiers[f], M, N, K, 1) for f in lowbit.FORMATS}
        prepared.update({p: _prepare_peer(p, M, N, K) for p in peers})
        with contextlib.ExitStack() as stack:
            for prep in prepared.values():
                stack.enter_context(prep.context)
            times = interleaved({shape.name: {n: p.fn for n, p in prepared.items()}}, rounds,
                                warmup_rounds=WARMUP_ROUNDS)[shape.name]
        for g in groups:
            for f in lowbit.FORMATS:
                gops[f"{f}/{g}"].append(shape.ops / statistics.median(times[f]) / 1e9)
            for p in peers:
                ratio[f"{p}/{g}"].append(statistics.median(
                    paired_ratios(times, PEERS[p][0], p)))
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
