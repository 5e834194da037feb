"""Run a suite: measure every case, append a record and rewrite the results file atomically
after each one, so an interrupted run keeps what it finished and a rerun resumes."""

from __future__ import annotations

import sys
import time
from collections import defaultdict

from . import results as R
from .cases import PEERS, Case, enumerate_cases, impl_columns
from .fingerprint import fingerprint
from .timing import Timing, measure

DEFAULT_BUDGET_S = 0.15
MIN_SAMPLES = 5  # Mann-Whitney U needs >= 4-5 samples a side to reach p < 0.05
MAX_SAMPLES = 100


def runnable_tiers(formats, wanted=None) -> dict:
    import lowbit

    out = {}
    for fmt in formats:
        ts = list(lowbit.tiers(fmt))
        out[fmt] = [t for t in ts if wanted is None or t in wanted]
    return out


def peer_status(peers) -> dict:
    """Which peers can run here, with versions; a missing one is reported, never fatal."""
    from importlib import metadata

    def version(dist):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    status = {}
    for p in peers:
        dist = {"numpy": "numpy", "ort-matmulinteger": "onnxruntime",
                "ort-matmulnbits": "onnxruntime"}.get(p, "torch")
        v = version(dist)
        extra = {}
        if p == "numpy":
            extra["requires"] = "threadpoolctl"
            ok = v is not None and version("threadpoolctl") is not None
        elif p.startswith("ort-"):
            ok = v is not None and version("onnx") is not None
            extra["onnx"] = version("onnx")
        else:
            ok = v is not None
        status[p] = {"available": ok, "version": v, **extra,
                     "reason": None if ok else f"{dist} (or a dependency) is not installed"}
    return status


class PeerUnavailable(RuntimeError):
    """A peer turned out not to run here (reported in the peers table, not as an error)."""


class _InProcess:
    """Runs lowbit / numpy / onnxruntime cases in this process."""

    def prepare(self, c: Case):
        from . import impls

        if c.impl == "lowbit":
            return impls.prepare_lowbit(c.format, c.tier, c.M, c.N, c.K, c.threads)
        fn = {"numpy": impls.prepare_numpy,
              "ort-matmulinteger": impls.prepare_ort_matmulinteger,
              "ort-matmulnbits": impls.prepare_ort_matmulnbits}[c.impl]
        return fn(c.M, c.N, c.K, c.threads)

    def run(self, c: Case, timing_opts: dict) -> dict:
        prep = self.prepare(c)
        with prep.context:
            check = prep.check(prep.fn()) if prep.check else {}
            t = measure(prep.fn, **timing_opts)
        return {"samples_s": t.samples_s, "inner": t.inner, "warmup_calls": t.warmup_calls,
                "pack_s": prep.pack_s, "check": check, "extra": prep.extra}


class _Torch:
    """Keeps one torch worker per tier cap (None = uncapped, for fbgemm)."""

    def __init__(self):
        self.workers = {}

    def worker(self, tier):
        from .torch_peer import TorchWorker

        if tier not in self.workers:
            self.workers[tier] = TorchWorker(tier)
        return self.workers[tier]

    def run(self, c: Case, timing_opts: dict) -> dict:
        w = self.worker(c.tier if c.impl == "torch-int-mm" else None)
        if not w.hello.get("available"):
            raise PeerUnavailable(w.hello.get("reason", "torch unavailable"))
        req = {"impl": c.impl, "M": c.M, "N": c.N, "K": c.K, "threads": c.threads,
               "budget_s": timing_opts["budget_s"], "min_samples": timing_opts["min_samples"],
               "max_samples": timing_opts["max_samples"], "repeat": timing_opts.get("repeat")}
        out = w.run(req)
        if not out.get("ok"):
            raise RuntimeError(out.get("error", "torch worker failed"))
        out["extra"] = {"onednn_isa_cap": w.hello.get("onednn_isa_cap")}
        return out

    def close(self):
        for w in self.workers.values():
            w.close()


