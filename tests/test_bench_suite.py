"""The pytest-benchmark suite in bench/ collects every runnable variant and runs (once each)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import lowbit

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(os.environ.get("LOWBIT_TEST_PROFILE") == "sanitize",
                    reason="harness smoke test; the sanitizer run checks the kernels")
def test_pytest_benchmark_suite_runs_every_variant_once(tmp_path):
    pytest.importorskip("pytest_benchmark")
    pytest.importorskip("threadpoolctl")
    env = dict(os.environ, LOWBIT_BENCH_SUITE="quick", LOWBIT_BENCH_THREADS="1")
    # --benchmark-disable runs each benchmark body once, as a plain test: a smoke run.
    out = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "bench" / "test_gemm.py"), "-q",
         "--benchmark-disable", "-p", "no:cacheprovider", "--rootdir", str(ROOT),
         "-k", "cifar_cnn or deepbench"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    pairs = {(v.format, v.tier) for v in lowbit.variants() if v.runnable}
    # two quick shapes x (matmul + pack) per runnable format x tier, plus numpy per shape
    want = 2 * 2 * len(pairs) + 2
    assert f"{want} passed" in out.stdout, out.stdout[-2000:]
