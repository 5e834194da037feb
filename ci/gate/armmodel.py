"""ARM cycle-model figures (reports/arm-model.json from `make arm-model`) against a baseline.

llvm-mca's figures are a pure function of the instruction stream and the scheduling model, so
they are compared exactly: any numeric difference is reported. Keys that describe the run
rather than the model (dates, hosts, tool paths) are ignored.
"""

from __future__ import annotations

from pathlib import Path

IGNORED_KEYS = {"date", "generated", "created", "updated", "timestamp", "hostname", "host",
                "commit", "fingerprint", "machine", "path", "command", "cwd", "duration_s"}


LABEL_KEYS = ("kernel", "name", "block", "id")


def _label(item, i: int) -> str:
    """A list item's path label: its name when it has one (kernels[f32_gemm_8x12__neon]), so
    adding or reordering entries does not shift every later path; else its index."""
    if isinstance(item, dict):
        for k in LABEL_KEYS:
            if isinstance(item.get(k), str):
                return item[k]
    return str(i)


def flatten(doc, prefix: str = "") -> dict:
    """{path: number} for every numeric leaf; dicts by key, lists by item name or index."""
    out = {}
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k in IGNORED_KEYS:
                continue
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(doc, list):
        labels = [_label(v, i) for i, v in enumerate(doc)]
        if len(set(labels)) != len(labels):  # names not unique: fall back to indices
            labels = [str(i) for i in range(len(doc))]
        for label, v in zip(labels, doc):
            out.update(flatten(v, f"{prefix}[{label}]"))
    elif isinstance(doc, (int, float)) and not isinstance(doc, bool):
        out[prefix] = doc
    return out


def compare(current: dict, baseline: dict) -> list[tuple[str, object, object]]:
    """[(path, baseline value, current value)] for every figure that differs or is missing."""
    cur, base = flatten(current), flatten(baseline)
    diffs = [(k, base.get(k), cur.get(k)) for k in sorted(set(cur) | set(base))
             if cur.get(k) != base.get(k)]
    return diffs


def load_current(path: Path):
    import json

    if not path.exists():
        return None
    with open(path) as f:
        return json.load(f)
