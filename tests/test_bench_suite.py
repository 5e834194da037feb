"""The pytest-benchmark suite in bench/: collected from the plan, run through
`lowbit-bench run`, and its results file read by `pytest-benchmark compare`."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(os.environ.get("LOWBIT_TEST_PROFILE") == "sanitize",
                    reason="harness smoke test; the sanitizer run checks the kernels")
def test_every_planned_case_is_measured_or_skipped_and_compare_reads_it(tmp_path):
    pytest.importorskip("pytest_benchmark")
    pytest.importorskip("threadpoolctl")
    from lowbit.bench import results as R
    from lowbit.bench.catalog import load_catalog
    from lowbit.bench.runner import run_suite

    d = tmp_path / "bench"
    d.mkdir()
    for f in ("test_gemm.py", "conftest.py"):
        shutil.copy(ROOT / "bench" / f, d / f)
    (d / "shapes.toml").write_text(
        '[suite.t]\ndescription = "t"\n[[shape]]\nname = "x"\nM = 5\nN = 17\nK = 40\n'
        'suites = ["t"]\nsource = "test"\n')
    out = tmp_path / "t.json"
    doc = run_suite(load_catalog(d / "shapes.toml"), "t", str(out), repeat=1, progress=False,
                    roofline=False)
    lb = doc["lowbit"]
    measured = {b["extra_info"]["case"] for b in doc["benchmarks"]}
    skipped = {s["case"] for s in lb["skipped"]}
    planned = {c["id"] for c in lb["plan"]}
    assert lb["complete"] and not lb["errors"]
    assert measured | skipped == planned and not measured & skipped
    import lowbit

    runnable = {(f, t) for f in lowbit.FORMATS for t in lowbit.tiers(f)}
    assert {(b["extra_info"]["format"], b["extra_info"]["tier"]) for b in doc["benchmarks"]
            if b["extra_info"]["impl"] == "lowbit"} == runnable
    assert "numpy-native-5x17x40-t1" in measured  # numpy is a [bench] dependency
    # Every peer sits in the group of the kernels it competes with.
    assert len({b["group"] for b in doc["benchmarks"]}) == 1
    R.load(out)
    cmp = subprocess.run([sys.executable, "-m", "pytest_benchmark", "compare", str(out),
                          "--group-by=group", "--columns=median,rounds"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert cmp.returncode == 0, cmp.stderr
    assert "numpy-native-5x17x40-t1" in cmp.stdout and "x 5x17x40 t1" in cmp.stdout
