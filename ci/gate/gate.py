"""Run the gate (or refresh its baselines): measure, compare, summarise. The history of the
same measurements across commits and machines is asv's (ci/asv_history.py, `make history`)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from lowbit.bench import atomic

from . import callgrind, checks, ratios
from .armmodel import load_current
from .cases import arch
from .fingerprint import fingerprint, now_iso

REPO = Path(__file__).resolve().parents[2]
BASELINES = REPO / "ci" / "baselines"
ARM_MODEL = REPO / "reports" / "arm-model.json"
PARTS = ("callgrind", "ratios", "arm-model")


@dataclass
class Options:
    parts: tuple = PARTS
    baselines: Path = BASELINES
    arm_model: Path = ARM_MODEL
    summary: Path | None = REPO / "build" / "regress" / "summary.md"
    rounds: int = 101
    env: dict = field(default_factory=dict)   # extra environment for the callgrind worker


def baseline_paths(base: Path) -> dict:
    return {"callgrind": base / f"callgrind-{arch()}.json",
            "ratios": base / f"ratios-{arch()}.json",
            "arm-model": base / "arm-model.json"}


def _write_baseline(path: Path, doc) -> None:
    """A baseline, atomically (lowbit's one writer): a reader, or a crash, never sees half."""
    atomic.write_json(path, doc, indent=1, sort_keys=True)


def _load(path: Path):
    if not path.exists():
        return None
    with open(path) as f:
        return json.load(f)


def measure(opts: Options, log=print) -> dict:
    out = {}
    if "callgrind" in opts.parts:
        t = time.perf_counter()
        out["callgrind"] = callgrind.measure(env=opts.env)
        log(f"callgrind: {len(out['callgrind']['counts'])} cases "
            f"({time.perf_counter() - t:.0f} s)")
    if "ratios" in opts.parts:
        t = time.perf_counter()
        out["ratios"] = {"ratios": ratios.measure(rounds=opts.rounds), "rounds": opts.rounds}
        log(f"ratios: {len(out['ratios']['ratios'])} pairs ({time.perf_counter() - t:.0f} s)")
    if "arm-model" in opts.parts:
        out["arm-model"] = load_current(opts.arm_model)
    return out


def run(opts: Options, log=print) -> tuple[str, list]:
    """The gate. Returns (overall verdict, checks); writes the summary."""
    fp = fingerprint()
    got = measure(opts, log)
    paths = baseline_paths(opts.baselines)
    found: list = []
    if "callgrind" in opts.parts:
        found += checks.check_callgrind(got["callgrind"], _load(paths["callgrind"]),
                                        fp.get("build"))
    if "ratios" in opts.parts:
        cache: dict = {}

        def remeasure(key):
            group = ratios.group_of(key)
            if group not in cache:
                log(f"ratios: measuring {group[0]} {group[1]} again to confirm a failure")
                cache[group] = ratios.measure_group(*group, 2 * opts.rounds)
            return cache[group][key]

        found += checks.check_ratios(got["ratios"], _load(paths["ratios"]), fp,
                                     remeasure=remeasure)
    if "arm-model" in opts.parts:
        found += checks.check_arm_model(got["arm-model"], _load(paths["arm-model"]),
                                        str(opts.arm_model))
    verdict = checks.overall(found)
    md = render_summary(verdict, found, fp)
    if opts.summary:
        md += "\n" + history_section(fp, (_load(paths["callgrind"]) or {}).get("fingerprint", {}))
        atomic.write_text(opts.summary, md)
    return verdict, found


def history_section(fp: dict, base_fp: dict) -> str:
    """Where these numbers are kept across commits: asv, and its comparison of the baseline's
    commit with this one on this machine (embedded when both are recorded)."""
    import asv_history

    machine = asv_history.machine_name(fp)
    new = (fp.get("commit") or "HEAD").removesuffix("-dirty")
    old = (base_fp.get("commit") or "").removesuffix("-dirty")
    lines = ["### history (asv)", "",
             f"`make history` records this commit's counts, ratios and GOP/s as asv machine "
             f"`{machine}`; `make dashboard` publishes them (ci/README.md, \"History\")."]
    if not old:
        return "\n".join(lines + [""])
    cmd = asv_history.compare_command(old[:10], new[:10], machine)
    lines += ["", f"Baseline commit against this one: `{cmd}`", ""]
    if asv_history.has_results(machine, old) and asv_history.has_results(machine, new):
        try:
            table = asv_history.compare(old, new, machine, only_changed=True).strip()
            lines += ["```", table or "no benchmark changed by more than 5 %", "```", ""]
        except asv_history.HistoryError as exc:
            lines += [f"(asv compare failed: {str(exc).splitlines()[0]})", ""]
    else:
        lines += ["(run `make history` on both commits here to see the comparison)", ""]
    return "\n".join(lines)


def refresh_baselines(opts: Options, log=print) -> list[Path]:
    """`make baseline`: measure on purpose and overwrite the baselines of this architecture."""
    fp = fingerprint()
    got = measure(opts, log)
    paths = baseline_paths(opts.baselines)
    written = []
    docs = {"callgrind": got.get("callgrind"), "ratios": got.get("ratios"),
            "arm-model": None if got.get("arm-model") is None else {"model": got["arm-model"]}}
    for part, body in docs.items():
        if body is not None:
            _write_baseline(paths[part], {"schema": f"lowbit-regress-{part}/1", "date": now_iso(),
                                          "fingerprint": fp, **body})
            written.append(paths[part])
    if got.get("arm-model") is None and "arm-model" in opts.parts:
        log(f"arm-model: {opts.arm_model} not found; its baseline is left as it is")
    return written


def render_summary(verdict: str, found: list, fp: dict) -> str:
    from tabulate import tabulate

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return "" if v is None else str(v)

    lines = [f"## lowbit regression gate: **{verdict}** on `{fp.get('machine')}`", "",
             f"commit `{fp.get('commit')}`, CPU {fp.get('cpu_model')}, {now_iso()}", ""]
    for kind in ("callgrind", "ratio", "arm-model"):
        rows = [c for c in found if c.kind == kind]
        if not rows:
            continue
        counts = {v: sum(c.verdict == v for c in rows) for v in (checks.FAIL, checks.WARN,
                                                                  checks.OK, checks.SKIP)}
        lines.append(f"### {kind}: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n))
        lines.append("")
        shown = [c for c in rows if c.verdict != checks.OK] or rows[:0]
        if shown:
            lines.append(tabulate(
                [[c.verdict, c.case, fmt(c.baseline), fmt(c.current),
                  "" if c.change is None else f"{c.change:+.1%}", c.note] for c in shown],
                headers=["verdict", "case", "baseline", "current", "change", "note"],
                tablefmt="github"))
            lines.append("")
        else:
            lines += ["all within tolerance", ""]
    return "\n".join(lines)
