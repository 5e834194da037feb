"""CPU classes: which kernel each format runs under a LOWBIT_MAX_TIER class, and the
headline on every class (it used to crash on VNNI CPUs: no fp32 kernel for avx512vnni)."""

import os
import subprocess
import sys

import pytest

import lowbit
from lowbit import _core
from lowbit.bench.classes import class_table, kernel_tier

X86_FEATURES = {
    "amx": ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512vnni", "amx-tile",
            "amx-int8"],
    "avx512vnni": ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512vnni"],
    "avxvnni": ["avx2", "fma", "avxvnni"], "avx512": ["avx2", "fma", "avx512f", "avx512bw",
                                                      "avx512vl"],
    "avx2": ["avx2", "fma"], "scalar": []}


def test_best_kernel_under_a_class_follows_the_feature_rule():
    fp32 = ["avx512", "avx2", "scalar"]
    int8 = ["amx", "avx512vnni", "avxvnni", "avx512", "avx2", "scalar"]
    feats = X86_FEATURES.__getitem__
    under = lambda ts, c: kernel_tier(ts, set(X86_FEATURES[c]), feats)  # noqa: E731
    assert under(fp32, "avx512vnni") == "avx512" and under(int8, "avx512vnni") == "avx512vnni"
    assert under(fp32, "avxvnni") == "avx2" and under(int8, "avxvnni") == "avxvnni"
    assert under(int8, "amx") == "amx" and under(fp32, "amx") == "avx512"
    assert under(int8, "avx512") == "avx512" and under(int8, "scalar") == "scalar"


def test_this_machine_has_a_class_table_with_a_kernel_for_every_format():
    t = class_table()
    names = [c["name"] for c in t["classes"]]
    assert names[-1] == "scalar" and t["this_cpu"] == (names[0] if len(names) > 1 else "scalar")
    for c in t["classes"]:
        for f in lowbit.FORMATS:
            assert c["kernels"][f] in lowbit.tiers(f)
            assert set(_core.tier_features(c["kernels"][f])) <= set(c["features"])
    if t["papers_class"]:
        assert not next(c for c in t["classes"] if c["name"] == t["papers_class"])[
            "int8_dot_product"]


@pytest.mark.skipif(os.environ.get("LOWBIT_TEST_PROFILE") == "sanitize", reason="timing")
@pytest.mark.parametrize("cap", [None, "scalar"])
def test_headline_runs_capped_and_uncapped(cap, tmp_path):
    pytest.importorskip("scipy")
    env = dict(os.environ)
    env.pop("LOWBIT_MAX_TIER", None)
    if cap:
        env["LOWBIT_MAX_TIER"] = cap
    out = subprocess.run([sys.executable, "-c", "import sys; from lowbit.bench.cli import main; "
                          "sys.exit(main(['headline', '--repeat', '1', '--size', '64']))"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    want = cap or class_table()["this_cpu"]
    assert f"CPU class `{want}`" in out.stdout
    rows = [line for line in out.stdout.splitlines() if line.startswith("| ") and "x |" in line]
    assert len(rows) >= 8  # 5 format ratios + 3 GEMV rows (+ peers when installed)
    assert f"int4 ({want}) / int8 ({want})" in out.stdout
