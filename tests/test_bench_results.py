"""Results files: validation with clear errors, atomic writes, and runs that are interrupted,
resumed, refused or set aside, never silently restarted."""

import json
import shutil

import pytest

from benchdocs import bench, doc

from lowbit.bench import results as R
from lowbit.bench.atomic import write_json
from lowbit.bench.catalog import load_catalog
from lowbit.bench.cli import main
from lowbit.bench.runner import run_suite

pytest.importorskip("pytest_benchmark")


def test_write_atomic_roundtrip_and_no_leftovers(tmp_path):
    p = tmp_path / "sub" / "r.json"
    R.write(p, doc([bench("lowbit", "int8", "avx2", 2, 3, 4, 1.0)]))
    assert R.load(p)["benchmarks"][0]["extra_info"]["format"] == "int8"
    assert [f.name for f in p.parent.iterdir()] == ["r.json"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    p = tmp_path / "r.json"
    write_json(p, {"a": 1})
    before = p.read_text()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(json, "dumps", boom)
    with pytest.raises(OSError):
        write_json(p, {"a": 2})
    assert p.read_text() == before
    assert [f.name for f in tmp_path.iterdir()] == ["r.json"]


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d.update(benchmarks=[1]), r"benchmarks\[0\] must be an object"),
    (lambda d: d.update(machine_info=None), "'machine_info' must be an object"),
    (lambda d: d["lowbit"].update(plan=None), "lowbit.plan must be a list, got null"),
    (lambda d: d["lowbit"].update(complete="yes"),
     "lowbit.complete must be true or false, got \"yes\""),
    (lambda d: d["benchmarks"][0]["stats"].update(data=[]),
     r"benchmarks\[0\].stats.data must be a non-empty"),
    (lambda d: d["benchmarks"][0]["stats"].update(data=[-1.0]),
     r"stats.data\[0\] must be a positive, finite number, got -1.0"),
    (lambda d: d["benchmarks"][0]["extra_info"].update(M="2"),
     r"extra_info.M must be a positive integer, got \"2\""),
    (lambda d: d["machine_info"].update(classes={"classes": [{}]}),
     r"machine_info.classes.classes\[0\].name is missing"),
    (lambda d: d["lowbit"].update(roofline={"start": {"bandwidth": {"1": [[1]]}}}),
     r"lowbit.roofline.start.bandwidth.1\[0\] must be \[bytes, bytes per second\]"),
    (lambda d: d.pop("lowbit"), "not a lowbit-bench/2 results file"),
])
def test_wrong_types_are_clear_errors_and_exit_2(tmp_path, capsys, mutate, match):
    d = doc([bench("lowbit", "int8", "avx2", 2, 3, 4, 1.0)])
    mutate(d)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    with pytest.raises(R.ResultsError, match=match):
        R.load(p)
    assert main(["report", str(p), "--out", str(tmp_path / "r.md")]) == 2
    err = capsys.readouterr().err
    assert "lowbit-bench: error:" in err and "Traceback" not in err


def _paths(o, pre=()):
    """Every field of a document (lists: their first element)."""
    items = o.items() if isinstance(o, dict) else enumerate(o[:1]) if isinstance(o, list) else ()
    for k, v in items:
        yield pre + (k,)
        yield from _paths(v, pre + (k,))


def test_any_field_of_the_wrong_type_is_a_clear_error_never_a_traceback(tmp_path, capsys):
    """Each field of a full document (machine_info with a class table, a benchmark, the
    lowbit section with a roofline measurement) set to null, [1], "x", 1 and {} in turn:
    `lowbit-bench report` renders it or exits 2 naming the field; it never raises."""
    pytest.importorskip("tabulate")
    roof = {"peaks": {"fma.ymm": 2e10}, "probes": {"fma.ymm": {"tier": "avx2", "what": "f"}},
            "bandwidth": {"1": [[16384, 1e12]]}, "reader": "read.ymm"}
    base = doc([bench("lowbit", "int8", "avx2", 2, 3, 4, 1.0, check={"exact": True}),
                bench("numpy", "fp32", "native", 2, 3, 4, 1.0)], roofline=roof)
    src, out = tmp_path / "bad.json", tmp_path / "r.md"
    refused = 0
    for path in _paths(base):
        if path[:2] == ("lowbit", "plan") and len(path) > 3:
            continue  # the plan's case lists are only read by the runner
        for value in (None, [1], "x", 1, {}):
            d = json.loads(json.dumps(base))
            parent = d
            for k in path[:-1]:
                parent = parent[k]
            parent[path[-1]] = value
            src.write_text(json.dumps(d))
            rc = main(["report", str(src), "--out", str(out), "--no-plots"])
            err = capsys.readouterr().err
            assert rc in (0, 2), (path, value)
            if rc == 2:
                refused += 1
                assert err.startswith("lowbit-bench: error: ") and "Traceback" not in err
                named = str(path[-1]) if isinstance(path[-1], str) else f"[{path[-1]}]"
                assert named in err, (path, value, err)
    assert refused > 200  # most wrong types are refused, not rendered


