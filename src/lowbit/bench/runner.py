"""`lowbit-bench run`: plan a suite, drive pytest-benchmark over it, keep the results safe.

The results file is pytest-benchmark's JSON (lowbit.bench.results). This module writes the
plan into it, then runs bench/test_gemm.py in one pytest process for the in-process cases
(lowbit, numpy, onnxruntime) and one per torch ISA cap (oneDNN reads ONEDNN_MAX_CPU_ISA once,
when it initialises), each completing only what the file does not hold yet. The roofline
probes run before, during (lowbit.bench.plugin) and after the cases.

What happens to an existing results file is never silent:
* unfinished, same setup (suite, options, machine, commit, build): resumed;
* unfinished, another setup: refused with the differences, unless --no-resume, which moves
  it to <name>.prev.json first and says so;
* complete: moved to <name>.prev.json (replacing an older one), and the run starts afresh.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import results as R
from .cases import MAIN, PEERS, impl_columns, onednn_cap, plan

DEFAULT_BUDGET_S = 0.15
MIN_ROUNDS = 5  # Mann-Whitney U needs >= 4-5 samples a side to reach p < 0.05
MIN_ROUND_S = 0.002  # each round lasts >= 2 ms (pytest-benchmark calibrates iterations)
WARMUP_ITERATIONS = 20


def runnable_tiers(formats, wanted=None) -> dict:
    import lowbit

    return {f: [t for t in lowbit.tiers(f) if wanted is None or t in wanted] for f in formats}


def check_timing(budget_s, repeat) -> None:
    if repeat is not None and (isinstance(repeat, bool) or not isinstance(repeat, int)
                               or repeat < 1):
        raise ValueError(f"--repeat must be a positive integer, got {repeat!r}")
    if budget_s is not None and not (isinstance(budget_s, (int, float))
                                     and math.isfinite(budget_s) and budget_s > 0):
        raise ValueError(f"--budget must be a positive number of seconds, got {budget_s!r}")


def build_plan(catalog, suite: str, *, formats=None, tiers=None, threads=(1,), peers=None,
               classes=None) -> list[dict]:
    import lowbit

    from .classes import class_table

    formats = list(formats or lowbit.FORMATS)
    bad = [f for f in formats if f not in lowbit.FORMATS]
    if bad:
        raise ValueError(f"unknown formats {bad}; known: {list(lowbit.FORMATS)}")
    peers = list(PEERS if peers is None else peers)
    bad = [p for p in peers if p not in PEERS]
    if bad:
        raise ValueError(f"unknown peers {bad}; known: {list(PEERS)}")
    if tiers is not None:
        known = set(lowbit.all_tiers())
        bad = [t for t in tiers if t not in known]
        if bad:
            raise ValueError(f"unknown tiers {bad}; known: {sorted(known)}")
    if classes is None:
        classes = [c["name"] for c in class_table()["classes"]]
    shapes = catalog.suite(suite)
    groups: dict = {}
    for s in shapes:
        for g in catalog.groups(s):
            if g not in groups.setdefault(s.dims, []):
                groups[s.dims].append(g)
    cols = impl_columns(formats, runnable_tiers(formats, tiers), peers, classes)
    return plan(shapes, list(threads), cols, lambda d: groups.get(d, []))


def _set_aside(path: Path, why: str, log) -> None:
    prev = path.with_name(path.stem + ".prev" + path.suffix)
    os.replace(path, prev)
    print(f"lowbit-bench: {why}: moved {path} to {prev}", file=log)


def _old_schema(path: Path) -> bool:
    import json

    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(d, dict) and d.get("schema") == "lowbit-bench/1"


def open_results(path: Path, fresh: dict, resume: bool, log) -> dict:
    """The document this run appends to (see the module docstring for the rules)."""
    if not path.exists():
        return fresh
    try:
        old = R.load(path)
    except R.ResultsError as exc:
        if _old_schema(path):
            _set_aside(path, "results file of the former lowbit-bench/1 format kept", log)
            return fresh
        if not resume:
            _set_aside(path, f"unreadable results file ({exc}) not resumed", log)
            return fresh
        raise R.ResultsError(f"{exc}. Nothing was measured; move the file away or pass "
                             "--no-resume to set it aside") from exc
    lb = old["lowbit"]
    if lb["complete"]:
        _set_aside(path, "previous complete run kept", log)
        return fresh
    diff = R.setup_differences(old, fresh)
    if not diff and resume:
        n = len(R.done_ids(old))
        print(f"lowbit-bench: resuming {path}: {n} of {len(lb['plan'])} cases already done",
              file=log)
        old["lowbit"]["peers"] = {}
        return old
    if resume:
        raise R.ResultsError(
            f"{path} is an unfinished run ({len(old['benchmarks'])} cases measured) of another "
            f"setup ({'; '.join(diff)}). Rerun with the same options to finish it, or pass "
            "--no-resume to set it aside and start over")
    _set_aside(path, "unfinished run not resumed (--no-resume)", log)
    return fresh


def _pytest_args(suite_file: Path, budget_s: float, repeat) -> list[str]:
    if repeat is not None:
        timing = [f"--benchmark-min-rounds={repeat}", "--benchmark-max-time=0"]
    else:
        timing = [f"--benchmark-min-rounds={MIN_ROUNDS}", f"--benchmark-max-time={budget_s}"]
    return [sys.executable, "-m", "pytest", str(suite_file), "-p", "no:cacheprovider",
            "-p", "no:terminal", "--rootdir", str(suite_file.parent.parent), "--benchmark-only",
            "--benchmark-disable-gc", f"--benchmark-min-time={MIN_ROUND_S}",
            "--benchmark-warmup=on", f"--benchmark-warmup-iterations={WARMUP_ITERATIONS}",
            *timing]


def _run_session(args, env, log) -> int:
    # `python -m` puts the working directory first on sys.path: run from the directory lowbit
    # was imported from, so the session gets this (installed) package, not a source tree.
    cwd = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(args, env=env, cwd=cwd)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        # The session got the same SIGINT: let it finish writing, then stop it.
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
        raise


class _Lock:
    """An exclusive lock beside the results file: two runs never write one file at once."""

    def __init__(self, out: Path):
        self.path = out.with_name(out.name + ".lock")

    def __enter__(self):
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(self.path, "w")
        try:
            fcntl.flock(self.f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.f.close()
            raise R.ResultsError(f"another lowbit-bench run is writing {self.path.with_suffix('')}"
                                 " (lock held); wait for it or stop it") from None
        return self

    def __exit__(self, *exc):
        self.f.close()
        self.path.unlink(missing_ok=True)


def run_suite(catalog, suite: str, out_path, **kw) -> dict:
    out = Path(out_path)
    with _Lock(out):
        return _run_suite(catalog, suite, out, **kw)


def _run_suite(catalog, suite: str, out_path, *, formats=None, tiers=None, threads=(1,),
              peers=None, budget_s=None, repeat=None, resume=True, progress=True,
              roofline=True, roofline_every_s=None, log=None) -> dict:
    from .fingerprint import fingerprint
    from . import roofline as RL
    from .plugin import ROOFLINE_EVERY_S

    roofline_every_s = ROOFLINE_EVERY_S if roofline_every_s is None else roofline_every_s

    check_timing(budget_s, repeat)
    log = log or sys.stderr
    out = Path(out_path)
    suite_file = Path(catalog.path).resolve().with_name("test_gemm.py") if catalog.path else None
    if suite_file is None or not suite_file.is_file():
        raise FileNotFoundError(f"benchmark suite test_gemm.py not found next to {catalog.path}")
    budget = budget_s if budget_s is not None else catalog.budget_s(suite, DEFAULT_BUDGET_S)
    cases = build_plan(catalog, suite, formats=formats, tiers=tiers, threads=threads,
                       peers=peers)
    import lowbit

    formats = list(formats or lowbit.FORMATS)
    options = {"formats": formats, "tiers": runnable_tiers(formats, tiers),
               "threads": list(threads), "peers": list(PEERS if peers is None else peers),
               "budget_s": budget, "repeat": repeat, "min_rounds": MIN_ROUNDS,
               "min_round_s": MIN_ROUND_S, "warmup_iterations": WARMUP_ITERATIONS,
               "catalog": os.path.basename(catalog.path)}
    fresh = R.new_doc(suite, options, cases, fingerprint())
    doc = open_results(out, fresh, resume, log)
    lb = doc["lowbit"]
    t0 = time.perf_counter()
    if roofline and not lb["roofline"].get("start"):
        print("lowbit-bench: roofline probes (compute peaks, bandwidth ladder) ...", file=log)
        lb["roofline"]["start"] = RL.measure(sorted(set(threads)))
        lb["roofline_s"] = time.perf_counter() - t0
    R.write(out, doc)

    processes = list(dict.fromkeys(c["process"] for c in lb["plan"]))
    processes.sort(key=lambda p: p != MAIN)
    done = R.done_ids(doc)
    base_env = dict(os.environ, LOWBIT_BENCH_OUT=str(out.resolve()),
                    LOWBIT_BENCH_PROGRESS="1" if progress else "0", PYTHONUNBUFFERED="1",
                    LOWBIT_BENCH_ROOFLINE_EVERY_S=str(roofline_every_s if roofline else 0))
    base_env.pop("ONEDNN_MAX_CPU_ISA", None)
    for p in processes:
        todo = [c for c in lb["plan"] if c["process"] == p and c["id"] not in done]
        if not todo:
            continue
        env = dict(base_env, LOWBIT_BENCH_PROCESS=p)
        cap = onednn_cap(p)
        if cap:
            env["ONEDNN_MAX_CPU_ISA"] = cap
        print(f"lowbit-bench: {len(todo)} cases in process {p}"
              + (f" (ONEDNN_MAX_CPU_ISA={cap})" if cap else ""), file=log)
        rc = _run_session(_pytest_args(suite_file, budget, repeat), env, log)
        if rc not in (0, 1, 5):  # 1: some cases failed (recorded); 5: nothing collected
            raise RuntimeError(f"benchmark session for {p} exited with status {rc}; "
                               f"finished cases are kept in {out}, rerun to complete the rest")
        doc = R.load(out)
        lb = doc["lowbit"]
        done = R.done_ids(doc)
    if roofline and not lb["roofline"].get("end"):
        lb["roofline"]["end"] = RL.measure(sorted(set(threads)))
    missing = [c["id"] for c in lb["plan"] if c["id"] not in done]
    lb["complete"] = not missing
    R.write(out, doc)
    if missing:
        raise RuntimeError(f"{len(missing)} planned cases were not run (first: {missing[0]}); "
                           f"rerun to complete {out}")
    return doc
