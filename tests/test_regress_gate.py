"""Proof of the regression gate on real callgrind runs: it passes on the unchanged tree and
fails when a slowdown is injected.

Injection 1: LOWBIT_MAX_TIER=scalar in the measured process, so every avx2 case runs the
scalar kernels, as a dispatch bug or a lost SIMD path would do.
Injection 2: a baseline 10% cheaper than the measured counts, which is what a 10%
instruction-count regression of every kernel looks like to the gate.
Two callgrind runs (~15 s of CPU each); skipped where valgrind or a C compiler is missing.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ci"))

from gate import checks, gate
from gate.cases import CALLGRIND_TIERS, arch

pytestmark = [
    # valgrind cannot run an ASan build, and the baseline is for the optimised build.
    pytest.mark.skipif(os.environ.get("LOWBIT_TEST_PROFILE") == "sanitize",
                       reason="sanitizer profile"),
    pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed"),
    pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler for the shim"),
    pytest.mark.skipif(not gate.baseline_paths(gate.BASELINES)["callgrind"].exists(),
                       reason=f"no committed callgrind baseline for {arch()}"),
]


def _run(env=None):
    opts = gate.Options(parts=("callgrind",), summary=None, env=env or {})
    return gate.run(opts, log=lambda *_: None)


@pytest.fixture(scope="module")
def unchanged():
    return _run()


def test_gate_passes_on_the_unchanged_tree(unchanged):
    verdict, found = unchanged
    assert verdict != checks.FAIL, [c for c in found if c.verdict == checks.FAIL]
    measured = [c for c in found if c.current is not None]
    assert len(measured) == 4 * 3 * len(CALLGRIND_TIERS[arch()])
    assert all(c.current > 0 for c in measured)


def test_gate_fails_on_a_ten_percent_instruction_regression(unchanged):
    # The measured counts against a baseline 10% cheaper than themselves: what a 10%
    # instruction-count regression of every kernel looks like to the gate. (Built from this
    # run, not the committed baseline, so the proof does not depend on that file being fresh.)
    _, found = unchanged
    base = gate._load(gate.baseline_paths(gate.BASELINES)["callgrind"])
    measured = {c.case: c.current for c in found if c.current is not None}
    cur = {"counts": measured, "kernels": base["kernels"]}
    cheaper = dict(base, counts={k: int(v / 1.10) for k, v in measured.items()})
    result = checks.check_callgrind(cur, cheaper, base["fingerprint"]["build"])
    assert checks.overall(result) == checks.FAIL
    assert all(c.verdict == checks.FAIL for c in result if c.case != "*")
    assert all("instruction count +10." in c.note for c in result if c.case != "*")


@pytest.mark.skipif(arch() != "x86_64", reason="the avx2 -> scalar injection is x86-64's")
def test_gate_fails_when_avx2_cases_run_scalar_code():
    verdict, found = _run({"LOWBIT_MAX_TIER": "scalar"})
    assert verdict == checks.FAIL
    failed = {c.case for c in found if c.verdict == checks.FAIL}
    # Every avx2 case at the two larger shapes costs far more instructions on scalar code.
    for fmt in ("fp32", "int8", "int4", "4.6bit"):
        for shape in ("17x40x300", "64x64x256"):
            case = f"{fmt}/avx2/{shape}"
            assert case in failed
            (c,) = [c for c in found if c.case == case]
            assert c.change > 0.5
    assert not any(c.case.split("/")[1] == "scalar" for c in found if c.verdict == checks.FAIL)