def test_not_json_and_missing_are_clear_errors(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text("{not json")
    with pytest.raises(R.ResultsError, match="not JSON"):
        R.load(p)
    with pytest.raises(R.ResultsError, match="No such file"):
        R.load(tmp_path / "missing.json")
    assert main(["report", str(tmp_path / "missing.json")]) == 2


@pytest.mark.parametrize("args", [["--repeat", "0"], ["--repeat", "-3"], ["--budget", "nan"],
                                  ["--budget", "-1"], ["--budget", "0"], ["--budget", "inf"]])
def test_bad_timing_options_are_rejected(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--suite", "quick", *args])
    assert exc.value.code == 2
    assert "expected a positive" in capsys.readouterr().err


# ---------------------------------------------------------------- real runs, tiny shapes
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


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    from pathlib import Path

    suite = Path(__file__).resolve().parents[1] / "bench"
    d = tmp_path / "bench"
    d.mkdir()
    (d / "shapes.toml").write_text(CATALOG)
    for f in ("test_gemm.py", "conftest.py"):
        (d / f).write_text((suite / f).read_text())
    return load_catalog(d / "shapes.toml")


def _run(tiny, out, **kw):
    kw = {"formats": ["fp32", "int8"], "tiers": ["scalar"], "peers": [], "repeat": 2,
          "progress": False, "roofline": False, **kw}
    return run_suite(tiny, "tiny", str(out), **kw)


def test_run_writes_pytest_benchmark_json_and_resumes_only_the_rest(tiny, tmp_path, capfd):
    out = tmp_path / "out.json"
    d = _run(tiny, out)
    log = capfd.readouterr().err
    # Not a terminal: one plain line per case, no carriage returns.
    assert "bench main [4/4] int8-scalar-4x6x8-t1: " in log and "\r" not in log
    assert d["lowbit"]["complete"]
    full = R.load(out)
    ids = {b["extra_info"]["case"] for b in full["benchmarks"]}
    assert ids == {c["id"] for c in full["lowbit"]["plan"]} and len(ids) == 4
    for b in full["benchmarks"]:
        assert len(b["stats"]["data"]) == 2  # --repeat 2: exactly two rounds
        assert b["group"].endswith("t1") and "version" in full
    assert full["machine_info"]["cpu_model"] and "classes" in full["machine_info"]
    assert all(b["extra_info"]["check"]["exact"] for b in full["benchmarks"]
               if b["extra_info"]["format"] == "int8")

    # As if interrupted after two cases: the rerun measures only the two missing ones.
    partial = json.loads(out.read_text())
    kept = {b["extra_info"]["case"]: b["stats"]["data"] for b in partial["benchmarks"][:2]}
    partial["benchmarks"] = partial["benchmarks"][:2]
    partial["lowbit"]["complete"] = False
    out.write_text(json.dumps(partial))
    d = _run(tiny, out)
    log = capfd.readouterr().err
    assert "2 of 4 cases already done" in log and "[2/2]" in log
    assert d["lowbit"]["complete"] and len(d["benchmarks"]) == 4
    for b in d["benchmarks"]:
        if b["extra_info"]["case"] in kept:
            assert b["stats"]["data"] == kept[b["extra_info"]["case"]]

    # A complete file is kept as .prev.json and the run starts afresh.
    _run(tiny, out)
    assert "previous complete run kept" in capfd.readouterr().err
    assert R.load(out.with_name("out.prev.json"))["lowbit"]["complete"]


def test_other_options_refuse_an_unfinished_file_or_set_it_aside(tiny, tmp_path, capsys):
    out = tmp_path / "out.json"
    _run(tiny, out)
    partial = json.loads(out.read_text())
    partial["benchmarks"] = partial["benchmarks"][:3]
    partial["lowbit"]["complete"] = False
    out.write_text(json.dumps(partial))
    before = out.read_text()
    with pytest.raises(R.ResultsError, match=r"unfinished run \(3 cases measured\).*repeat"):
        _run(tiny, out, repeat=3)
    assert out.read_text() == before  # nothing measured was touched
    capsys.readouterr()
    d = _run(tiny, out, repeat=3, resume=False)
    assert "moved" in capsys.readouterr().err
    assert len(R.load(out.with_name("out.prev.json"))["benchmarks"]) == 3
    assert d["lowbit"]["complete"] and len(d["benchmarks"][0]["stats"]["data"]) == 3


@pytest.mark.parametrize("content", [
    {"records": [1], "fingerprint": None},  # the examples
    {"schema": "lowbit-bench/2"},
    "not a results file",
])
def test_run_refuses_a_bad_results_file_with_exit_2_and_keeps_it(tiny, tmp_path, capsys,
                                                                  content):
    out = tmp_path / "out.json"
    out.write_text(json.dumps(content))
    before = out.read_text()
    rc = main(["run", "--suite", "tiny", "--catalog", str(tiny.path), "--out", str(out),
               "--formats", "int8", "--tiers", "scalar", "--peers", "none", "--repeat", "1"])
    err = capsys.readouterr().err
    assert rc == 2 and "lowbit-bench: error:" in err and "Traceback" not in err
    assert "Nothing was measured" in err and "--no-resume" in err
    assert out.read_text() == before and not out.with_name("out.prev.json").exists()


def test_unknown_names_are_clear_errors(tiny, tmp_path):
    with pytest.raises(ValueError, match="unknown formats"):
        _run(tiny, tmp_path / "o.json", formats=["int3"])
    with pytest.raises(ValueError, match="unknown tiers"):
        _run(tiny, tmp_path / "o.json", tiers=["avx9000"])


def test_a_second_run_on_the_same_file_is_refused(tiny, tmp_path):
    from lowbit.bench.runner import _Lock

    out = tmp_path / "out.json"
    with _Lock(out):
        with pytest.raises(R.ResultsError, match="another lowbit-bench run"):
            _run(tiny, out)
    assert not out.exists()


def test_roofline_is_measured_before_during_and_after_the_cases(tiny, tmp_path):
    """A shared machine's bandwidth moves with the neighbours' load: the probes run between
    cases too (here after every case), and the report's bound takes each figure's best."""
    from lowbit.bench import roofline as RL
    from lowbit.bench.tables import View

    out = tmp_path / "out.json"
    d = _run(tiny, out, formats=["int8"], roofline=True, roofline_every_s=1e-9)
    rf = d["lowbit"]["roofline"]
    assert rf["start"]["peaks"] and rf["end"]["peaks"] and len(rf["during"]) == 2
    assert len(RL.measurements(rf)) == 4
    best = max(m["bandwidth"]["1"][0][1] for m in RL.measurements(rf))
    assert View(R.load(out)).roof["bandwidth"]["1"][0][1] == best


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git (the arm64 image has none)")
def test_commit_is_dirty_for_code_changes_not_for_rewritten_results(tmp_path):
    """A rerun rewrites the committed reports/results/default.json before the fingerprint of
    its cases is taken: that must not mark the measured code "-dirty"; a code change must."""
    import subprocess

    from lowbit.bench.fingerprint import git_commit

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.invalid")
    git("config", "user.name", "t")
    (tmp_path / "reports" / "results").mkdir(parents=True)
    (tmp_path / "reports" / "results" / "default.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "sub").mkdir()
    git("add", "-A")
    git("commit", "-qm", "c")
    head = git_commit(str(tmp_path))
    assert head and not head.endswith("-dirty")
    (tmp_path / "reports" / "results" / "default.json").write_text('{"new": 1}')
    assert git_commit(str(tmp_path / "sub")) == head  # from a subfolder too
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_commit(str(tmp_path / "sub")) == head + "-dirty"
