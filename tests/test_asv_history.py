"""The asv history (ci/asv_history.py) on real asv runs in a scratch repository: three commits
on two machines render one dashboard; a 10% slowdown of one benchmark is a regression in
`asv compare`; a corrupt and a partial results file are reported by name and the rest still
publishes. The scratch suite is a few `track_` values read from an environment variable, so
each `asv run` costs about a second; the real suite (bench/asv_bench) is checked by asv's own
discovery, without measuring."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("asv")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "ci"))

import asv_history  # noqa: E402

BENCH = '''
import json, os

VALUES = json.loads(os.environ.get("FAKE_VALUES", "{}"))


class Gate:
    params = ["alpha", "beta", "gamma"]
    param_names = ["case"]
    unit = "instructions"
    version = "1"

    def track_count(self, case):
        return VALUES.get(case, 1000.0)
'''
MACHINES = ("fleet-x86-avx2", "fleet-x86-scalar")


def _git(repo, *args) -> str:
    """Run git in `repo`; returns HEAD afterwards (None before the first commit)."""
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    head = subprocess.run(["git", "rev-parse", "-q", "--verify", "HEAD"], cwd=repo,
                          capture_output=True, text=True)
    return head.stdout.strip() or None


def _conf(repo: Path, results="results", name="asv.conf.json") -> Path:
    conf = repo / name
    doc = asv_history.load_conf(asv_history.CONF)
    doc.update(benchmark_dir="benchmarks", results_dir=results, html_dir="html",
               env_dir="env")
    conf.write_text(json.dumps(doc, indent=1))
    return conf


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Three commits, each recorded on two machines (each its own results folder, as two CI
    jobs would upload them). Commit 3 on the first machine is 10% slower in case beta."""
    root = tmp_path_factory.mktemp("fleet")
    repo = root / "repo"
    (repo / "benchmarks").mkdir(parents=True)
    (repo / "benchmarks" / "__init__.py").write_text("")
    (repo / "benchmarks" / "gate.py").write_text(BENCH)
    (repo / ".gitignore").write_text("*.json\nresults*/\nhtml/\nenv/\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "t@example.invalid")
    _git(repo, "config", "user.name", "t")
    conf = _conf(repo)
    _git(repo, "add", ".")
    commits = [_git(repo, "commit", "-q", "-m", "c1")]
    for i in (2, 3):
        (repo / "benchmarks" / "notes.txt").write_text(f"commit {i}\n")
        _git(repo, "add", ".")
        commits.append(_git(repo, "commit", "-q", "-m", f"c{i}"))
    # The two machines of a commit are recorded at the same time, as two CI jobs would, each
    # with a HOME of its own (asv keeps machine names in ~/.asv-machine.json).
    env = dict(os.environ)
    env.pop("LOWBIT_ASV_MACHINE", None)

    def one(commit_index, machine):
        slow = commit_index == 2 and machine == MACHINES[0]
        (root / machine).mkdir(exist_ok=True)
        asv_history.record(conf=_conf(repo, results=f"results-{machine}", name=machine),
                           machine=machine, log=lambda *a, **k: None,
                           env=dict(env, HOME=str(root / machine), FAKE_VALUES=json.dumps({"beta": 1100.0} if slow
                                                                else {})))

    with ThreadPoolExecutor(len(MACHINES)) as pool:
        for i, commit in enumerate(commits):
            _git(repo, "checkout", "-q", commit)
            list(pool.map(one, [i] * len(MACHINES), MACHINES))
    _git(repo, "checkout", "-q", "main")
    conf = _conf(repo)
    return {"repo": repo, "conf": conf, "commits": commits,
            "folders": [repo / f"results-{m}" for m in MACHINES]}


def _graph_points(html: Path, machine: str, case: str) -> list:
    graphs = list(html.glob(f"graphs/**/machine-{machine}/**/gate.Gate.track_count.json"))
    assert graphs, f"no graph for {machine} under {html}"
    points = json.loads(graphs[0].read_text())
    # Parameterized: [revision, [value per case]]
    idx = ["alpha", "beta", "gamma"].index(case)
    return [p[1][idx] for p in points]


def test_three_commits_on_two_machines_render_one_dashboard(fleet):
    msgs = []
    html = asv_history.dashboard(fleet["folders"], log=lambda m, **k: msgs.append(m),
                                 conf=fleet["conf"])
    assert (html / "index.html").is_file()
    index = json.loads((html / "index.json").read_text())
    assert set(index["params"]["machine"]) == set(MACHINES)
    for m in MACHINES:
        assert len(_graph_points(html, m, "alpha")) == 3  # one point per commit
    assert _graph_points(html, MACHINES[0], "beta") == [1000.0, 1000.0, 1100.0]
    # One environment per machine, whatever the checkout's path: no interpreter path in it.
    assert index["params"]["python"] == ["{}.{}".format(*sys.version_info[:2])]
    for folder in fleet["folders"]:
        assert {p.name.split("-", 1)[1] for p in folder.glob("*/*-*.json")} == {
            asv_history.ENV_NAME + ".json"}
    assert not [m for m in msgs if "error" in m]
    # Merging the same folders again copies nothing new.
    n, errors = asv_history.merge(fleet["folders"], fleet["repo"] / "results")
    assert (n, errors) == (0, [])


def test_ten_percent_slowdown_is_a_regression_in_asv_compare(fleet):
    asv_history.merge(fleet["folders"], fleet["repo"] / "results")
    c1, c2, c3 = fleet["commits"]
    out = asv_history.compare(c2, c3, machine=MACHINES[0], conf=fleet["conf"])
    assert _changed(out) == [["+", "1000", "1100", "1.1", "gate.Gate.track_count('beta')"]], out
    # The other machine, and the first machine's unchanged pair of commits: no change.
    for machine, old, new in ((MACHINES[1], c2, c3), (MACHINES[0], c1, c2)):
        out = asv_history.compare(old, new, machine=machine, conf=fleet["conf"])
        assert len(_rows(out)) == 3 and _changed(out) == [], out


def _rows(table: str) -> list:
    """Data rows of `asv compare`'s markdown tables, as lists of cells."""
    rows = [[c.strip() for c in ln.strip().strip("|").split("|")]
            for ln in table.splitlines() if ln.strip().startswith("|")]
    return [r for r in rows if r[0] != "Change" and not r[0].startswith("--")]


def _changed(table: str) -> list:
    return [r for r in _rows(table) if r[0]]


def test_corrupt_and_partial_results_are_reported_and_the_rest_publishes(fleet, tmp_path):
    broken = tmp_path / "artifact"
    shutil.copytree(fleet["folders"][1], broken)
    files = sorted((broken / MACHINES[1]).glob("*-*.json"))
    text = files[0].read_text()
    files[0].write_text(text[: len(text) // 2])  # cut off mid-write
    doc = json.loads(files[1].read_text())
    del doc["commit_hash"]  # valid JSON, not a results file
    files[1].write_text(json.dumps(doc))
    conf = _conf(fleet["repo"], results="results-corrupt")
    msgs = []
    html = asv_history.dashboard([fleet["folders"][0], broken], conf=conf,
                                 log=lambda m, **k: msgs.append(m))
    errors = [m for m in msgs if "error" in m]
    assert len(errors) == 2, msgs
    assert any(files[0].name in e for e in errors) and any(files[1].name in e for e in errors)
    assert any("2 file(s) could not be read" in m for m in msgs)
    # The first machine's three commits and the intact commit of the second still publish.
    assert len(_graph_points(html, MACHINES[0], "alpha")) == 3
    assert len(_graph_points(html, MACHINES[1], "alpha")) == 1


def test_merge_keeps_the_newer_run_of_a_machine_and_commit_and_says_so(fleet, tmp_path):
    dest = tmp_path / "results"
    assert asv_history.merge([fleet["folders"][0]], dest)[1] == []
    newer = tmp_path / "newer"
    shutil.copytree(fleet["folders"][0], newer)
    (path,) = [p for p in (newer / MACHINES[0]).glob("*-*.json")
               if p.name.startswith(fleet["commits"][0][:8])]
    doc = json.loads(path.read_text())
    col = doc["result_columns"].index("started_at")
    for row in doc["results"].values():
        row[col] += 60_000
    path.write_text(json.dumps(doc))
    msgs = []
    assert asv_history.merge([newer], dest, log=msgs.append) == (1, [])
    assert json.loads((dest / MACHINES[0] / path.name).read_text()) == doc
    assert any("replaced by the newer run" in m for m in msgs)
    msgs.clear()  # the older one again: kept out, with a word
    assert asv_history.merge([fleet["folders"][0]], dest, log=msgs.append) == (0, [])
    assert any(m.startswith("merge: kept") for m in msgs)


def test_dashboard_without_results_says_what_to_do(tmp_path):
    repo = tmp_path / "empty"
    repo.mkdir()
    _git(repo, "init", "-q")
    with pytest.raises(asv_history.HistoryError, match="make history"):
        asv_history.dashboard([], conf=_conf(repo), log=lambda *a, **k: None)


def test_machine_names_separate_cpus_and_capped_classes(monkeypatch):
    monkeypatch.delenv("LOWBIT_ASV_MACHINE", raising=False)
    fp = {"arch": "x86_64", "cpu_model": "AMD EPYC", "isa_flags": ["avx2", "fma"],
          "lowbit_features": ["avx2"], "cores": 2, "max_tier": None,
          "tiers": {"fp32": ["avx2", "scalar"], "int8": ["avx2", "scalar"]}}
    native = asv_history.machine_name(fp)
    assert native.startswith("x86-64-amd-epyc-") and native.endswith("-avx2")
    capped = asv_history.machine_name(dict(fp, max_tier="scalar"))
    assert capped == native[: -len("avx2")] + "scalar"
    other_cpu = asv_history.machine_name(dict(fp, isa_flags=["avx2", "avx512f", "fma"]))
    assert other_cpu != native
    arm = asv_history.machine_name(dict(fp, arch="aarch64", cpu_model="Neoverse-N1",
                                        tiers={"int8": ["dotprod", "neon", "scalar"]}))
    assert arm.startswith("aarch64-neoverse-n1-")
    # A cap above what the CPU runs (LOWBIT_MAX_TIER=amx on an AVX2 CPU) is not its class: the
    # class table's best class is.
    table = {"top": "avx2", "this_cpu": "avx2", "cap": "amx", "classes": []}
    assert asv_history.machine_name(dict(fp, max_tier="amx", classes=table)) == native
    monkeypatch.setenv("LOWBIT_ASV_MACHINE", "My Board")
    assert asv_history.machine_name(fp) == "my-board"


def test_record_refuses_a_dirty_tree(tmp_path):
    repo = tmp_path / "dirty"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.invalid")
    _git(repo, "config", "user.name", "t")
    (repo / "f").write_text("1")
    _git(repo, "add", "f")
    head = _git(repo, "commit", "-q", "-m", "c")
    (repo / "f").write_text("2")
    with pytest.raises(asv_history.HistoryError, match="uncommitted changes"):
        asv_history.head_commit(cwd=repo)
    assert asv_history.head_commit(allow_dirty=True, cwd=repo) == head


def test_the_real_suite_is_discovered_with_the_registry_and_catalog(tmp_path):
    """asv's discovery of bench/asv_bench (imports it, runs nothing): every benchmark has the
    parameter grid of lowbit's formats, the catalog's groups and the gate's cases."""
    import lowbit
    from asv.runner import BENCHMARK_RUN_SCRIPT

    out = tmp_path / "discovered.json"
    subprocess.run([sys.executable, BENCHMARK_RUN_SCRIPT, "discover",
                    str(REPO / "bench" / "asv_bench"), str(out)], check=True, cwd=tmp_path)
    found = {b["name"]: b for b in json.loads(out.read_text())}
    assert set(found) == {"gemm.Throughput.track_gops", "gemm.TimePerOp.track_ms_per_gop",
                          "gemm.PeerRatio.track_lowbit_over_peer",
                          "gate_checks.Instructions.track_instructions",
                          "gate_checks.InRunRatios.track_ratio"}
    fmts = [repr(f) for f in lowbit.FORMATS]
    assert found["gemm.Throughput.track_gops"]["params"][0] == fmts
    assert found["gemm.Throughput.track_gops"]["params"][1] == [
        "'square'", "'cnn'", "'llm'", "'deepbench'"]
    assert found["gate_checks.Instructions.track_instructions"]["params"][0] == fmts
    assert "'4.6bit/int4'" in found["gate_checks.InRunRatios.track_ratio"]["params"][0]


def _commit_file(path: Path, commit: str, dirty=False) -> Path:
    date = int(subprocess.run(["git", "log", "-1", "--format=%at", commit], cwd=path.parent,
                              capture_output=True, text=True, check=True).stdout)
    f = path.parent / "asv-commit.json"
    f.write_text(json.dumps({"commit": commit, "date_ms": date * 1000, "dirty": dirty}))
    return f


def test_pinned_commit_records_without_git_and_merges_with_the_fleet(fleet, tmp_path):
    """The arm64 image's path (lowbit-docker history): no git on PATH, the commit from a
    commit file; the folder comes out as docker streams it and merges into one dashboard
    with the two machines recorded from git."""
    from lowbit import docker_cli

    commit = fleet["commits"][2]
    pin = _commit_file(fleet["repo"] / "x", commit)
    machine = "fleet-aarch64-neon"
    no_git = tmp_path / "bin"  # only the interpreter: asv must not need git
    no_git.mkdir()
    (no_git / "python3").symlink_to(sys.executable)
    env = dict(os.environ, HOME=str(tmp_path), PATH=str(no_git))
    env.pop("LOWBIT_ASV_MACHINE", None)
    out = tmp_path / "container" / "results"
    asv_history.record(conf=fleet["conf"], machine=machine, pinned=pin, results_dir=out,
                       emulated=True, env=env, log=lambda *a, **k: None)
    name = machine + asv_history.EMULATED_SUFFIX
    assert docker_cli.ASV_EMULATED_SUFFIX == asv_history.EMULATED_SUFFIX
    files = sorted(p.name for p in (out / name).iterdir())
    assert files == [f"{commit[:8]}-{asv_history.ENV_NAME}.json", "machine.json"]
    info = json.loads((out / name / "machine.json").read_text())
    assert info["machine"] == name and "emulated by QEMU" in info["cpu"]
    # `docker cp` of the folder, then lowbit-docker's copy-out into the host's folder.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(out, arcname="results")
    board = tmp_path / "results-arm64"
    docker_cli.extract_asv_results([buf.getvalue()], board, emulated=True)
    msgs = []
    html = asv_history.dashboard([*fleet["folders"], board], conf=fleet["conf"],
                                 log=lambda m, **k: msgs.append(m))
    index = json.loads((html / "index.json").read_text())
    assert set(index["params"]["machine"]) == {*MACHINES, name}
    assert _graph_points(html, name, "beta") == [1000.0]
    assert not [m for m in msgs if "error" in m]


def test_pinned_commit_file_is_checked(fleet, tmp_path):
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps({"commit": "abc", "date_ms": 1, "dirty": False}))
    with pytest.raises(asv_history.HistoryError, match="not a commit file"):
        asv_history.read_pinned(bad)
    bad.write_text("{")
    with pytest.raises(asv_history.HistoryError, match="unreadable commit file"):
        asv_history.read_pinned(bad)
    dirty = _commit_file(fleet["repo"] / "x", fleet["commits"][0], dirty=True)
    with pytest.raises(asv_history.HistoryError, match="uncommitted changes"):
        asv_history.record(conf=fleet["conf"], pinned=dirty, results_dir=tmp_path / "r",
                           log=lambda *a, **k: None)


def test_merge_writes_through_lowbit_atomic_writer_without_lowbit(fleet, tmp_path):
    """`make dashboard` on a merge-only machine has no built lowbit: the merge still writes
    through src/lowbit/bench/atomic.py (loaded from the checkout's file). sys.modules["lowbit"] =
    None makes `import lowbit` fail the way an unbuilt one does (ImportError)."""
    dest = tmp_path / "merged"
    code = ("import sys; sys.modules['lowbit'] = None; sys.path.insert(0, sys.argv[1]); "
            "import asv_history as h; "
            "n, errors = h.merge(sys.argv[2:3], sys.argv[3]); assert not errors, errors; "
            "print(n, h._atomic().__name__, 'lowbit' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code, str(REPO / "ci"),
                        str(fleet["folders"][0]), str(dest)],
                       capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    n, mod, imported = r.stdout.split()
    assert int(n) >= 1 and mod == "lowbit_atomic" and imported == "True"  # as None
    written = [p for p in dest.rglob("*.json")
               if p.name not in ("machine.json", "benchmarks.json")]
    assert len(written) == int(n) and all(json.loads(p.read_text())["commit_hash"]
                                          for p in written)
    assert not list(dest.rglob("*.tmp"))
