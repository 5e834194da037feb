"""Results history keyed by machine and commit, mergeable across machines (as asv does).

Layout: reports/history/<machine>/<commit>.json, one file per (machine, commit) holding a list
of runs. Runs from other machines (CI artifacts) are merged file by file; a run is identified
by its date and host, so merging the same artifact twice changes nothing.
"""

from __future__ import annotations

from pathlib import Path

from .store import read_json, write_json

SCHEMA = "lowbit-regress-history/1"


def entry(fp: dict, verdict: str, found: list, got: dict) -> dict:
    run = {"date": fp.get("date"), "host": fp.get("hostname"), "verdict": verdict,
           "fingerprint": fp,
           "checks": [c.as_dict() for c in found if c.verdict != "ok"],
           "n_checks": len(found)}
    if "callgrind" in got:
        run["callgrind"] = {"counts": got["callgrind"]["counts"],
                            "kernels": got["callgrind"]["kernels"]}
    if "ratios" in got:
        import numpy as np

        run["ratios"] = {k: float(np.median(v)) for k, v in got["ratios"]["ratios"].items()}
    return {"machine": fp["machine"], "commit": fp.get("commit") or "unknown", "run": run}


def _path(root: Path, machine: str, commit: str) -> Path:
    return Path(root) / machine / f"{commit}.json"


def _run_key(run: dict) -> tuple:
    return (run.get("date"), run.get("host"))


def add_runs(root: Path, machine: str, commit: str, runs: list) -> Path:
    path = _path(root, machine, commit)
    doc = read_json(path) if path.exists() else {"schema": SCHEMA, "machine": machine,
                                                 "commit": commit, "runs": []}
    have = {_run_key(r) for r in doc["runs"]}
    for r in runs:
        if _run_key(r) not in have:
            doc["runs"].append(r)
            have.add(_run_key(r))
    doc["runs"].sort(key=lambda r: r.get("date") or "")
    write_json(path, doc)
    return path


def record(root: Path, e: dict) -> Path:
    return add_runs(root, e["machine"], e["commit"], [e["run"]])


def load_all(root: Path) -> list[dict]:
    docs = []
    for p in sorted(Path(root).glob("*/*.json")):
        try:
            doc = read_json(p)
        except ValueError:
            continue
        if isinstance(doc, dict) and doc.get("schema") == SCHEMA:
            docs.append(doc)
    return docs


def merge(root: Path, sources) -> int:
    """Merge history trees found anywhere under `sources` (e.g. downloaded CI artifacts) into
    `root`. Returns the number of files merged."""
    n = 0
    for src in sources:
        for p in sorted(Path(src).rglob("*.json")):
            try:
                doc = read_json(p)
            except ValueError:
                continue
            if isinstance(doc, dict) and doc.get("schema") == SCHEMA and \
                    Path(p).resolve().parent.parent != Path(root).resolve():
                add_runs(root, doc["machine"], doc["commit"], doc["runs"])
                n += 1
    return n
