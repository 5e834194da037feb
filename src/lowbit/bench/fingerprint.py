"""The one machine fingerprint: CPU, ISA flags, runnable tiers and CPU classes, cores, build
(compiler and flags), commit, versions. Stored as pytest-benchmark's `machine_info` in every
results file, and with every gate baseline and history entry (ci/gate/fingerprint.py)."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata

# Distributions whose versions matter for the numbers (peers and the harness itself).
VERSIONED = ("lowbit", "numpy", "onnxruntime", "onnx", "torch", "scipy", "threadpoolctl",
             "pytest-benchmark")
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
             "avx512_vnni", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16", "asimd",
             "asimddp", "i8mm", "sve")


def _cpuinfo() -> dict:
    model, flags = platform.processor() or platform.machine(), []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, val = line.partition(":")
                key = key.strip()
                if key in ("model name", "Model", "CPU part") and model in ("", platform.machine(),
                                                                           platform.processor()):
                    model = val.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = val.split()
    except OSError:
        pass
    return {"model": model, "flags": flags}


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def git_commit(cwd: str | None = None) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=cwd, timeout=10)
        if out.returncode != 0:
            return None
        # reports/ holds results, not code: a rerun rewriting the committed results file
        # (reports/results/default.json) does not make the measured code dirty.
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                ":(top)", ":(top,exclude)reports"],
                               capture_output=True, text=True, cwd=cwd, timeout=10).stdout
        return out.stdout.strip() + ("-dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict:
    out = {}
    for dist in VERSIONED:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    out["python"] = platform.python_version()
    return out


def lowbit_info() -> dict:
    """What the built library says about itself (cpu_info, build info), when it is importable."""
    info: dict = {}
    try:
        import lowbit
    except ImportError as exc:
        return {"error": f"lowbit not importable: {exc}"}
    for name in ("cpu_info",):
        fn = getattr(lowbit, name, None)
        if callable(fn):
            info[name] = fn()
    core = getattr(lowbit, "_core", None)
    build = getattr(core, "build_info", None) if core is not None else None
    if callable(build):
        info["build_info"] = build()
    tiers = {}
    for fmt in getattr(lowbit, "FORMATS", ()):
        try:
            tiers[fmt] = list(lowbit.tiers(fmt))
        except Exception as exc:  # a broken format must not hide the rest
            tiers[fmt] = f"error: {exc}"
    info["tiers"] = tiers
    try:
        from .classes import class_table

        info["classes"] = class_table()
    except Exception as exc:  # noqa: BLE001 - described, not fatal
        info["classes"] = f"error: {exc}"
    return info


def fingerprint() -> dict:
    cpu = _cpuinfo()
    lb = lowbit_info()
    cpu_info = lb.get("cpu_info") or {}
    try:
        affinity = sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        affinity = None
    vers = versions()
    return {
        "date": now_iso(),
        "hostname": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
        "cpu_model": cpu_info.get("model") or cpu["model"],
        "isa_flags": sorted(set(cpu["flags"]) & set(ISA_FLAGS)),
        "lowbit_features": cpu_info.get("features"),
        "max_tier": cpu_info.get("max_tier") or os.environ.get("LOWBIT_MAX_TIER"),
        "cores": os.cpu_count(),
        "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "affinity": affinity,
        "build": lb.get("build_info"),
        "tiers": lb.get("tiers"),
        "classes": lb.get("classes"),
        "lowbit_version": vers.get("lowbit"),
        "commit": git_commit(),
        "versions": vers,
        "lowbit_error": lb.get("error"),
    }
