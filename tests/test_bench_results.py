"""Results files: schema validation, atomic writes, and a run that is interrupted and resumed."""

import json

import numpy as np
import pytest

import lowbit
from lowbit.bench import results as R
from lowbit.bench.catalog import load_catalog
from lowbit.bench.runner import run_suite


def _rec(**kw):
    r = {"impl": "lowbit", "format": "int8", "tier": "scalar", "M": 2, "N": 3, "K": 4,
         "threads": 1, "median_s": 1e-3, "iqr_s": 0.0, "samples_s": [1e-3, 1e-3], "inner": 1,
         "gops": 0.048, "pack_s": 1e-4, "shapes": ["x"], "groups": ["g"]}
    r.update(kw)
    return r


def test_write_atomic_roundtrip_and_no_leftovers(tmp_path):
    doc = R.new_results("s", {"a": 1}, {"commit": "c"})
    R.add_record(doc, _rec())
    p = tmp_path / "sub" / "r.json"
    R.write_atomic(p, doc)
    assert R.load(p)["records"][0]["format"] == "int8"
    assert [f.name for f in p.parent.iterdir()] == ["r.json"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    p = tmp_path / "r.json"
    doc = R.new_results("s", {}, {})
    R.write_atomic(p, doc)
    before = p.read_text()
    R.add_record(doc, _rec())

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(json, "dump", boom)
    with pytest.raises(OSError):
        R.write_atomic(p, doc)
    assert p.read_text() == before
    assert [f.name for f in tmp_path.iterdir()] == ["r.json"]


def test_validate_rejects_bad_documents(tmp_path):
    with pytest.raises(R.ResultsError):
        R.validate({"schema": "other"})
    doc = R.new_results("s", {}, {})
    doc["records"].append({"impl": "x"})
    with pytest.raises(R.ResultsError, match="missing"):
        R.validate(doc)
    doc["records"] = [_rec(samples_s=[])]
    with pytest.raises(R.ResultsError, match="samples"):
        R.validate(doc)
    p = tmp_path / "bad.json"
    p.write_text("{not json")
    with pytest.raises(R.ResultsError):
        R.load(p)


def test_add_record_replaces_same_case():
    doc = R.new_results("s", {}, {})
    R.add_record(doc, _rec(median_s=1.0))
    R.add_record(doc, _rec(median_s=2.0))
    R.add_record(doc, _rec(threads=2))
    assert [r["median_s"] for r in doc["records"]] == [2.0, 1e-3]


def test_open_for_run_resumes_only_unfinished_same_setup(tmp_path):
    p = tmp_path / "r.json"
    fp = {"cpu_model": "c", "commit": "x"}
    old = R.new_results("s", {"o": 1}, fp)
    R.add_record(old, _rec())
    R.write_atomic(p, old)
    fresh = R.new_results("s", {"o": 1}, fp)
    doc, n = R.open_for_run(p, fresh)
    assert n == 1 and doc["records"]
    assert R.open_for_run(p, fresh, resume=False)[1] == 0
    assert R.open_for_run(p, R.new_results("s", {"o": 2}, fp))[1] == 0
    assert R.open_for_run(p, R.new_results("s", {"o": 1}, {**fp, "commit": "y"}))[1] == 0
    old["complete"] = True
    R.write_atomic(p, old)
    assert R.open_for_run(p, fresh)[1] == 0


# ---------------------------------------------------------------- run + resume
CATALOG = """
[suite.tiny]
description = "test"
[[shape]]
name = "a"
M = 3
N = 5
K = 7
suites = ["tiny"]
source = "test"
[[shape]]
name = "b"
M = 4
N = 6
K = 8
suites = ["tiny"]
source = "test"
"""


class _Packed:
    def __init__(self, w, fmt, zp, tier):
        self.w, self.format, self.zero_point, self.tier = w, fmt, zp, tier
        self.kernel, self.nbytes, self.flush_period = f"fake_{fmt}_{tier}", w.nbytes, None


@pytest.fixture
def fake_lowbit(monkeypatch):
    """Replace the library's kernels with numpy so the harness logic is tested on its own."""
    state = {"calls": 0, "packs": 0, "fail_at_pack": None}

    def pack_weights(w, fmt, *, zero_point=0, tier=None, **kw):
        state["packs"] += 1
        if state["fail_at_pack"] is not None and state["packs"] >= state["fail_at_pack"]:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C during this case
        return _Packed(w.copy(), fmt, zero_point, tier)

    def matmul(x, p, *, zero_point=0, threads=1):
        state["calls"] += 1
        if p.format == "fp32":
            return x @ p.w
        return ((x.astype(np.int64) - zero_point) @ (p.w.astype(np.int64) - p.zero_point)
                ).astype(np.int32)

    monkeypatch.setattr(lowbit, "FORMATS", ("fp32", "int8"), raising=False)
    monkeypatch.setattr(lowbit, "tiers", lambda fmt: ["scalar"], raising=False)
    monkeypatch.setattr(lowbit, "all_tiers", lambda: ["scalar"], raising=False)
    monkeypatch.setattr(lowbit, "cpu_info", lambda: {"model": "fake", "features": []},
                        raising=False)
    monkeypatch.setattr(lowbit, "pack_weights", pack_weights, raising=False)
    monkeypatch.setattr(lowbit, "matmul", matmul, raising=False)
    return state


def _run(tmp_path, **kw):
    cat_path = tmp_path / "shapes.toml"
    cat_path.write_text(CATALOG)
    return run_suite(load_catalog(cat_path), "tiny", str(tmp_path / "out.json"), peers=[],
                     repeat=2, progress=False, probe_peak=False, **kw)


def test_run_writes_one_valid_record_per_case(tmp_path, fake_lowbit):
    doc = _run(tmp_path)
    assert doc["complete"]
    on_disk = R.load(tmp_path / "out.json")
    keys = {(r["format"], r["M"]) for r in on_disk["records"]}
    assert keys == {("fp32", 3), ("int8", 3), ("fp32", 4), ("int8", 4)}
    for r in on_disk["records"]:
        assert len(r["samples_s"]) == 2
        assert r["gops"] == pytest.approx(2 * r["M"] * r["N"] * r["K"] / r["median_s"] / 1e9)
        assert r["shapes"] in (["a"], ["b"]) and r["groups"] == ["tiny"]
    assert all(r["check"]["exact"] for r in on_disk["records"] if r["format"] == "int8")


def test_interrupted_run_keeps_finished_cases_and_resumes(tmp_path, fake_lowbit):
    fake_lowbit["fail_at_pack"] = 3  # one pack per case: the third case is interrupted
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path)
    partial = R.load(tmp_path / "out.json")
    assert not partial["complete"]
    assert len(partial["records"]) == 2
    kept = {R.case_key(r): r["samples_s"] for r in partial["records"]}

    fake_lowbit["fail_at_pack"] = None
    doc = _run(tmp_path)
    assert doc["complete"] and len(doc["records"]) == 4
    # Finished cases were not measured again: their raw samples are unchanged.
    for r in doc["records"]:
        if R.case_key(r) in kept:
            assert r["samples_s"] == kept[R.case_key(r)]

    # A complete file is not resumed: a new run measures everything again.
    calls = fake_lowbit["calls"]
    _run(tmp_path)
    assert fake_lowbit["calls"] > calls


def test_unknown_names_are_clear_errors(tmp_path, fake_lowbit):
    with pytest.raises(ValueError, match="unknown formats"):
        _run(tmp_path, formats=["int3"])
    with pytest.raises(ValueError, match="unknown tiers"):
        _run(tmp_path, tiers=["avx9000"])
