"""Results files: pytest-benchmark's JSON, plus a `lowbit` section (reports/README.md).

The file is what pytest-benchmark writes for `--benchmark-json` (machine_info, commit_info,
benchmarks with raw round times in stats.data, datetime, version), so `pytest-benchmark
compare` reads it; `machine_info` carries the project's fingerprint. The `lowbit` section
holds what a resumable run needs: the plan of cases, options, which cases failed or were
skipped, the roofline measurements, and whether the run is complete. It is rewritten
atomically after every case (lowbit.bench.atomic).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from .atomic import write_json
from .fingerprint import now_iso

SCHEMA = "lowbit-bench/2"
# Fingerprint keys that must match for a run to be resumed.
SETUP_KEYS = ("cpu_model", "commit", "build", "lowbit_version", "max_tier")


class ResultsError(ValueError):
    """A results file is unreadable or does not follow the schema."""


def new_doc(suite: str, options: dict, plan: list, fingerprint: dict) -> dict:
    return {
        "machine_info": dict(fingerprint),
        "commit_info": {"id": fingerprint.get("commit")},
        "benchmarks": [],
        "datetime": now_iso(),
        "version": None,
        "lowbit": {
            "schema": SCHEMA, "suite": suite, "complete": False, "started": now_iso(),
            "updated": now_iso(), "options": options,
            "setup": {k: fingerprint.get(k) for k in SETUP_KEYS},
            "plan": plan, "errors": [], "skipped": [], "peers": {}, "roofline": {},
            "wall_s": 0.0,
        },
    }


def _need(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise ResultsError(f"{where}: {what}")


def validate(doc, where: str = "results") -> dict:
    """Type-check a document; a clear ResultsError for anything a reader would trip on."""
    _need(isinstance(doc, dict), where, f"expected a JSON object, got {type(doc).__name__}")
    lb = doc.get("lowbit")
    _need(isinstance(lb, dict) and lb.get("schema") == SCHEMA, where,
          f"not a {SCHEMA} results file (no 'lowbit' section with that schema)")
    _need(isinstance(doc.get("machine_info"), dict), where, "'machine_info' must be an object")
    _need(isinstance(doc.get("benchmarks"), list), where, "'benchmarks' must be a list")
    for key, typ in (("suite", str), ("complete", bool), ("options", dict), ("setup", dict),
                     ("plan", list), ("errors", list), ("skipped", list), ("peers", dict),
                     ("roofline", dict)):
        _need(isinstance(lb.get(key), typ), where,
              f"lowbit.{key} must be {typ.__name__}, got {type(lb.get(key)).__name__}")
    for i, c in enumerate(lb["plan"]):
        _need(isinstance(c, dict) and isinstance(c.get("id"), str), where,
              f"lowbit.plan[{i}] must be a case object with an 'id'")
    for key in ("errors", "skipped"):
        for i, e in enumerate(lb[key]):
            _need(isinstance(e, dict) and isinstance(e.get("case"), str), where,
                  f"lowbit.{key}[{i}] must be an object with a 'case' id")
    for i, b in enumerate(doc["benchmarks"]):
        w = f"benchmarks[{i}]"
        _need(isinstance(b, dict), where, f"{w} must be an object")
        ei, st = b.get("extra_info"), b.get("stats")
        _need(isinstance(ei, dict) and isinstance(ei.get("case"), str), where,
              f"{w}.extra_info must be an object with a 'case' id")
        for k in ("M", "N", "K", "threads"):
            _need(isinstance(ei.get(k), int) and ei[k] >= 1, where,
                  f"{w}.extra_info.{k} must be a positive integer")
        _need(isinstance(st, dict) and isinstance(st.get("data"), list) and st["data"], where,
              f"{w}.stats.data must be a non-empty list of round times")
        _need(all(isinstance(x, (int, float)) and x > 0 and math.isfinite(x)
                  for x in st["data"]), where, f"{w}.stats.data must be positive times")
    return doc


def load(path: str | os.PathLike) -> dict:
    try:
        with open(path) as f:
            doc = json.load(f)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not JSON ({exc})") from exc
    except OSError as exc:
        raise ResultsError(f"{path}: {exc.strerror or exc}") from exc
    return validate(doc, str(path))


def write(path: str | os.PathLike, doc: dict) -> Path:
    doc["lowbit"]["updated"] = now_iso()
    return write_json(path, doc)


def done_ids(doc: dict) -> set:
    lb = doc["lowbit"]
    return ({b["extra_info"]["case"] for b in doc["benchmarks"]}
            | {e["case"] for e in lb["errors"]} | {e["case"] for e in lb["skipped"]})


def add_benchmark(doc: dict, bench: dict) -> None:
    cid = bench["extra_info"]["case"]
    doc["benchmarks"] = [b for b in doc["benchmarks"] if b["extra_info"]["case"] != cid]
    doc["benchmarks"].append(bench)


def setup_differences(old: dict, new: dict) -> list[str]:
    """Why results `old` cannot be resumed by a run that would write `new` ([] if it can)."""
    a, b = old["lowbit"], new["lowbit"]
    out = []
    if a["suite"] != b["suite"]:
        out.append(f"suite {a['suite']!r} -> {b['suite']!r}")
    for k in sorted(set(a["options"]) | set(b["options"])):
        if a["options"].get(k) != b["options"].get(k):
            out.append(f"option {k}: {a['options'].get(k)!r} -> {b['options'].get(k)!r}")
    for k in SETUP_KEYS:
        if a["setup"].get(k) != b["setup"].get(k):
            out.append(f"{k}: {a['setup'].get(k)!r} -> {b['setup'].get(k)!r}")
    return out


def record(bench: dict) -> dict:
    """One benchmark as the flat record the report and compare work with."""
    ei, st = bench["extra_info"], bench["stats"]
    data = st["data"]
    med = st.get("median") or sorted(data)[len(data) // 2]
    rec = {k: ei.get(k) for k in ("case", "impl", "format", "tier", "M", "N", "K", "threads",
                                  "pack_s", "kernel", "weight_bytes", "check", "shapes",
                                  "groups")}
    rec["shapes"] = rec["shapes"] or [f"{ei['M']}x{ei['N']}x{ei['K']}"]
    rec["groups"] = rec["groups"] or ["other"]
    rec["check"] = rec["check"] or {}
    rec.update(median_s=med, iqr_s=st.get("iqr"), samples_s=data, rounds=len(data),
               iterations=st.get("iterations"), gops=2 * ei["M"] * ei["N"] * ei["K"] / med / 1e9)
    return rec


def records(doc: dict) -> list[dict]:
    return [record(b) for b in doc["benchmarks"]]
