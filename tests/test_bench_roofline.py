"""Roofline: the C++ probes, the bound of a case, and a real run held to its bounds."""

import math
from pathlib import Path

import pytest

import lowbit
from lowbit import _core
from lowbit.bench import roofline as RL

ROOT = Path(__file__).resolve().parents[1]


def test_every_runnable_probe_measures_a_positive_peak():
    probes = _core.roofline_probes()
    names = {p["name"] for p in probes}
    if _core.cpu_info()["arch"] == "x86_64":
        # Compiled on every x86 build, run only where the tier runs.
        assert {"fma.ymm", "vpmaddwd+vpaddd.ymm", "vpmaddubsw+vpaddw.ymm", "fma.zmm",
                "vpdpbusd.ymm", "vpdpbusd.zmm", "tdpbusd"} <= names
    for p in probes:
        if not _core.tier_unavailable_reason(p["tier"]):
            assert p["runnable"], p  # a tier lowbit runs here has its probes run too
        if p["runnable"]:
            peak = _core.roofline_peak(p["name"], 1, 0.002, 2)
            assert 1e8 < peak < 1e14 and math.isfinite(peak)
        else:
            with pytest.raises(ValueError, match="cannot run on this CPU"):
                _core.roofline_peak(p["name"])
    with pytest.raises(ValueError, match="unknown roofline probe"):
        _core.roofline_peak("nope")


def test_bandwidth_ladder_and_bad_arguments():
    r = _core.roofline_bandwidth(64 << 10, 2, 0.002, 2)
    assert r["bytes"] >= 64 << 10 and 1e8 < r["bytes_per_s"] < 1e13 and r["reader"]
    with pytest.raises(ValueError):
        _core.roofline_bandwidth(100)
    with pytest.raises(ValueError):
        _core.roofline_bandwidth(1 << 20, 0)


def test_every_simd_kernel_has_an_instruction_class():
    """A new kernel tier needs a probe, or its cases would have no bound."""
    for f in lowbit.FORMATS:
        for t in lowbit.tiers(f):
            if t != "scalar":
                assert (f, t) in RL.KERNEL_PROBES, (f, t)


ROOF = {"peaks": {"fma.ymm": 100e9, "vpmaddubsw+vpaddw.ymm": 200e9},
        "probes": {"fma.ymm": {"tier": "avx2"}, "vpmaddubsw+vpaddw.ymm": {"tier": "avx2"}},
        "bandwidth": {"1": [[16 << 10, 100e9], [1 << 20, 50e9], [64 << 20, 10e9]],
                      "2": [[16 << 10, 200e9], [1 << 20, 100e9], [64 << 20, 15e9]]}}


def _rec(impl="lowbit", fmt="fp32", tier="avx2", M=512, N=512, K=512, threads=1, gops=50.0,
         **kw):
    return {"impl": impl, "format": fmt, "tier": tier, "M": M, "N": N, "K": K,
            "threads": threads, "gops": gops, **kw}


def test_bound_is_compute_or_memory_whichever_is_lower():
    b = RL.bound(_rec(), ROOF)
    assert b["bound_by"] == "compute" and b["bound_gops"] == pytest.approx(100.0)
    assert b["pct"] == pytest.approx(50.0)
    # GEMV, 4096x4096 fp32 weights (64 MiB + A + C): AI ~ 0.5, DRAM-sized -> 10 GB/s.
    g = RL.bound(_rec(M=1, N=4096, K=4096, gops=4.0), ROOF)
    assert g["bound_by"] == "memory"
    assert g["memory_gops"] == pytest.approx(g["ai"] * 10, rel=1e-9) and g["ai"] < 0.51
    # Two threads: twice the peak (2 cores), the 2-thread bandwidth.
    assert RL.bound(_rec(threads=2), ROOF, cores=2)["bound_gops"] == pytest.approx(200.0)
    assert RL.bound(_rec(threads=4), ROOF, cores=2)["bound_gops"] == pytest.approx(200.0)
    # A peer: the fastest probe of its number type; scalar: no bound.
    assert RL.bound(_rec(impl="ort-matmulinteger", fmt="int8", tier="native"), ROOF)["probe"] \
        == "vpmaddubsw+vpaddw.ymm"
    assert RL.bound(_rec(tier="scalar"), ROOF) is None


def test_merge_keeps_the_best_of_start_during_and_end():
    a = {"peaks": {"p": 1.0}, "bandwidth": {"1": [[1, 5.0], [2, 1.0]]}, "probes": {}}
    b = {"peaks": {"p": 2.0}, "bandwidth": {"1": [[1, 4.0], [2, 3.0]]}, "probes": {}}
    c = {"peaks": {"p": 1.5}, "bandwidth": {"1": [[1, 4.5], [2, 7.0]]}, "probes": {}}
    m = RL.merge(a, b)
    assert m["peaks"]["p"] == 2.0 and m["bandwidth"]["1"] == [[1, 5.0], [2, 3.0]]
    stored = {"start": a, "during": [c], "end": b}
    assert RL.measurements(stored) == [a, c, b]
    assert RL.merge(*RL.measurements(stored))["bandwidth"]["1"] == [[1, 5.0], [2, 7.0]]
    assert RL.measurements({}) == [] and RL.merge() == {}


def test_no_case_of_a_real_run_exceeds_its_roofline_bound(name="default.json"):
    """A case of the committed reference run above 100% of min(peak, AI x bandwidth) means a
    probe is wrong (`lowbit-bench report` shows every case's % of its bound)."""
    from lowbit.bench import results as R
    from lowbit.bench.tables import View

    path = ROOT / "reports" / "results" / name
    if not path.exists():
        pytest.skip(f"{path} not committed")
    v = View(R.load(path))
    bounded = list(v.bounded_records())
    assert bounded, "no case of the run has a roofline bound"
    over = [(r["case"], round(b["pct"], 1), b["probe"]) for r, b in bounded if b["pct"] > 100]
    assert not over, over
