"""Instruction counts of lowbit's GEMM driver under callgrind (deterministic).

callgrind counts guest instructions, so the count of a given binary on given inputs does not
depend on load, frequency or cache state: the same build gives the same number on any machine
of the architecture. Only `lowbit::gemm` (and what it calls) is collected.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .cases import CALLGRIND_SHAPES, CALLGRIND_TIERS, arch, case_id

HERE = Path(__file__).resolve().parent
GEMM_PATTERN = "lowbit::gemm*"


class CallgrindUnavailable(RuntimeError):
    """valgrind, its header or a symbol table for lowbit._core is missing."""


def case_list(tiers=None) -> list[dict]:
    """Every format x shape on the valgrind-runnable tiers this build has kernels for (compiled,
    whatever LOWBIT_MAX_TIER says: a capped process must show up as a slowdown, not vanish)."""
    import lowbit

    compiled = {v.tier for v in lowbit.variants()}
    tiers = [t for t in tiers or CALLGRIND_TIERS.get(arch(), ("scalar",)) if t in compiled]
    return [{"id": case_id(f, t, s), "format": f, "tier": t, "shape": list(s)}
            for t in tiers for f in lowbit.FORMATS for s in CALLGRIND_SHAPES]


def _build_shim(workdir: Path) -> Path:
    cc = os.environ.get("CC", "cc")
    out = workdir / "cg_shim.so"
    try:
        subprocess.run([cc, "-O1", "-shared", "-fPIC", "-o", str(out), str(HERE / "cg_shim.c")],
                       check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise CallgrindUnavailable(f"no C compiler ({cc}) to build the callgrind shim") from exc
    except subprocess.CalledProcessError as exc:
        raise CallgrindUnavailable(
            f"cannot build the callgrind shim (is valgrind's header valgrind/callgrind.h "
            f"installed?):\n{exc.stderr}") from exc
    return out


def _has_gemm_symbol(so: Path) -> bool:
    try:
        out = subprocess.run(["nm", "-C", "--defined-only", str(so)], check=False,
                             capture_output=True,
                             text=True).stdout
    except FileNotFoundError as exc:
        raise CallgrindUnavailable("`nm` (binutils) is needed to check lowbit._core's "
                                   "symbols") from exc
    return " lowbit::gemm(" in out


def _build_id(so: Path) -> str | None:
    out = subprocess.run(["readelf", "-n", str(so)], check=False, capture_output=True,
                         text=True).stdout
    m = re.search(r"Build ID:\s*([0-9a-f]+)", out)
    return m.group(1) if m else None


def _package_path(workdir: Path) -> dict:
    """Environment that makes the worker import a lowbit whose _core has a symbol table.

    callgrind needs symbols to find `lowbit::gemm`. A wheel install may strip them
    (scikit-build-core's install.strip); then the unstripped copy left in the build directory
    is used, but only if its GNU build-id equals the installed one, i.e. it is the same code.
    """
    import lowbit._core as core

    so = Path(core.__file__)
    if _has_gemm_symbol(so):
        return {}
    want = _build_id(so)
    repo = HERE.parent.parent
    for cand in sorted(glob.glob(str(repo / "build" / "*" / so.name))):
        cand = Path(cand)
        if want and _build_id(cand) == want and _has_gemm_symbol(cand):
            shadow = workdir / "shadow"
            shutil.copytree(so.parent, shadow / "lowbit",
                            ignore=shutil.ignore_patterns("__pycache__"))
            shutil.copy2(cand, shadow / "lowbit" / so.name)
            return {"PYTHONPATH": str(shadow)}
    raise CallgrindUnavailable(
        f"{so} has no symbol table and no unstripped copy with build-id {want} was found "
        f"under build/; install with `-C install.strip=false` (pyproject: "
        f"[tool.scikit-build] install.strip = false)")


_TRIGGER = re.compile(r"^desc: Trigger: Client Request: (.*)$", re.MULTILINE)
_TOTAL = re.compile(r"^(?:summary|totals): (\d+)", re.MULTILINE)


def parse_dumps(paths) -> dict[str, int]:
    """{dump name: Ir} from callgrind dump files made by CALLGRIND_DUMP_STATS_AT(name)."""
    counts = {}
    for p in paths:
        text = Path(p).read_text(errors="replace")
        trig, tot = _TRIGGER.search(text), _TOTAL.search(text)
        if trig and tot:
            counts[trig.group(1).strip()] = int(tot.group(1))
    return counts


def measure(tiers=None, env: dict | None = None, timeout: int = 900) -> dict:
    """Run every case under callgrind once. Returns {"counts": {id: Ir}, "kernels": {id: name},
    "valgrind": version}. `env` adds to the environment (the tests inject LOWBIT_MAX_TIER)."""
    if shutil.which("valgrind") is None:
        raise CallgrindUnavailable("valgrind is not installed (apt-get install valgrind)")
    cases = case_list(tiers)
    with tempfile.TemporaryDirectory(prefix="lowbit-cg-") as tmp:
        work = Path(tmp)
        shim = _build_shim(work)
        run_env = dict(os.environ)
        run_env.update(_package_path(work))
        run_env.update(env or {})
        (work / "cases.json").write_text(json.dumps(cases))
        out_json = work / "worker.json"
        cmd = ["valgrind", "--tool=callgrind", f"--toggle-collect={GEMM_PATTERN}",
               f"--callgrind-out-file={work / 'cg.out'}",
               sys.executable, str(HERE / "cg_worker.py"), str(work / "cases.json"), str(shim),
               str(out_json)]
        proc = subprocess.run(cmd, check=False, env=run_env, capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode != 0 or not out_json.exists():
            raise RuntimeError(f"callgrind worker failed (rc {proc.returncode}):\n"
                               f"{proc.stderr[-4000:]}")
        worker = json.loads(out_json.read_text())
        counts = parse_dumps(sorted(glob.glob(str(work / "cg.out.*"))))
        version = subprocess.run(["valgrind", "--version"], check=False, capture_output=True,
                                 text=True).stdout.strip()
    missing = [c["id"] for c in cases if c["id"] not in counts]
    if missing or not worker.get("on_valgrind"):
        raise RuntimeError(f"callgrind produced no count for {missing or 'any case'}")
    if all(v == 0 for v in counts.values()):
        raise RuntimeError(f"callgrind collected nothing: no function matched {GEMM_PATTERN}")
    return {"counts": counts, "kernels": worker["kernels"], "valgrind": version}
