"""Fast tests of the regression gate's decisions (no valgrind)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

# The gate's statistics and tables use the bench extra (the sanitizer venv lacks it).
for _mod in ("scipy", "tabulate"):
    pytest.importorskip(_mod)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ci"))

from gate import armmodel, checks, ratios
from gate.checks import FAIL, OK, SKIP, WARN

BUILD = {"compiler": "GNU 12.2.0", "build_type": "Release", "sanitize": False}
FP = {"arch": "x86_64", "cpu_model": "CPU A", "build": BUILD, "machine": "x86-64-cpu-a",
      "hostname": "h1", "date": "2026-01-01T00:00:00+00:00", "commit": "c1"}


def _cg(counts, kernels=None):
    return {"counts": counts, "kernels": kernels or {k: "f32_gemm_6x16__avx2" for k in counts}}


def test_callgrind_within_tolerance_passes_and_growth_fails():
    base = {"fingerprint": FP, **_cg({"a": 1000, "b": 1000})}
    ok = checks.check_callgrind(_cg({"a": 1000, "b": 1049}), base, BUILD)
    assert [c.verdict for c in ok] == [OK, OK]
    bad = checks.check_callgrind(_cg({"a": 1000, "b": 1051}), base, BUILD)
    assert [c.verdict for c in bad] == [OK, FAIL]
    assert "+5.1%" in bad[1].note


def test_callgrind_fewer_instructions_warns_to_refresh():
    base = {"fingerprint": FP, **_cg({"a": 1000})}
    (c,) = checks.check_callgrind(_cg({"a": 800}), base, BUILD)
    assert c.verdict == WARN and "refresh" in c.note


def test_callgrind_tier_change_fails_even_on_another_toolchain():
    base = {"fingerprint": FP, **_cg({"a": 1000})}
    cur = _cg({"a": 1000}, {"a": "f32_gemm_4x4__scalar"})
    clang = dict(BUILD, compiler="Clang 14.0.6")
    found = checks.check_callgrind(cur, base, clang)
    assert found[0].verdict == WARN and "toolchain" in found[0].note
    assert found[1].verdict == FAIL and "scalar" in found[1].note


def test_callgrind_other_toolchain_is_advisory():
    base = {"fingerprint": FP, **_cg({"a": 1000})}
    found = checks.check_callgrind(_cg({"a": 1400}), base, dict(BUILD, compiler="Clang 14"))
    assert [c.verdict for c in found] == [WARN, WARN]
    assert checks.overall(found) == WARN


def test_callgrind_without_baseline_is_skipped():
    (c,) = checks.check_callgrind(_cg({"a": 1}), None, BUILD)
    assert c.verdict == SKIP and "make baseline" in c.note


def _samples(median, rel_spread, n=101, seed=0):
    rng = np.random.default_rng(seed)
    return list(median * (1 + rel_spread * rng.standard_normal(n)))


def test_ratio_judge_fails_a_clear_slowdown_and_passes_noise():
    base = _samples(0.70, 0.02)
    assert ratios.judge(_samples(0.70, 0.02, seed=1), base, 0.25, 0.01, 0.30)[0] == OK
    verdict, change, p, _ = ratios.judge(_samples(1.0, 0.02, seed=2), base, 0.25, 0.01, 0.30)
    assert verdict == FAIL and change > 0.25 and p < 1e-6
    # A small but significant shift stays below the threshold: not a failure.
    assert ratios.judge(_samples(0.75, 0.02, seed=3), base, 0.25, 0.01, 0.30)[0] == OK


def test_ratio_judge_warns_when_noisy():
    base = _samples(0.70, 0.02)
    noisy = _samples(1.0, 0.6, seed=4)
    verdict, change, _, note = ratios.judge(noisy, base, 0.25, 0.01, 0.30)
    assert verdict == WARN and change > 0.25 and "noisy" in note
    few = [0.7, 1.0, 0.9]  # beyond the threshold, too few samples to be significant
    assert ratios.judge(few, base, 0.25, 0.01, 5.0)[0] == WARN


def test_ratio_failure_needs_confirmation_and_cpu_match():
    key = "int4:int8/avx2/64x256x256"
    base = {"fingerprint": FP, "ratios": {key: _samples(0.7, 0.02)}}
    cur = {"ratios": {key: _samples(1.0, 0.02, seed=5)}}
    (c,) = checks.check_ratios(cur, base, FP, remeasure=lambda k: _samples(1.0, 0.02, seed=6))
    assert c.verdict == FAIL and "confirmed" in c.note
    (c,) = checks.check_ratios(cur, base, FP, remeasure=lambda k: _samples(0.7, 0.02, seed=7))
    assert c.verdict == WARN and "not on the repeat" in c.note
    other = dict(FP, cpu_model="CPU B")
    (c,) = checks.check_ratios(cur, base, other)
    assert c.verdict == WARN and "another CPU" in c.note


def test_ratio_group_of_round_trips():
    key = ratios.pair_id("int4", "fp32", "avx2", (8, 128, 512))
    assert ratios.group_of(key) == ("avx2", (8, 128, 512))


def test_arm_model_exact_compare_and_skip():
    model = {"kernels": [{"name": "q46", "cycles_per_iter": 12.5, "ipc": 2.0}],
             "date": "x", "tool": "llvm-mca 14"}
    base = {"model": json.loads(json.dumps(model))}
    assert [c.verdict for c in checks.check_arm_model(model, base, "p")] == [OK]
    changed = json.loads(json.dumps(model))
    changed["kernels"][0]["cycles_per_iter"] = 12.75
    changed["date"] = "y"  # run metadata is ignored
    (c,) = checks.check_arm_model(changed, base, "p")
    assert c.verdict == FAIL and c.case == "kernels[q46].cycles_per_iter"
    assert checks.check_arm_model(None, base, "reports/arm-model.json")[0].verdict == SKIP
    assert checks.check_arm_model(model, None, "p")[0].verdict == SKIP
    assert armmodel.flatten({"a": [1, {"b": True, "c": 2.5}]}) == {"a[0]": 1, "a[1].c": 2.5}
    # Named entries keep their paths when another entry is inserted before them.
    two = {"kernels": [{"name": "new", "c": 1}] + model["kernels"]}
    assert armmodel.flatten(two)["kernels[q46].cycles_per_iter"] == 12.5


@pytest.mark.parametrize("build,expect", [
    ({"compiler": "GNU 12.2.0", "build_type": "Release"}, "GNU 12 Release"),
    ({"compiler": "Clang 14.0.6", "build_type": "Release", "sanitize": True},
     "Clang 14 Release sanitize"),
])
def test_toolchain_key(build, expect):
    assert checks.toolchain(build) == expect
