"""The benchmark suite: every lowbit kernel (format x runnable tier) and every peer, for each
shape of a catalog suite (bench/shapes.toml) and each thread count. pytest-benchmark times
them all; a case's group is its shape and thread count, so the kernels and the peers they
compete with are compared in one group.

`lowbit-bench run` (what `make bench` runs) drives this file: it writes the plan into the
results file, runs one pytest process for the in-process cases and one per torch ISA cap,
and renders the report. It can also be run on its own:

    python -m pytest bench --benchmark-only                              # the quick suite
    LOWBIT_BENCH_SUITE=cnn LOWBIT_BENCH_THREADS=1,2 python -m pytest bench --benchmark-only \
        --benchmark-json out.json
    pytest-benchmark compare reports/results/default.json --group-by=group

(on its own, the torch peer capped per CPU class is left out: it needs a process per cap).
Weights are packed outside the timed call; packing time is in extra_info.pack_s.
"""

import os

import pytest

pytest.importorskip("lowbit")

from lowbit.bench import impls  # noqa: E402
from lowbit.bench.cases import group_name  # noqa: E402
from lowbit.bench.timing import openblas_spin_s, spin  # noqa: E402


def _plan() -> list:
    out = os.environ.get("LOWBIT_BENCH_OUT")
    if out:
        from lowbit.bench.results import load

        return load(out)["lowbit"]["plan"]
    from pathlib import Path

    from lowbit.bench.catalog import load_catalog
    from lowbit.bench.runner import build_plan

    threads = [int(t) for t in os.environ.get("LOWBIT_BENCH_THREADS", "1").split(",")]
    catalog = load_catalog(Path(__file__).with_name("shapes.toml"))
    plan = build_plan(catalog, os.environ.get("LOWBIT_BENCH_SUITE", "quick"), threads=threads)
    return [c for c in plan if c["process"] in ("main", "torch-native")]


CASES = _plan()
INFO_KEYS = ("impl", "format", "tier", "M", "N", "K", "threads", "ops", "shapes", "groups")


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_gemm(benchmark, case):
    try:
        prep = impls.prepare(case)
    except impls.PeerUnavailable as exc:
        pytest.skip(f"{case['impl']}: {exc}")
    benchmark.group = group_name(case)
    benchmark.extra_info.update({"case": case["id"], **{k: case[k] for k in INFO_KEYS},
                                 "pack_s": prep.pack_s, **prep.extra})
    if case["threads"] > 1:
        # The case before may be a numpy one whose OpenBLAS workers still spin (~0.1 s),
        # holding a core this multi-threaded case needs: wait them out first.
        spin(openblas_spin_s(), case["threads"])
    with prep.context:
        first = prep.fn()
        if prep.check is not None:
            # A sanity check on a corner of C, not a test: an inexact peer is reported.
            benchmark.extra_info["check"] = prep.check(first)
        benchmark(prep.fn)
