"""pytest-benchmark suite: every runnable kernel variant x shape x threads.

    python -m pytest bench --benchmark-only                       # the quick suite
    LOWBIT_BENCH_SUITE=cnn LOWBIT_BENCH_THREADS=1,2 python -m pytest bench --benchmark-only \
        --benchmark-json reports/results/pytest-cnn.json

Cases come from the variant registry the tests use (`lowbit.variants()`, one case per runnable
format x tier) and from the shape catalog (bench/shapes.toml). Weights are packed outside the
timed call (`test_matmul`); packing is benchmarked on its own (`test_pack_weights`).
`lowbit-bench run` measures the same cases next to the peers and renders the report.
"""

import os
from pathlib import Path

import pytest

lowbit = pytest.importorskip("lowbit")

from lowbit.bench.catalog import load_catalog  # noqa: E402
from lowbit.bench.operands import make_operands  # noqa: E402

SUITE = os.environ.get("LOWBIT_BENCH_SUITE", "quick")
THREADS = [int(t) for t in os.environ.get("LOWBIT_BENCH_THREADS", "1").split(",")]
SHAPES = load_catalog(Path(__file__).with_name("shapes.toml")).suite(SUITE)


def _format_tiers():
    seen = []
    for v in lowbit.variants():
        if v.runnable and (v.format, v.tier) not in seen:
            seen.append((v.format, v.tier))
    return seen


FORMAT_TIERS = _format_tiers()


def _packed(fmt, tier, shape):
    op = make_operands(fmt, shape.M, shape.N, shape.K)
    packed = lowbit.pack_weights(op.w, fmt, zero_point=op.zero_point_w, tier=tier, **op.params)
    return op, packed


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
@pytest.mark.parametrize("fmt,tier", FORMAT_TIERS, ids=[f"{f}-{t}" for f, t in FORMAT_TIERS])
def test_matmul(benchmark, fmt, tier, shape, threads):
    op, packed = _packed(fmt, tier, shape)
    benchmark.group = f"matmul {shape.name} t{threads}"
    benchmark.extra_info.update({"format": fmt, "tier": tier, "kernel": packed.kernel,
                                 "M": shape.M, "N": shape.N, "K": shape.K,
                                 "threads": threads, "ops": shape.ops})
    benchmark(lowbit.matmul, op.x, packed, zero_point=op.zero_point_x, threads=threads)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
@pytest.mark.parametrize("fmt,tier", FORMAT_TIERS, ids=[f"{f}-{t}" for f, t in FORMAT_TIERS])
def test_pack_weights(benchmark, fmt, tier, shape):
    op = make_operands(fmt, shape.M, shape.N, shape.K)
    benchmark.group = f"pack {shape.name}"
    benchmark.extra_info.update({"format": fmt, "tier": tier, "N": shape.N, "K": shape.K})
    benchmark(lowbit.pack_weights, op.w, fmt, zero_point=op.zero_point_w, tier=tier,
              **op.params)


@pytest.mark.parametrize("threads", THREADS, ids=lambda t: f"t{t}")
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
def test_numpy_fp32(benchmark, shape, threads):
    from threadpoolctl import threadpool_limits

    op = make_operands("fp32", shape.M, shape.N, shape.K)
    benchmark.group = f"matmul {shape.name} t{threads}"
    benchmark.extra_info.update({"impl": "numpy", "threads": threads, "ops": shape.ops})
    with threadpool_limits(limits=threads, user_api="blas"):
        benchmark(lambda: op.x @ op.w)