def make_record(c: Case, m: dict, shapes: list[str], groups: list[str]) -> dict:
    t = Timing(m["samples_s"], m["inner"], m.get("warmup_calls", 0))
    t_med = t.median_s
    return {
        "impl": c.impl, "format": c.format, "tier": c.tier,
        "M": c.M, "N": c.N, "K": c.K, "threads": c.threads,
        "median_s": t_med, "iqr_s": t.iqr_s, "min_s": min(m["samples_s"]),
        # 5 significant digits: far below run-to-run noise, keeps results files small.
        "samples_s": [float(f"{x:.5g}") for x in m["samples_s"]], "inner": m["inner"],
        "warmup_calls": m.get("warmup_calls"),
        "gops": c.ops / t_med / 1e9,
        "pack_s": m.get("pack_s"),
        "check": m.get("check") or {},
        "extra": m.get("extra") or {},
        "shapes": shapes, "groups": groups,
    }


def run_suite(catalog, suite: str, out_path: str, *, formats=None, tiers=None, threads=(1,),
              peers=None, budget_s=None, repeat=None, resume=True, progress=True,
              probe_peak=True, log=sys.stderr) -> dict:
    import lowbit

    from .peak import probe

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
    shapes = catalog.suite(suite)
    run_tiers = runnable_tiers(formats, tiers)
    budget = budget_s if budget_s is not None else catalog.budget_s(suite, DEFAULT_BUDGET_S)
    options = {"formats": formats, "tiers": run_tiers, "threads": list(threads), "peers": peers,
               "budget_s": budget, "min_samples": MIN_SAMPLES, "max_samples": MAX_SAMPLES,
               "repeat": repeat, "warmup": "calls for budget_s/5 before timing"}
    status = peer_status(peers)
    fresh = R.new_results(suite, options, fingerprint())
    doc, resumed = R.open_for_run(out_path, fresh, resume=resume)
    doc["peers"] = status
    doc.setdefault("errors", [])
    if resumed:
        print(f"resuming {out_path}: {resumed} cases already measured", file=log)

    usable = [p for p in peers if status[p]["available"]]
    cases = enumerate_cases(shapes, threads, impl_columns(formats, run_tiers, usable))
    names, groups = defaultdict(list), defaultdict(list)
    for s in shapes:
        names[s.dims].append(s.name)
        for g in catalog.groups(s):
            if g not in groups[s.dims]:
                groups[s.dims].append(g)
    done = {R.case_key(r) for r in doc["records"]} | {tuple(e["case"]) for e in doc["errors"]}
    todo = [c for c in cases if c.key not in done]

    t_start, wall0 = time.perf_counter(), doc.get("wall_s", 0.0)
    if probe_peak and not doc.get("peak"):
        print("peak probe ...", file=log)
        doc["peak"] = probe(run_tiers)
    R.write_atomic(out_path, doc)

    timing_opts = {"budget_s": budget, "min_samples": MIN_SAMPLES, "max_samples": MAX_SAMPLES,
                   "repeat": repeat}
    inproc, torch_runner = _InProcess(), _Torch()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(cases), initial=len(cases) - len(todo), unit="case", file=log,
                   dynamic_ncols=True)
    try:
        for c in todo:
            if bar is not None:
                bar.set_description(c.label())
            runner = torch_runner if c.impl.startswith("torch-") else inproc
            if not doc["peers"].get(c.impl, {}).get("available", True):
                if bar is not None:
                    bar.update(1)
                continue
            try:
                t_case = time.perf_counter()
                m = runner.run(c, timing_opts)
                rec = make_record(c, m, names[(c.M, c.N, c.K)], groups[(c.M, c.N, c.K)])
                # Everything the case cost (operands, packing, warm-up, samples): for budgeting.
                rec["case_wall_s"] = time.perf_counter() - t_case
                R.add_record(doc, rec)
            except PeerUnavailable as exc:
                doc["peers"][c.impl].update(available=False, reason=str(exc))
            except (RuntimeError, ValueError, OSError, MemoryError) as exc:
                doc["errors"].append({"case": list(c.key), "error": f"{type(exc).__name__}: {exc}"})
            doc["wall_s"] = wall0 + (time.perf_counter() - t_start)
            R.write_atomic(out_path, doc)
            if bar is not None:
                bar.update(1)
    finally:
        torch_runner.close()
        if bar is not None:
            bar.close()
    doc["complete"] = True
    doc["wall_s"] = wall0 + (time.perf_counter() - t_start)
    R.write_atomic(out_path, doc)
    return doc
