"""Machine fingerprint stored with every baseline and history entry.

The benchmark harness's fingerprint (lowbit.bench.fingerprint) is used when installed, so the
gate and `make bench` describe a machine the same way; the fallback has the fields the gate
itself relies on (arch, cpu_model, commit, build).
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from datetime import datetime, timezone

from .cases import arch


def git_commit() -> str | None:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], check=False, capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               check=False, capture_output=True, text=True, timeout=10).stdout.strip()
        return head.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def fingerprint() -> dict:
    try:
        from lowbit.bench.fingerprint import fingerprint as bench_fingerprint
    except ImportError:
        bench_fingerprint = None
    if bench_fingerprint is not None:
        fp = dict(bench_fingerprint())
    else:
        import lowbit

        info = lowbit.cpu_info()
        fp = {"cpu_model": info.get("model"), "build": info.get("build"),
              "lowbit_features": info.get("features"), "max_tier": info.get("max_tier"),
              "hostname": platform.node(), "cores": os.cpu_count(),
              "python": platform.python_version(), "date": now_iso(), "commit": git_commit()}
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
