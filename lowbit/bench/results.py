"""Results files: schema, atomic writes and resume (documented in reports/README.md)."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = "lowbit-bench/1"

# Every record carries these keys (reports/README.md documents each).
RECORD_KEYS = ("impl", "format", "tier", "M", "N", "K", "threads", "median_s", "iqr_s",
               "samples_s", "inner", "gops", "pack_s", "shapes", "groups")

# The keys that identify a case: a rerun skips cases already in the file.
CASE_KEYS = ("impl", "format", "tier", "M", "N", "K", "threads")


class ResultsError(ValueError):
    """A results file does not follow the schema."""


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def case_key(rec: dict) -> tuple:
    return tuple(rec[k] for k in CASE_KEYS)


def new_results(suite: str, options: dict, fingerprint: dict) -> dict:
    return {
        "schema": SCHEMA,
        "suite": suite,
        "complete": False,
        "started": now_iso(),
        "updated": now_iso(),
        "options": options,
        "fingerprint": fingerprint,
        "peak": {},
        "peers": {},
        "records": [],
    }


def validate(doc: dict) -> dict:
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ResultsError(f"not a {SCHEMA} results file")
    for key in ("suite", "complete", "options", "fingerprint", "peak", "peers", "records"):
        if key not in doc:
            raise ResultsError(f"missing top-level key {key!r}")
    for i, rec in enumerate(doc["records"]):
        missing = [k for k in RECORD_KEYS if k not in rec]
        if missing:
            raise ResultsError(f"record {i}: missing {missing}")
        if not rec["samples_s"] or any(s <= 0 for s in rec["samples_s"]):
            raise ResultsError(f"record {i}: samples_s must be positive times")
    return doc


def write_atomic(path: str | os.PathLike, doc: dict) -> None:
    """Write JSON so a reader (or a crash) never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc["updated"] = now_iso()
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; results are meant to be shared
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, separators=(",", ":"))
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path: str | os.PathLike) -> dict:
    with open(path) as f:
        try:
            doc = json.load(f)
        except json.JSONDecodeError as exc:
            raise ResultsError(f"{path}: not JSON ({exc})") from exc
    return validate(doc)


def same_setup(a: dict, b: dict) -> bool:
    """Can results `a` be resumed by a run that would write `b`? Same machine, build, options."""
    fa, fb = a.get("fingerprint", {}), b.get("fingerprint", {})
    keys = ("cpu_model", "commit", "build", "lowbit_version", "max_tier")
    return (a.get("suite") == b.get("suite") and a.get("options") == b.get("options")
            and all(fa.get(k) == fb.get(k) for k in keys))


def open_for_run(path: str | os.PathLike, fresh: dict, resume: bool = True) -> tuple[dict, int]:
    """The document a run appends to, and how many finished records it resumes.

    An unfinished file from the same setup is resumed; anything else starts over.
    """
    if resume and os.path.exists(path):
        try:
            old = load(path)
        except (ResultsError, OSError):
            old = None
        if old is not None and not old["complete"] and same_setup(old, fresh):
            return old, len(old["records"])
    return fresh, 0


def add_record(doc: dict, rec: dict) -> None:
    key = case_key(rec)
    doc["records"] = [r for r in doc["records"] if case_key(r) != key]
    doc["records"].append(rec)
