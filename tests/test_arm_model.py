"""The ARM cycle model (ci/armmodel/model.py, reports/arm-model.json).

The committed JSON is the issue-6 regression baseline, so its structure and internal
arithmetic are checked on every run; regenerating it needs the aarch64 cross compiler and
llvm-mca and is skipped only when those are missing (then only the neon tier, to stay fast,
compared exactly with the committed numbers when the toolchain versions match).
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "reports/arm-model.json"


def load_model_module():
    spec = importlib.util.spec_from_file_location("armmodel", ROOT / "ci/armmodel/model.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["armmodel"] = mod  # dataclasses look their module up here
    spec.loader.exec_module(mod)
    return mod


def check_model(m: dict, tiers: tuple[str, ...]) -> None:
    mod = load_model_module()
    assert m["schema"] == "lowbit-arm-model/1"
    assert set(m["cpus"]) == set(mod.CPUS)
    seen = {(k["format"], k["tier"]) for k in m["kernels"]}
    # Every format on the base tier, int8 on every tier asked for.
    assert {(f, "neon") for f in mod.FORMATS} <= seen
    assert {("int8", t) for t in tiers} <= seen
    for k in m["kernels"]:
        assert k["tier"] in tiers and k["format"] in mod.FORMATS
        # MACs counted from the block's multiply instructions = the tile times k.
        assert k["macs_per_iteration"] == k["mr"] * k["nr"] * k["k_per_iteration"]
        assert k["call_k"] % k["k_per_iteration"] == 0
        assert k["iterations_per_call"] == k["call_k"] // k["k_per_iteration"]
        if k["acc_bits"] == 16:
            assert k["flush_period"] == k["call_k"] and 258 <= k["flush_period"] <= 290
        else:
            assert k["flush_period"] is None
        cpus_with_tier = {c for c, feats in m["cpus"].items() if k["tier"] in feats}
        assert set(k["cpus"]) == cpus_with_tier
        for cpu, r in k["cpus"].items():
            loop, epi = r["loop_cycles_per_iteration"], r["epilogue_cycles"]
            assert loop > 0 and epi > 0
            eff = loop + epi / k["iterations_per_call"]
            assert math.isclose(r["cycles_per_iteration"], eff, abs_tol=2e-3)
            assert math.isclose(r["macs_per_cycle"], k["macs_per_iteration"] / eff, rel_tol=1e-3)
            assert math.isclose(
                r["macs_per_cycle_loop"], k["macs_per_iteration"] / loop, rel_tol=1e-3
            )
            assert r["macs_per_cycle"] <= r["macs_per_cycle_loop"]
    for cpu, s in m["speedups"].items():
        mpc = {
            k["format"]: k["cpus"][cpu]["macs_per_cycle"]
            for k in m["kernels"]
            if k["tier"] == "neon" and cpu in k["cpus"]
        }
        assert math.isclose(s["neon"]["int4/int8"], mpc["int4"] / mpc["int8"], rel_tol=2e-3)
        assert math.isclose(s["neon"]["int4/fp32"], mpc["int4"] / mpc["fp32"], rel_tol=2e-3)
        assert math.isclose(s["neon"]["4.6bit/int4"], mpc["4.6bit"] / mpc["int4"], rel_tol=2e-3)
        assert math.isclose(s["neon"]["4.6bit/int8"], mpc["4.6bit"] / mpc["int8"], rel_tol=2e-3)
    assert set(m["paper"]) == {"int4/int8", "int4/fp32", "4.6bit/int4", "4.6bit/int8"}


def test_committed_model_is_consistent():
    m = json.loads(REPORT.read_text())
    check_model(m, ("neon", "dotprod", "i8mm"))
    # Deterministic serialisation: the file is exactly what the model writes.
    assert REPORT.read_text() == json.dumps(m, indent=1, sort_keys=True) + "\n"
    md = (ROOT / "reports/arm-model.md").read_text()
    for k in m["kernels"]:
        assert k["kernel"] in md


def test_committed_flush_periods_match_the_library_rule():
    mod = load_model_module()
    m = json.loads(REPORT.read_text())
    for tier in mod.TIERS:
        for d in mod.main_descs(tier):
            k = next(x for x in m["kernels"] if x["kernel"] == d.name)
            assert (k["flush_period"] or 0) == mod.flush_period(d)
            assert (k["mr"], k["nr"], k["acc_bits"]) == (d.mr, d.nr, d.acc_bits)
    # int4: 2 products <= 225 per uint16 lane step -> 145 steps of 2 k, rounded to kpad 4.
    assert (
        next(x for x in m["kernels"] if x["kernel"] == "qu4_gemm_8x16c2__neon")["flush_period"]
        == 288
    )


def test_regenerated_neon_model(tmp_path):
    mod = load_model_module()
    mca = mod.find_llvm_mca()
    cxx = mod.read_flags()["ARM_CXX"]
    if mca is None or shutil.which(cxx) is None:
        pytest.skip(
            "llvm-mca or the aarch64 cross compiler is missing (make arm-model installs them)"
        )
    out = tmp_path / "m.json"
    assert mod.main(["--json", str(out), "--md", "", "--tiers", "neon", "--llvm-mca", mca]) == 0
    fresh = json.loads(out.read_text())
    check_model(fresh, ("neon",))
    committed = json.loads(REPORT.read_text())
    same_tools = all(
        fresh["toolchain"][key] == committed["toolchain"][key]
        for key in ("cxx", "llvm_mca", "iterations")
    )
    if same_tools:
        want = [k for k in committed["kernels"] if k["tier"] == "neon"]
        assert fresh["kernels"] == want, "reports/arm-model.json is stale: run make arm-model"
