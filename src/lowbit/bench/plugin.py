"""pytest plugin of the benchmark suite (loaded by bench/conftest.py).

* `machine_info` of pytest-benchmark's JSON is filled with the project's fingerprint.
* Under `lowbit-bench run` (LOWBIT_BENCH_OUT names the results file), it runs only the cases
  of the plan that this process owns (LOWBIT_BENCH_PROCESS: `main`, or one torch process per
  ISA cap) and that are not in the file yet, and after every case writes the file again,
  atomically, with that case's benchmark as pytest-benchmark's own JSON generator makes it.
  An interrupted run therefore keeps every finished case, and a rerun completes the rest.
* The roofline probes are measured again every ROOFLINE_EVERY_S between cases (the runner
  measures them before and after): on a shared machine the figures move with the neighbours'
  load, and the bound of a case is the machine's best, not its worst moment.
* Progress: a bar on a terminal, one plain line per case otherwise (or with --no-progress).
"""

from __future__ import annotations

import os
import sys
import time

ENV_OUT, ENV_PROCESS, ENV_PROGRESS = "LOWBIT_BENCH_OUT", "LOWBIT_BENCH_PROCESS", "LOWBIT_BENCH_PROGRESS"
ENV_ROOFLINE = "LOWBIT_BENCH_ROOFLINE_EVERY_S"  # "0": no roofline probes during the cases
ROOFLINE_EVERY_S = 60.0  # one measurement takes ~2 s here: ~3% of the run


def pytest_benchmark_update_machine_info(config, machine_info):
    from .fingerprint import fingerprint

    machine_info.update(fingerprint())


def pytest_configure(config):
    out = os.environ.get(ENV_OUT)
    if out and not config.pluginmanager.has_plugin("lowbit-recorder"):
        config.pluginmanager.register(Recorder(config, out, os.environ.get(ENV_PROCESS)),
                                      "lowbit-recorder")


def _case(item):
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("case") if callspec else None


class Recorder:
    def __init__(self, config, path: str, process: str | None):
        from . import results

        self.config, self.path, self.process = config, path, process
        self.doc = results.load(path)
        self.cases: dict = {}
        self.bar = None
        self.done = 0
        self.total = 0
        self.t0 = time.perf_counter()
        self.last_probe = time.perf_counter()
        self.probe_every_s = float(os.environ.get(ENV_ROOFLINE, ROOFLINE_EVERY_S))
        self.tty = sys.__stderr__.isatty() and os.environ.get(ENV_PROGRESS, "1") != "0"

    # ------------------------------------------------------------------ selection
    def pytest_collection_modifyitems(self, session, config, items):
        from .results import done_ids

        done = done_ids(self.doc)
        keep, drop = [], []
        for item in items:
            c = _case(item)
            ok = (c is not None and c["id"] not in done
                  and (self.process is None or c.get("process") == self.process))
            (keep if ok else drop).append(item)
            if ok:
                self.cases[item.nodeid] = c
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep
        self.total = len(keep)
        if self.tty and keep:
            from tqdm import tqdm

            self.bar = tqdm(total=len(keep), unit="case", file=sys.__stderr__,
                            dynamic_ncols=True, desc=self.process or "bench")

    def pytest_sessionstart(self, session):
        self.machine_info = None

    def _infos(self):
        bs = self.config._benchmarksession
        if self.machine_info is None:
            self.machine_info = bs.get_machine_info()
            self.commit_info = self.config.hook.pytest_benchmark_generate_commit_info(
                config=self.config)
            if self.process in (None, "main") or not self.doc["benchmarks"]:
                self.doc["machine_info"] = self.machine_info
                self.doc["commit_info"] = self.commit_info
        return bs

    # ------------------------------------------------------------------ recording
    def _say(self, c: dict, what: str) -> None:
        self.done += 1
        line = f"[{self.done}/{self.total}] {c['id']}: {what}"
        if self.bar is not None:
            self.bar.set_postfix_str(line[-60:], refresh=False)
            self.bar.update(1)
        else:
            print(f"bench {self.process or ''} {line}".replace("  ", " "), file=sys.__stderr__,
                  flush=True)

    def pytest_runtest_logreport(self, report):
        from . import results

        c = self.cases.get(report.nodeid)
        if c is None:
            return
        lb = self.doc["lowbit"]
        if report.skipped and report.when in ("setup", "call"):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(
                report.longrepr)
            reason = reason.removeprefix("Skipped: ")
            lb["skipped"].append({"case": c["id"], "reason": reason})
            if c["impl"] != "lowbit":
                lb["peers"].setdefault(c["impl"], {"available": False, "reason": reason})
            self._say(c, f"skipped ({reason})")
        elif report.failed:
            crash = getattr(report.longrepr, "reprcrash", None)
            msg = crash.message if crash is not None else str(report.longrepr)[-500:]
            lb["errors"].append({"case": c["id"], "error": msg, "phase": report.when})
            self._say(c, f"ERROR {msg.splitlines()[0] if msg else ''}")
        elif report.when == "call" and report.passed:
            bs = self._infos()
            bench = next((b for b in reversed(bs.benchmarks) if b.fullname == report.nodeid),
                         None)
            if bench is None:
                return
            js = self.config.hook.pytest_benchmark_generate_json(
                config=self.config, benchmarks=[bench], include_data=True,
                machine_info=self.machine_info, commit_info=self.commit_info)
            self.doc["version"] = js.get("version")
            self.doc["datetime"] = js.get("datetime")
            for b in js["benchmarks"]:
                results.add_benchmark(self.doc, b)
            if c["impl"] != "lowbit":
                lb["peers"].setdefault(c["impl"], {"available": True})
            med = bench.stats.median
            self._say(c, f"{c['ops'] / med / 1e9:.1f} GOP/s ({bench.stats.rounds} rounds)")
        else:
            return
        lb["wall_s"] = lb.get("wall_s", 0.0) + (time.perf_counter() - self.t0)
        self._probe_roofline(lb)
        self.t0 = time.perf_counter()
        results.write(self.path, self.doc)

    def _probe_roofline(self, lb: dict) -> None:
        if self.probe_every_s <= 0 or time.perf_counter() - self.last_probe < self.probe_every_s:
            return
        from . import roofline

        threads = sorted(set(lb["options"].get("threads") or [1]))
        lb["roofline"].setdefault("during", []).append(roofline.measure(threads))
        self.last_probe = time.perf_counter()

    def pytest_sessionfinish(self, session, exitstatus):
        if self.bar is not None:
            self.bar.close()
