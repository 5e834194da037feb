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


# ---------------------------------------------------------------- schema of what readers use
# A spec is a type name ("str", "bool", "int" (>= 0), "pos" (a positive integer), "real" (any
# number), "num" (finite), "time" (finite, > 0)), or an Opt / ListOf / MapOf / Obj / Any of
# specs. Keys no reader uses are not checked (pytest-benchmark adds its own).
class _Spec:
    def __init__(self, *specs):
        self.specs = specs


class Opt(_Spec):
    """None, or the spec."""


class ListOf(_Spec):
    pass


class MapOf(_Spec):
    """An object with any keys, every value of the spec."""


class Any(_Spec):
    """One of several specs."""


def Obj(_required=(), **fields):  # noqa: N802 - reads like the other spec constructors
    """An object with these fields (each optional unless named in _required)."""
    return {"__required__": tuple(_required), **fields}


_BASE = {
    "str": (lambda v: isinstance(v, str), "a string"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
            "a non-negative integer"),
    "pos": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
            "a positive integer"),
    "num": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v), "a finite number"),
    "real": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
    "pair": (lambda v: isinstance(v, list) and len(v) == 2 and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0
        for x in v), "[bytes, bytes per second]"),
    "time": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
             and math.isfinite(v) and v > 0, "a positive, finite number"),
}


def _describe(spec) -> str:
    if isinstance(spec, str):
        return _BASE[spec][1]
    if isinstance(spec, Opt):
        return f"null or {_describe(spec.specs[0])}"
    if isinstance(spec, ListOf):
        return "a list"
    if isinstance(spec, Any):
        return " or ".join(_describe(x) for x in spec.specs)
    return "an object"


def _ok(value, spec) -> bool:
    """Whether `value` has the shape of `spec` at its top level (no recursion)."""
    if isinstance(spec, str):
        return _BASE[spec][0](value)
    if isinstance(spec, Opt):
        return value is None or _ok(value, spec.specs[0])
    if isinstance(spec, ListOf):
        return isinstance(value, list)
    if isinstance(spec, Any):
        return any(_ok(value, x) for x in spec.specs)
    return isinstance(value, dict)  # MapOf, Obj


def check(value, spec, where: str, path: str) -> None:
    """ResultsError naming `path` where `value` does not follow `spec`."""
    _need(_ok(value, spec), where, f"{path} must be {_describe(spec)}, got "
          f"{json.dumps(value)[:60] if _jsonable(value) else type(value).__name__}")
    if isinstance(spec, Opt) and value is not None:
        check(value, spec.specs[0], where, path)
    elif isinstance(spec, Any):
        check(value, next(x for x in spec.specs if _ok(value, x)), where, path)
    elif isinstance(spec, ListOf):
        for i, v in enumerate(value):
            check(v, spec.specs[0], where, f"{path}[{i}]")
    elif isinstance(spec, MapOf):
        for k, v in value.items():
            check(v, spec.specs[0], where, f"{path}.{k}")
    elif isinstance(spec, dict):
        for k in spec["__required__"]:
            _need(k in value, where, f"{path}.{k} is missing")
        for k, sub in spec.items():
            if k in value and k != "__required__":
                check(value[k], sub, where, f"{path}.{k}")


def _jsonable(v) -> bool:
    try:
        json.dumps(v)
    except (TypeError, ValueError):
        return False
    return True


_CLASS = Obj(("name", "features", "kernels"), name="str", features=ListOf("str"),
             int8_dot_product="bool", kernels=MapOf(Opt("str")))
MACHINE = Obj(
    cpu_model=Opt("str"), isa_flags=Opt(ListOf("str")), cores=Opt("pos"),
    loadavg=Opt(ListOf("num")), affinity=Opt(ListOf("int")), max_tier=Opt("str"),
    tiers=Opt(MapOf(Any(ListOf("str"), "str"))), versions=Opt(MapOf(Opt("str"))),
    commit=Opt("str"), os=Opt("str"), date=Opt("str"),
    classes=Opt(Any("str", Obj(classes=ListOf(_CLASS), this_cpu=Opt("str"), top=Opt("str"),
                                cap=Opt("str"), reference=Opt("str"), papers_class=Opt("str"),
                                papers_classes=ListOf("str")))))
_ROOF = Obj(peaks=MapOf("time"), probes=MapOf(Obj(tier=Opt("str"), what=Opt("str"))),
            bandwidth=MapOf(ListOf("pair")), reader=Opt("str"))
_CASE = dict(impl="str", format="str", tier="str", M="pos", N="pos", K="pos", threads="pos",
             shapes=Opt(ListOf("str")), groups=Opt(ListOf("str")))
BENCHMARK = Obj(
    ("extra_info", "stats"),
    extra_info=Obj(("case", "M", "N", "K", "threads"), case="str", **_CASE,
                   check=Opt(MapOf(Opt(Any("bool", "real")))), pack_s=Opt("num"),
                   weight_bytes=Opt("int"), kernel=Opt("str")),
    stats=Obj(("data",), data=ListOf("time"), median=Opt("time"), iqr=Opt("num"),
              iterations=Opt("pos")))
LOWBIT = Obj(
    ("suite", "complete", "options", "setup", "plan", "errors", "skipped", "peers", "roofline"),
    suite="str", complete="bool", setup=Obj(),
    options=Obj(("threads", "min_rounds", "min_round_s", "warmup_iterations"),
                formats=ListOf("str"), threads=ListOf("pos"), peers=ListOf("str"),
                budget_s=Opt("time"), repeat=Opt("pos"), min_rounds="pos",
                min_round_s="time", warmup_iterations="int"),
    plan=ListOf(Obj(("id",), id="str", process=Opt("str"), **_CASE)),
    errors=ListOf(Obj(("case",), case="str", error=Opt("str"))),
    skipped=ListOf(Obj(("case",), case="str", reason=Opt("str"))),
    peers=MapOf(Obj(available="bool", reason=Opt("str"))),
    roofline=Obj(start=Opt(_ROOF), end=Opt(_ROOF), during=ListOf(_ROOF)),
    wall_s=Opt("num"), roofline_s=Opt("num"))


def validate(doc, where: str = "results") -> dict:
    """Type-check a document; a clear ResultsError naming the field for anything a reader
    (the report, the runner, compare) would trip on."""
    _need(isinstance(doc, dict), where, f"expected a JSON object, got {type(doc).__name__}")
    lb = doc.get("lowbit")
    _need(isinstance(lb, dict) and lb.get("schema") == SCHEMA, where,
          f"not a {SCHEMA} results file (no 'lowbit' section with that schema)")
    _need(isinstance(doc.get("machine_info"), dict), where, "'machine_info' must be an object")
    _need(isinstance(doc.get("benchmarks"), list), where, "'benchmarks' must be a list")
    check(lb, LOWBIT, where, "lowbit")
    check(doc["machine_info"], MACHINE, where, "machine_info")
    for i, b in enumerate(doc["benchmarks"]):
        check(b, BENCHMARK, where, f"benchmarks[{i}]")
        _need(b["stats"]["data"], where, f"benchmarks[{i}].stats.data must be a non-empty "
              "list of round times")
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
