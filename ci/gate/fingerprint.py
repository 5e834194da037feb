"""The gate's view of the one machine fingerprint (lowbit.bench.fingerprint).

Adds the two fields the gate keys its baselines and history on: `arch` normalised like the
baseline file names (x86_64 / aarch64) and `machine`, the history key.
"""

from __future__ import annotations

import os
import re

from lowbit.bench.fingerprint import fingerprint as bench_fingerprint
from lowbit.bench.fingerprint import git_commit, now_iso  # noqa: F401  (re-exported)

from .cases import arch


def fingerprint() -> dict:
    fp = bench_fingerprint()
    fp["arch"] = arch()
    fp["machine"] = machine_name(fp)
    return fp


def machine_name(fp: dict) -> str:
    """History key of a machine: LOWBIT_MACHINE if set (like asv's machine name), else arch and
    CPU model. Hostnames are not used: CI runners get a new one every run."""
    name = os.environ.get("LOWBIT_MACHINE") or f"{fp.get('arch')}-{fp.get('cpu_model') or 'cpu'}"
    return re.sub(r"[^a-z0-9.]+", "-", name.lower()).strip("-")[:80]


def same_cpu(a: dict, b: dict) -> bool:
    return a.get("arch") == b.get("arch") and a.get("cpu_model") == b.get("cpu_model")
