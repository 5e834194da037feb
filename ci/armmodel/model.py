#!/usr/bin/env python3
"""ARM cycle model of the aarch64 micro-kernels (``make arm-model``).

Compiles each tier translation unit of kernels/src/arm/ to assembly with its command from
CMake's compile_commands.json of the aarch64 native-tests graph (ci/armmodel/cmake_graph.py:
the cross compiler and the library's flags, the tier's from the tier table
kernels/src/tiers.def; no flag of this script's own), -c replaced by -S, plus -DLOWBIT_MCA,
which brackets one iteration of every micro-kernel's inner loop and its once-per-call
epilogue with ``// LLVM-MCA-BEGIN name`` / ``// LLVM-MCA-END name`` comments.  The variants
come from the registry dump: that graph's registry_dump target, run under QEMU.  Each
bracketed block is fed to ``llvm-mca`` for several ARM cores; cycles per iteration and the
MACs per iteration (counted from the multiply instructions of the block itself and checked
against the descriptor's mr x nr x k) give predicted MACs/cycle, and from those the speedups
the papers report.

Limits (repeated in the report): the inner loop only, in steady state, with every load
hitting L1; no cache or memory effects, no packing, no driver.  llvm-mca's scheduling model
of a core is not the core.  QEMU timings are never ARM performance.

Output is deterministic for a given compiler and llvm-mca (no timestamps, fixed rounding):
the issue-6 regression gate compares reports/arm-model.json exactly.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # cmake_graph, osaca_model, x86
import cmake_graph  # noqa: E402
import osaca_model  # noqa: E402
import x86  # noqa: E402
from lowbit.bench.atomic import write_text  # noqa: E402  (run with the venv's python)
TIERS = ("neon", "dotprod", "i8mm")
FORMATS = ("fp32", "int8", "int4", "4.6bit")
FORMAT_ENUM = {"kFp32": "fp32", "kInt8": "int8", "kInt4": "int4", "kQ46": "4.6bit"}
ITERATIONS = 500  # llvm-mca iterations of each block (steady state)

# Cores: the features each has (Arm TRMs).  Tiers are modelled only where the core has them.
# LLVM may reuse one scheduling model for several -mcpu names; the report says which names
# gave identical results for every block, so nobody mistakes them for separate models.
CPUS = {
    "cortex-a53": ("neon",),
    "cortex-a55": ("neon", "dotprod"),
    "cortex-a73": ("neon",),
    "cortex-a76": ("neon", "dotprod"),
    "neoverse-n1": ("neon", "dotprod"),
    "neoverse-n2": ("neon", "dotprod", "i8mm"),
    # The cores OSACA has measured models of, so both models see the same names.
    "cortex-a72": ("neon",),
    "neoverse-v2": ("neon", "dotprod", "i8mm"),
    "tsv110": ("neon", "dotprod"),
    "apple-m1": ("neon", "dotprod"),
    "a64fx": ("neon",),
}
# OSACA machine models (ci/armmodel/osaca_model.py) -> the -mcpu of the same core for
# llvm-mca and the core's tiers.  a72: Cortex-A72, measured on a Raspberry Pi 4, the
# nearest core to the papers' A73 that either tool models from measurements.
OSACA_CPUS = {
    "a72": "cortex-a72",
    "n1": "neoverse-n1",
    "v2": "neoverse-v2",
    "tsv110": "tsv110",
    "m1": "apple-m1",
    "a64fx": "a64fx",
}
OSACA_PAPER_CPU = "a72"
# OSACA results, llvm-mca results and compiled blocks of unchanged inputs are reused from
# here (keyed by the content of everything they depend on; not part of the results).
OSACA_CACHE = ROOT / ".cache/armmodel/osaca.json"
MCA_CACHE = ROOT / ".cache/armmodel/llvm-mca.json"
COMPILE_CACHE = ROOT / ".cache/armmodel/compiled"
# Where the models' MACs/cycle differ by more than this, the report names the cause.
DISAGREE = 0.15
# x86 check: tier -> (llvm-mca -mcpu, OSACA model) pairs, every core either tool models
# from measurements, whatever this machine is (the committed JSON is host-independent);
# the error bar compares a measurement with the pair of the core it ran on (x86.host_core).
X86_MODELS = {
    "avx2": tuple((c, a) for a, c in x86.CORES.items()),
    "avx512": tuple((c, a) for a, c in x86.CORES.items() if a != "zen3"),
}
# The papers' ARMv8 measurements (shared/papers.md): the 2024 paper's machine is stated only
# as "ARMv8"; the group's related paper measured on a Cortex-A73, so that is the main column.
# Not reported, only compared: LLVM reuses its Cortex-A57 model for several later cores.
REFERENCE_CPUS = ("cortex-a57",)
PAPER = {
    "int4/int8": {"value": 1.5, "text": "1.5x", "source": "Trusov et al. 2020"},
    "int4/fp32": {"value": 2.9, "text": "2.9x", "source": "Trusov et al. 2020"},
    "4.6bit/int4": {"value": 0.96, "text": "0.96x (4% slower)", "source": "Trusov et al. 2024"},
    "4.6bit/int8": {
        "value": 1.55,
        "text": "1.5-1.6x (whole networks)",
        "source": "Trusov et al. 2024",
    },
}
PAPER_CPU = "cortex-a73"

# MACs one instruction performs, by mnemonic and arrangement of its destination/sources.
# Only multiplies count; everything else in a block is overhead the model charges in cycles.
MAC_RULES = (
    (re.compile(r"^fmla\s+v\d+\.4s"), 4),
    (re.compile(r"^mul\s+v\d+\.16b"), 16),
    (re.compile(r"^(s|u)(mull|mlal|mlsl)2?\s+v\d+\.8h"), 8),
    (re.compile(r"^(s|u)dot\s+v\d+\.4s"), 16),
    (re.compile(r"^(s|u|us)mmla\s+v\d+\.4s"), 32),
)


@dataclass
class Desc:
    name: str
    fmt: str
    tier: str
    mr: int
    nr: int
    ka: int
    kb: int
    a_elem: str
    b_elem: str
    a_offset: str
    acc_bits: int
    terms_per_step: int
    lane_unsigned: bool
    kc: int
    ukernel: str

    def kpad(self) -> int:
        import math

        return math.lcm(self.ka, 2 * self.kb if self.b_elem == "kU4" else self.kb)


# ---- sources ---------------------------------------------------------------------------


_DUMP: list[tuple[dict, ...]] = []


def registry_dump(jobs: int | None = None) -> tuple[dict, ...]:
    """The registry dump (kernels/tests_native/registry_dump.cpp): the library's own list of
    variants, the `registry_dump` target of the aarch64 graph (cmake_graph.py) built with
    compile_jobs(jobs) compiles at a time and run under QEMU user mode as its ctest test runs
    it; once per process."""
    if not _DUMP:
        out = cmake_graph.run_test_program("arm", "registry_dump", compile_jobs(jobs),
                                           {"QEMU_CPU": "max"})  # every tier's variants anyway
        _DUMP.append(tuple(json.loads(out)))
    return _DUMP[0]


def compile_jobs(workers: int | None = None) -> int:
    """Compiles at a time: CMAKE_BUILD_PARALLEL_LEVEL where set (as for cmake --build), else
    `workers` (--jobs), else the CPUs."""
    return int(os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or workers or os.cpu_count() or 1)


def read_descs(tier: str) -> list[Desc]:
    """The variants of a tier, from the registry dump: the one list of variants."""
    return [
        Desc(name=v["name"], fmt=v["format"], tier=v["tier"], mr=v["mr"], nr=v["nr"],
             ka=v["ka"], kb=v["kb"], a_elem=v["a_elem"], b_elem=v["b_elem"],
             a_offset=v["a_offset"], acc_bits=v["acc_bits"],
             terms_per_step=v["terms_per_step"], lane_unsigned=v["lane_unsigned"], kc=v["kc"],
             ukernel="")
        for v in registry_dump() if v["tier"] == tier
    ]


def main_descs(tier: str) -> list[Desc]:
    """The main tile of each format (the largest mr); the small-M companions share its
    packed B and are not modelled (GEMV speed is memory-bound, outside a cycle model)."""
    best: dict[str, Desc] = {}
    for d in read_descs(tier):
        if d.fmt not in best or d.mr > best[d.fmt].mr:
            best[d.fmt] = d
    return sorted(best.values(), key=lambda d: FORMATS.index(d.fmt))


def q46_params() -> dict:
    """4.6bit parameters the model's flush period is computed for: the library default."""
    import lowbit

    return lowbit.format_spec("4.6bit").params


def flush_period(d: Desc) -> int:
    """Same rule as the library (formats.cpp), over the library's value ranges: deepest kc a
    16-bit lane survives."""
    if d.acc_bits != 16:
        return 0
    import lowbit

    spec = lowbit.format_spec(d.fmt)  # 4.6bit: the default pair, as q46_params()
    x_lo, x_hi = spec.x_range
    if d.a_offset != "nullptr":  # q46_centre: activations re-centred to [-a, a]
        x_lo, x_hi = x_lo - x_hi // 2, x_hi - x_hi // 2
    amax = max(abs(x_lo), abs(x_hi))
    bmax = max(abs(v) for v in spec.w_range)
    step = d.terms_per_step * amax * bmax
    k = ((65535 if d.lane_unsigned else 32767) // step) * d.kb
    return k - k % d.kpad()


# ---- compile and extract ---------------------------------------------------------------

MARK_RE = re.compile(r"LLVM-MCA-(BEGIN|END)\s+(\S+)")


def compile_regions(tier: str, workdir: Path) -> dict[str, list[str]]:
    """The tier TU's LLVM-MCA blocks: its command from the aarch64 graph's
    compile_commands.json with -c -> -S and -DLOWBIT_MCA, nothing else changed but -o."""
    asm = workdir / f"{tier}.s"
    cmd = cmake_graph.tier_command("arm", tier)
    subprocess.run(cmd.derive(asm, "-S", ("-DLOWBIT_MCA",)), check=True, cwd=cmd.directory)
    regions: dict[str, list[str]] = {}
    cur = None
    for line in asm.read_text().splitlines():
        m = MARK_RE.search(line)
        if m:
            if m.group(1) == "BEGIN":
                if m.group(2) in regions:
                    raise SystemExit(
                        f"{tier}: block {m.group(2)} emitted twice; the model "
                        "needs exactly one copy of each loop body"
                    )
                cur = m.group(2)
                regions[cur] = []
            else:
                cur = None
            continue
        s = line.strip()
        if cur is None or not s or s.startswith(("//", "#", ".")) or s.endswith(":"):
            continue
        regions[cur].append(s.split("//")[0].strip())
    return regions


def macs_in(block: list[str]) -> int:
    total = 0
    for ins in block:
        for rule, macs in MAC_RULES:
            if rule.match(ins):
                total += macs
                break
    return total


# ---- llvm-mca --------------------------------------------------------------------------


def find_llvm_mca() -> str | None:
    for name in ("llvm-mca-19", "llvm-mca"):
        path = shutil.which(name)
        if path:
            return path
    return None


def mca_version(mca: str) -> str:
    out = subprocess.run([mca, "--version"], capture_output=True, text=True, check=True).stdout
    m = re.search(r"LLVM version (\S+)", out)
    return m.group(1) if m else out.strip().splitlines()[0]


INFO_RE = re.compile(r"^\s+\d+\s+\d+\s+([\d.]+)\s+[\s*U]*?([a-z]\w*)\b", re.MULTILINE)


def run_mca(
    mca: str, cpu: str, block: list[str], workdir: Path, tag: str, triple: str = "aarch64"
) -> dict:
    src = workdir / f"{tag}.s"
    src.write_text("\n".join(block) + "\n")
    attrs = ["-mattr=+dotprod,+i8mm"] if triple == "aarch64" else []
    out = subprocess.run(
        [
            mca,
            f"-mtriple={triple}",
            f"-mcpu={cpu}",
            *attrs,
            f"-iterations={ITERATIONS}",
            str(src),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    get = lambda key: float(re.search(rf"^{key}:\s+([\d.]+)", out, re.MULTILINE).group(1))
    # Reciprocal throughput summed per mnemonic (the instruction-info view): what a
    # disagreement between the models is traced to.
    # The view lists the block's instructions in order; name them by the block's own
    # mnemonics (llvm-mca prints some under other names: ldr as ldur, mov as movq).
    info = out[out.find("Instruction Info:") : out.find("Resources:")]
    rts = [float(rt) for rt, _ in INFO_RE.findall(info)]
    mnems = [ins.split()[0] for ins in block if not ins.endswith(":")]
    if len(rts) != len(mnems):
        raise SystemExit(f"{tag}: llvm-mca listed {len(rts)} instructions, block has {len(mnems)}")
    rthroughput: dict[str, float] = {}
    for mnem, rt in zip(mnems, rts):
        rthroughput[mnem] = round(rthroughput.get(mnem, 0.0) + rt, 3)
    return {
        "total_cycles": int(get("Total Cycles")),
        "iterations": int(get("Iterations")),
        "instructions": int(get("Instructions")) // int(get("Iterations")),
        "block_rthroughput": get("Block RThroughput"),
        "rthroughput": rthroughput,
    }


class Mca:
    """llvm-mca runs, in `workers` threads, each result cached by the tool's version, the
    core, the triple and the exact block: an unchanged kernel costs no run the next time."""

    def __init__(self, mca: str, workdir: Path, workers: int, cache: Path | None = MCA_CACHE):
        self.mca, self.work, self.cache_path = mca, workdir, cache
        self.version = mca_version(mca)
        self.known: dict = {}
        if cache is not None and cache.is_file():
            try:
                self.known = json.loads(cache.read_text())
            except ValueError:
                self.known = {}
        self.used: set[str] = set()
        self.pool = ThreadPoolExecutor(max_workers=workers)

    def submit(self, cpu: str, block: list[str], triple: str = "aarch64") -> Future:
        key = hashlib.sha256(
            json.dumps([self.version, cpu, triple, ITERATIONS, block]).encode()).hexdigest()
        self.used.add(key)
        if key in self.known:
            done: Future = Future()
            done.set_result(self.known[key])
            return done
        return self.pool.submit(self._run, key, cpu, block, triple)

    def _run(self, key: str, cpu: str, block: list[str], triple: str) -> dict:
        r = run_mca(self.mca, cpu, block, self.work, key[:24], triple)
        self.known[key] = r
        return r

    def close(self) -> None:
        self.pool.shutdown()
        if self.cache_path is not None:
            write_text(self.cache_path, json.dumps(
                {k: self.known[k] for k in sorted(self.used) if k in self.known}, sort_keys=True))


def sources_digest(cmd: cmake_graph.Command, version: str) -> str:
    """Hash of what a TU's compiled blocks depend on: every kernel source and header, the
    TU's command (from compile_commands.json) and its compiler's version."""
    h = hashlib.sha256(json.dumps([cmd.argv, str(cmd.directory), version]).encode())
    for path in sorted((ROOT / "kernels").rglob("*")):
        if path.is_file() and path.suffix in (".cpp", ".h", ".hpp", ".inc"):
            h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:20]


def cached_compile(kind: str, tier: str, digest: str, fn, *args):
    """fn(*args) (a tier's compiled blocks or disassembly, JSON data) once per digest."""
    path = COMPILE_CACHE / f"{kind}-{tier}-{digest}.json"
    if path.is_file():
        try:
            return json.loads(path.read_text())
        except ValueError:
            pass
    out = fn(*args)
    for old in COMPILE_CACHE.glob(f"{kind}-{tier}-*.json"):  # other sources' blocks
        old.unlink()
    write_text(path, json.dumps(out))
    return out


# ---- the model -------------------------------------------------------------------------


def r3(x: float) -> float:
    return float(f"{x:.3f}")


def build(
    mca: str,
    tiers: tuple[str, ...] = TIERS,
    x86_tiers: tuple[str, ...] = tuple(X86_MODELS),
    workers: int = 1,
) -> dict:
    jobs: list[tuple] = []  # OSACA analyses, run together at the end (in parallel)
    job_keys: list[tuple] = []
    mca_rt: dict[tuple, dict] = {}  # (kernel, cpu) -> llvm-mca rthroughput per mnemonic
    # Each TU's command from CMake's compile_commands.json (cmake_graph.py); the aarch64
    # graph's compiler names the toolchain even when no ARM tier is modelled.
    arm_cmds = {t: cmake_graph.tier_command("arm", t) for t in tiers}
    x86_cmds = {t: cmake_graph.tier_command("x86", t) for t in x86_tiers}
    arm_cxx = cmake_graph.tier_command("arm", TIERS[0]).compiler
    versions = {c: subprocess.run([c, "-dumpfullversion"], capture_output=True, text=True,
                                  check=True).stdout.strip()
                for c in {arm_cxx, *(c.compiler for c in x86_cmds.values())}}
    kernels = []
    with tempfile.TemporaryDirectory(prefix="armmodel-") as tmp:
        work = Path(tmp)
        # The compiles are most of the run time outside the models: all at once, and
        # not at all when no source, command or compiler changed.
        with ThreadPoolExecutor(max_workers=compile_jobs(workers)) as pool:
            dump_f = pool.submit(registry_dump, workers)  # for read_descs below
            arm_f = {t: pool.submit(cached_compile, "arm", t,
                                    sources_digest(c, versions[c.compiler]), compile_regions, t,
                                    work) for t, c in arm_cmds.items()}
            x86_f = {t: pool.submit(cached_compile, "x86", t,
                                    sources_digest(c, versions[c.compiler]), x86.disassemble, t,
                                    work) for t, c in x86_cmds.items()}
            compiled = {t: f.result() for t, f in arm_f.items()}
            disassembled = {t: f.result() for t, f in x86_f.items()}
            dump_f.result()
        mcas = Mca(mca, work, workers)
        for tier in tiers:
            regions = compiled[tier]
            for d in main_descs(tier):
                loop_name = block_for(d, regions)
                loop, epi = regions[loop_name], regions.get(loop_name + "/epilogue")
                if not epi:
                    raise SystemExit(f"no epilogue block for {d.name}")
                macs = macs_in(loop)
                if macs % (d.mr * d.nr):
                    raise SystemExit(
                        f"{d.name}: {macs} MACs per iteration is not a whole "
                        f"number of k for a {d.mr}x{d.nr} tile"
                    )
                flush = flush_period(d)
                call_k = min(d.kc - d.kc % d.kpad(), flush) if flush else d.kc - d.kc % d.kpad()
                k_iter = macs // (d.mr * d.nr)
                entry = {
                    "kernel": d.name,
                    "format": d.fmt,
                    "tier": d.tier,
                    "mr": d.mr,
                    "nr": d.nr,
                    "block": loop_name,
                    "k_per_iteration": k_iter,
                    "macs_per_iteration": macs,
                    "loop_instructions": len(loop),
                    "epilogue_instructions": len(epi),
                    "acc_bits": d.acc_bits,
                    "flush_period": flush or None,
                    "call_k": call_k,
                    "iterations_per_call": call_k // k_iter,
                    "cpus": {},
                }
                runs = {cpu: (mcas.submit(cpu, loop), mcas.submit(cpu, epi))
                        for cpu, feats in CPUS.items() if tier in feats}
                for cpu, (lf, ef) in runs.items():
                    lp, ep = lf.result(), ef.result()
                    mca_rt[(d.name, cpu)] = lp["rthroughput"]
                    loop_cyc = lp["total_cycles"] / lp["iterations"]
                    epi_cyc = ep["total_cycles"] / ep["iterations"]
                    eff = loop_cyc + epi_cyc / entry["iterations_per_call"]
                    entry["cpus"][cpu] = {
                        "loop_cycles_per_iteration": r3(loop_cyc),
                        "loop_block_rthroughput": r3(lp["block_rthroughput"]),
                        "epilogue_cycles": r3(epi_cyc),
                        "cycles_per_iteration": r3(eff),
                        "macs_per_cycle_loop": r3(macs / loop_cyc),
                        "macs_per_cycle": r3(macs / eff),
                        "epilogue_overhead_pct": r3(100.0 * (eff - loop_cyc) / loop_cyc),
                    }
                entry["osaca"] = {}
                for arch, cpu in OSACA_CPUS.items():
                    if tier in CPUS[cpu]:
                        jobs += [(loop, arch, True), (epi, arch, False)]
                        job_keys += [(entry, arch, "loop"), (entry, arch, "epilogue")]
                if tier == "neon":
                    refs = {cpu: mcas.submit(cpu, loop).result() for cpu in REFERENCE_CPUS}
                    entry["reference_loop_cycles"] = {
                        cpu: r3(r["total_cycles"] / r["iterations"]) for cpu, r in refs.items()
                    }
                kernels.append(entry)
        x86_part = (build_x86(mcas, x86_cmds, versions, jobs, job_keys, mca_rt, disassembled)
                    if x86_tiers else None)
        mcas.close()
    results = osaca_model.analyse_all(jobs, workers, OSACA_CACHE)
    pending: dict[tuple, dict] = {}
    osaca_rt: dict[tuple, dict] = {}
    for (entry, arch, part), res in zip(job_keys, results):
        if part == "x86":
            entry["osaca"][arch] = osaca_figures(entry, res)
            osaca_rt[(entry["kernel"], arch)] = res["rthroughput"]
            continue
        pending.setdefault((id(entry), arch), {"entry": entry, "arch": arch})[part] = res
    for p in pending.values():
        p["entry"]["osaca"][p["arch"]] = osaca_figures(p["entry"], p["loop"], p["epilogue"])
        osaca_rt[(p["entry"]["kernel"], p["arch"])] = p["loop"]["rthroughput"]
    comparisons = compare_models(
        [(k, arch, cpu) for k in kernels for arch, cpu in OSACA_CPUS.items() if arch in k["osaca"]],
        mca_rt,
        osaca_rt,
    )
    if x86_part is not None:
        comparisons += compare_models(
            [(k, arch, cpu) for k in x86_part["kernels"] for cpu, arch in X86_MODELS[k["tier"]]],
            mca_rt,
            osaca_rt,
        )
    return {
        "schema": "lowbit-arm-model/2",
        "toolchain": {
            "cxx": f"{Path(arm_cxx).name} {versions[arm_cxx]}",
            "llvm_mca": mca_version(mca),
            "iterations": ITERATIONS,
            "flags": {t: c.flags() for t, c in arm_cmds.items()},
        },
        "q46_params": q46_params(),
        "cpus": {cpu: list(feats) for cpu, feats in CPUS.items()},
        "kernels": kernels,
        "speedups": speedups(kernels),
        "paper": PAPER,
        "paper_cpu": PAPER_CPU,
        "identical_models": identical_models(kernels),
        "osaca": {
            "version": osaca_model.version(),
            "cpus": {arch: {"llvm_mca_cpu": cpu, "tiers": list(CPUS[cpu])}
                     for arch, cpu in OSACA_CPUS.items()},
            "paper_cpu": OSACA_PAPER_CPU,
            "speedups": speedups(kernels, "osaca", list(OSACA_CPUS)),
            "overlays": overlays(),
        },
        "comparisons": comparisons,
        "x86": x86_part,
    }


def overlays() -> dict:
    """The forms ci/armmodel/osaca_overlay/ adds to OSACA's tables, for the report."""
    out = {}
    for arch in list(OSACA_CPUS) + list(x86.CORES):
        doc = osaca_model.overlay(arch)
        if doc:
            out[arch] = {
                "status": doc["status"],
                "source": doc["source"],
                "forms": [
                    {"names": f["name"] if isinstance(f["name"], list) else [f["name"]],
                     "operands": osaca_model.operand_text(f["operands"]),
                     "group": f.get("group"), "latency": f["latency"],
                     "throughput": f["throughput"],
                     "ports": " + ".join(f"{c}x[{p}]" for c, p in f["port_pressure"])}
                    for f in doc["instruction_forms"]
                ],
            }
    return out


def osaca_figures(entry: dict, loop: dict, epi: dict | None = None) -> dict:
    """The llvm-mca figures' counterparts from OSACA's loop (and epilogue) analyses."""
    macs = entry["macs_per_iteration"]
    loop_cyc = loop["cycles"]
    eff = loop_cyc + (epi["cycles"] / entry["iterations_per_call"] if epi else 0.0)
    out = {
        "loop_cycles_per_iteration": r3(loop_cyc),
        "throughput_cycles": r3(loop["throughput_cycles"]),
        "lcd_cycles": r3(loop["lcd_cycles"]),
        "bound": loop["bound"],
        "cycles_per_iteration": r3(eff),
        "macs_per_cycle_loop": r3(macs / loop_cyc) if loop_cyc else None,
        "macs_per_cycle": r3(macs / eff) if eff else None,
        # Instructions the machine model has no data for: charged 0 cycles, so the cycles
        # are a lower bound (MACs/cycle an upper bound) unless this is empty.
        "unknown": loop["unknown"],
        "unknown_instructions": sum(loop["unknown"].values()),
        "complete": not loop["unknown"],
        "lcd_mnemonic": loop["lcd_mnemonic"],
        "busiest_port_mnemonics": loop["busiest_port_mnemonics"],
    }
    if epi:
        out["epilogue_cycles"] = r3(epi["cycles"])
        out["epilogue_unknown"] = epi["unknown"]
    return out


def compare_models(pairs: list[tuple], mca_rt: dict, osaca_rt: dict) -> list[dict]:
    """For each (kernel, OSACA model, llvm-mca cpu): both MACs/cycle, their ratio and, past
    DISAGREE, the instruction behind it: the mnemonic whose summed reciprocal throughput per
    iteration differs most between the models (an instruction OSACA lacks counts 0 there),
    or OSACA's loop-carried dependency when that is what bounds OSACA's prediction."""
    out = []
    for k, arch, cpu in pairs:
        o, m = k["osaca"][arch], k["cpus"][cpu]
        om, mm = o["macs_per_cycle"], m["macs_per_cycle"]
        ratio = r3(om / mm) if om and mm else None
        row = {
            "id": f"{k['kernel']} {arch}/{cpu}",  # the regression gate's label
            "kernel": k["kernel"],
            "osaca_cpu": arch,
            "llvm_mca_cpu": cpu,
            "osaca_macs_per_cycle": om,
            "llvm_mca_macs_per_cycle": mm,
            "osaca_over_llvm_mca": ratio,
            "osaca_complete": o["complete"],
            "disagree": ratio is None or abs(ratio - 1.0) > DISAGREE,
            "cause": None,
        }
        if row["disagree"]:
            ort, mrt = osaca_rt[(k["kernel"], arch)], mca_rt[(k["kernel"], cpu)]
            if o["bound"] == "lcd" and o["lcd_cycles"] > m["loop_cycles_per_iteration"]:
                row["cause"] = (
                    f"`{o['lcd_mnemonic']}`: OSACA's loop-carried dependency through it takes "
                    f"{o['lcd_cycles']} cycles per iteration, llvm-mca's whole loop "
                    f"{m['loop_cycles_per_iteration']}"
                )
            else:
                # The mnemonic that pulls the way the models disagree: where OSACA predicts
                # more MACs/cycle, the one llvm-mca charges most over OSACA; else the reverse.
                sign = 1.0 if ratio is not None and ratio > 1.0 else -1.0
                mn = max(sorted(set(ort) | set(mrt)),
                         key=lambda x: sign * (mrt.get(x, 0.0) - ort.get(x, 0.0)))
                lacks = mn in o["unknown"]
                gap = abs(m["loop_cycles_per_iteration"] - o["loop_cycles_per_iteration"])
                diff = abs(mrt.get(mn, 0.0) - ort.get(mn, 0.0))
                row["cause"] = (
                    f"no single instruction: the largest difference the disagreement's way is "
                    f"`{mn}`, {r3(ort.get(mn, 0.0))} cycles per iteration in OSACA and "
                    f"{r3(mrt.get(mn, 0.0))} in llvm-mca, {r3(diff)} of the {r3(gap)}-cycle gap "
                    "between their loop predictions (the rest: how each schedules the whole loop)"
                    if not lacks and diff < 0.25 * gap else None
                ) or (
                    f"`{mn}` (x{o['unknown'][mn]}): not in OSACA's {arch} model, counted 0 "
                    f"cycles; llvm-mca charges {r3(mrt.get(mn, 0.0))}"
                    if lacks
                    else f"`{mn}`: {r3(ort.get(mn, 0.0))} cycles per iteration in OSACA, "
                    f"{r3(mrt.get(mn, 0.0))} in llvm-mca (summed reciprocal throughput)"
                )
        out.append(row)
    return out


def build_x86(mcas: Mca, cmds: dict[str, cmake_graph.Command], versions: dict[str, str],
              jobs: list, job_keys: list, mca_rt: dict, disassembled: dict) -> dict:
    """The x86 k loops through both models (ci/armmodel/x86.py); OSACA's runs are queued
    on jobs/job_keys like the ARM ones."""
    kernels = []
    tiers, cxx = tuple(cmds), next(iter(cmds.values())).compiler  # one compiler per graph
    for e in x86.extract(tiers, disassembled):
        block = e.pop("block")
        e["kernel"] = f"{e['function']} ({e['tier']})"
        e["iterations_per_call"] = 1
        e["cpus"], e["osaca"] = {}, {}
        runs = {cpu: mcas.submit(cpu, block, "x86_64") for cpu, _ in X86_MODELS[e["tier"]]}
        for cpu, arch in X86_MODELS[e["tier"]]:
            r = runs[cpu].result()
            cyc = r["total_cycles"] / r["iterations"]
            mca_rt[(e["kernel"], cpu)] = r["rthroughput"]
            e["cpus"][cpu] = {
                "loop_cycles_per_iteration": r3(cyc),
                "macs_per_cycle": r3(e["macs_per_iteration"] / cyc),
            }
            jobs.append((block, arch, True))
            job_keys.append((e, arch, "x86"))
        kernels.append(e)
    return {
        "cxx": f"{Path(cxx).name} {versions[cxx]}",
        "flags": {t: c.flags() for t, c in cmds.items()},
        "models": {t: [list(p) for p in X86_MODELS[t]] for t in tiers},
        "kernels": kernels,
    }


def block_for(d: Desc, regions: dict[str, list[str]]) -> str:
    """A kernel's blocks carry its name; int8 and 4.6bit may share one signed micro-kernel
    whose blocks are named qs8_... (dotprod)."""
    for name in (d.name, "qs8_" + d.name.split("_", 1)[1]):
        if name in regions:
            return name
    raise SystemExit(f"no LLVM-MCA block for {d.name}")


def speedups(kernels: list[dict], key: str = "cpus", cpus: list[str] | None = None) -> dict:
    """Per core: ratios of predicted MACs/cycle, within the neon tier (the papers' setting:
    no dotprod) and with each format's best tier on that core.  key: "cpus" (llvm-mca) or
    "osaca"."""
    out = {}
    for cpu in cpus or list(CPUS):
        by = {
            (k["format"], k["tier"]): k[key][cpu]["macs_per_cycle"]
            for k in kernels
            if cpu in k[key] and k[key][cpu]["macs_per_cycle"]
        }
        sets = {"neon": {f: by[(f, "neon")] for f in FORMATS if (f, "neon") in by}}
        best = {}
        for f in FORMATS:
            cands = [(v, t) for (ff, t), v in by.items() if ff == f]
            if cands:
                best[f] = max(cands)
        sets["best"] = {f: v for f, (v, _) in best.items()}
        out[cpu] = {"best_tier": {f: t for f, (_, t) in sorted(best.items())}}
        for label, mpc in sets.items():
            out[cpu][label] = {
                ratio: r3(mpc[a] / mpc[b])
                for ratio, (a, b) in {
                    "int4/int8": ("int4", "int8"),
                    "int4/fp32": ("int4", "fp32"),
                    "4.6bit/int4": ("4.6bit", "int4"),
                    "4.6bit/int8": ("4.6bit", "int8"),
                }.items()
                if a in mpc and b in mpc
            }
    return out


def identical_models(kernels: list[dict]) -> list[list[str]]:
    """Groups of -mcpu names (reference cores included) whose neon loop blocks all got the
    same llvm-mca cycles: one scheduling model behind several names."""
    neon = [k for k in kernels if k["tier"] == "neon"]
    sig = {cpu: tuple(k["cpus"][cpu]["loop_cycles_per_iteration"] for k in neon) for cpu in CPUS}
    for cpu in REFERENCE_CPUS:
        sig[cpu] = tuple(k["reference_loop_cycles"][cpu] for k in neon)
    groups: dict[tuple, list[str]] = {}
    for cpu, s in sig.items():
        groups.setdefault(s, []).append(cpu)
    return [g for g in groups.values() if len(g) > 1]


# ---- report ----------------------------------------------------------------------------


NOT_RUNNABLE = (
    "n/a: the kernel cannot run on that core, which lacks the tier's instructions (the "
    "Cortex-A53/A72/A73 and A64FX are ARMv8.0-8.2 without the dot product: no `sdot`/`udot`; "
    "only the Neoverse-N2/V2 have `smmla`/`ummla`/`usmmla`), so there is nothing to predict."
)

RATIOS = {
    "int4/int8": ("int4", "int8"),
    "int4/fp32": ("int4", "fp32"),
    "4.6bit/int4": ("4.6bit", "int4"),
    "4.6bit/int8": ("4.6bit", "int8"),
}


def fallback_cpus(m: dict) -> set[str]:
    """llvm-mca names that are LLVM's Cortex-A57 model under another name."""
    return {c for g in m["identical_models"] if "cortex-a57" in g for c in g} - {"cortex-a57"}


def osaca_cell(o: dict | None, value: str = "macs_per_cycle") -> str:
    if o is None:
        return "n/a"
    v = o[value]
    return "-" if v is None else (f"{v}" if o["complete"] else f"{v}*")


def complete_formats(m: dict, arch: str, tier: str = "neon") -> dict[str, bool]:
    return {k["format"]: k["osaca"][arch]["complete"] for k in m["kernels"]
            if k["tier"] == tier and arch in k["osaca"]}


def x86_rows(m: dict, measured: dict | None) -> tuple[list[list], dict[str, list[float]]]:
    """Rows of the x86 check and each model's errors against the measurement: the models of
    the core the measurement ran on (x86.host_core), no other core's."""
    rows, errors = [], {}
    got = (measured or {}).get("results", {})
    core = (measured or {}).get("core")
    for k in m["x86"]["kernels"]:
        meas = got.get(f"{k['tier']}/{k['format']}")
        for cpu, arch in X86_MODELS[k["tier"]]:
            if arch != core:
                continue
            for model, name, pred in (
                ("llvm-mca", cpu, k["cpus"][cpu]["macs_per_cycle"]),
                ("OSACA", arch, k["osaca"][arch]["macs_per_cycle"]),
            ):
                complete = model == "llvm-mca" or k["osaca"][arch]["complete"]
                err = None
                if meas and pred:
                    err = 100.0 * (pred / meas["macs_per_cycle"] - 1.0)
                    if complete:
                        errors.setdefault(f"{model} {name}", []).append(abs(err))
                rows.append([
                    k["kernel"], k["format"], f"{model} {name}",
                    pred if complete else f"{pred}*",
                    meas["macs_per_cycle"] if meas else "not run here",
                    "-" if err is None else f"{err:+.0f}%",
                ])
    return rows, errors


def x86_ratio_rows(m: dict, measured: dict) -> list[list]:
    """Per x86 tier: the papers' ratios as each model of the measured core predicts them
    and as measured, with each prediction's error."""
    core, got = measured.get("core"), measured.get("results", {})
    rows = []
    for tier in sorted({k["tier"] for k in m["x86"]["kernels"]}):
        ks = {k["format"]: k for k in m["x86"]["kernels"] if k["tier"] == tier}
        meas = {f: got[f"{tier}/{f}"]["macs_per_cycle"] for f in ks if f"{tier}/{f}" in got}
        for cpu, arch in X86_MODELS[tier]:
            if arch != core:
                continue
            for model, get in (("llvm-mca " + cpu, lambda k: k["cpus"][cpu]["macs_per_cycle"]),
                               ("OSACA " + arch, lambda k: k["osaca"][arch]["macs_per_cycle"]
                                if k["osaca"][arch]["complete"] else None)):
                cells = []
                for a, b in RATIOS.values():
                    pa, pb = get(ks[a]), get(ks[b])
                    if pa and pb and a in meas and b in meas:
                        pr, mr = pa / pb, meas[a] / meas[b]
                        cells.append(f"{pr:.2f} ({100 * (pr / mr - 1):+.0f}%)")
                    else:
                        cells.append("-")
                rows.append([tier, model] + cells)
        if meas:
            rows.append([tier, "measured"] + [
                f"{meas[a] / meas[b]:.2f}" if a in meas and b in meas else "-"
                for a, b in RATIOS.values()])
    return rows


def load_pair(measured: dict) -> list:
    """(before, after) 1-minute load average of a measurement (older files: one number)."""
    after = measured.get("load_average")
    after = after[0] if isinstance(after, list) else after
    before = measured.get("load_average_before")
    return [before[0] if before else "?", after]


def markdown(m: dict, measured: dict | None = None) -> str:
    from tabulate import tabulate  # the project's table library (bench extra)

    tab = lambda rows, headers: tabulate(rows, headers=headers, tablefmt="github")
    fb = fallback_cpus(m)
    ratios = list(PAPER)
    lines = [
        "# ARM cycle models of the aarch64 micro-kernels",
        "",
        "Generated by `make arm-model` (ci/armmodel/model.py); do not edit by hand.",
        (
            f"Compiler: `{m['toolchain']['cxx']}`; llvm-mca {m['toolchain']['llvm_mca']}, "
            f"{m['toolchain']['iterations']} iterations per block; OSACA {m['osaca']['version']}; "
            f"4.6bit with N_x={m['q46_params']['act_levels']}, "
            f"N_w={m['q46_params']['weight_levels']}."
        ),
        "",
        (
            "**What this is.** Each micro-kernel's inner-loop body, as GCC compiles it with the "
            "library's flags, run through two independent throughput models of each core: "
            "llvm-mca's scheduling models (LLVM's tables) and OSACA's machine models (tables "
            "of port usage and latency measured on the hardware: OSACA's Cortex-A72 model was "
            "measured on a Raspberry Pi 4). Both predict steady-state cycles per iteration with "
            "every load hitting L1 (OSACA: the larger of its port-pressure bound and its longest "
            "loop-carried dependency). The once-per-call epilogue (16->32-bit widening for the "
            "low-bit kernels, C tile update for all) is modelled the same way (OSACA with its "
            "fixed port probabilities) and amortized over the depth the driver gives one call "
            "(`call_k`: the flush period for 16-bit kernels, the descriptor's kc otherwise)."
        ),
        "",
        (
            "**What it is not.** No cache or memory effects, no packing, no driver loops, no "
            "edge tiles, no threading; a model of a core is not the core. Numbers are "
            "predictions to compare kernels with each other, not measurements. QEMU runs check "
            "correctness only and are never ARM performance. How far the same two models are "
            "from a measurement is checked on this machine's x86 kernels at the end: that is "
            "the error bar of every prediction here."
        ),
        "",
        (
            "**OSACA's gaps.** An instruction form missing from an OSACA machine model costs 0 "
            "cycles there, so a prediction marked `*` is a lower bound on cycles (an upper "
            "bound on MACs/cycle) and its ratios are not predictions. OSACA 0.7.1's AArch64 "
            "tables lack most integer SIMD forms these kernels use (pairwise accumulate "
            "`uadalp`/`sadalp`, widening `smull`/`smlal`, `dup` by element, the dot products "
            "and matrix multiplies); its x86 tables lack `vpmaddwd` and `vpmaddubsw`. Where "
            "ci/armmodel/osaca_overlay/ has a file for a model, the missing forms are added to "
            "a copy of OSACA's table (OSACA's own entries unchanged), each labelled with its "
            "source (listed at the end); the mnemonics still missing in each block are listed "
            "below."
        ),
        "",
    ]
    for group in m["identical_models"]:
        lines.append(
            f"- llvm-mca: `{', '.join(group)}` gave identical cycles for every neon loop: this "
            "LLVM has one scheduling model behind these names. LLVM has no Cortex-A72, A73 "
            "or A76 model of its own and uses its Cortex-A57 model for them: those columns "
            "are **fallbacks** (marked `A57 fallback`), kept for comparison (in that model "
            "every ASIMD integer multiply issues on one pipe and a 16-lane byte MUL holds it "
            "for 2 cycles, so any 8-bit multiply scheme tops out at 8 MACs/cycle)."
        )
    lines += [
        (
            "- Neoverse-N1 is the server sibling of the Cortex-A76 (same core design) and has "
            "its own models in both tools: it is the better proxy for an A76."
        ),
        "- Neoverse-N2 and V2 (ARMv9) are added for the i8mm tier.",
        "",
    ]

    # ---- the papers' core first
    pc = m["osaca"]["paper_cpu"]
    pc_mca = m["osaca"]["cpus"][pc]["llvm_mca_cpu"]
    ok = complete_formats(m, pc)
    rows = []
    for label, src, cpu in (
        (f"**Cortex-A72, OSACA `{pc}`"
         + (" + documented overlay" if pc in m["osaca"].get("overlays", {}) else "")
         + " (closest model to the papers' core)**", "osaca", pc),
        (f"Cortex-A72, llvm-mca `{pc_mca}` (A57 fallback)", "llvm", pc_mca),
        ("Cortex-A73, llvm-mca (A57 fallback)", "llvm", PAPER_CPU),
        ("Neoverse-N1, llvm-mca (the A76's design)", "llvm", "neoverse-n1"),
    ):
        sp = (m["osaca"]["speedups"] if src == "osaca" else m["speedups"])[cpu]["neon"]
        cells = []
        for r in ratios:
            a, b = RATIOS[r]
            v = sp.get(r, "-")
            cells.append(v if src != "osaca" or (ok.get(a) and ok.get(b)) else f"({v})*")
        rows.append([label] + cells)
    rows.append(["papers (measured)"] + [PAPER[r]["text"] for r in ratios])
    lines += [
        "## The papers' core: Cortex-A72 next to the papers",
        "",
        (
            "The papers measured on an ARMv8 phone core, most likely a Cortex-A73 "
            "(shared/papers.md). Neither tool models an A73; the closest model built from "
            "measurements is OSACA's Cortex-A72 (the A73's predecessor in the same class: "
            "2-wide ASIMD, one integer-multiply pipe). Base NEON tier, as in the papers; "
            "ratios of predicted MACs/cycle; the 4.6bit/int8 figure of the papers is for whole "
            "networks."
        ),
        "",
        tab(rows, ["model", *ratios]),
        "",
        (
            "How independent the A72 row is: the fp32 loop and the byte `mul` that bounds the "
            "int4 and 4.6bit loops (2 cycles on the one ASIMD multiply port) are OSACA's "
            "measured entries (a Raspberry Pi 4); the widening multiplies that bound the int8 "
            "loop (1 per cycle on the same port), the pairwise accumulates and the `dup`s come "
            "from the overlay, transcribed from Arm's Cortex-A72 optimization guide, the same "
            "kind of Arm document LLVM's Cortex-A57 model was built from, so the int8 figure "
            "agreeing with the A57-fallback column is expected rather than a second opinion. "
            "Both put int4 at the int8 rate on this core: 8 MACs/cycle on the one multiply "
            "port either way, so neither reproduces the papers' 1.5x."
            if pc in m["osaca"].get("overlays", {}) else ""
        ),
        "",
        (
            "Every tier above the base one needs ARMv8.2 or later: the dotprod and i8mm "
            "kernels (`sdot`/`udot`, `smmla`/`ummla`/`usmmla`) cannot run on a Cortex-A72 or "
            "A73 (ARMv8.0), so these rows are all there is for the papers' core."
        ),
        "",
        (
            "`(x)*`: a ratio over a kernel whose loop has instructions missing from OSACA's "
            f"`{pc}` model, not a prediction; none is left when OSACA's table and the overlay "
            f"of documented forms (listed at the end) cover every instruction. OSACA `{pc}` "
            "neon loops: "
            + "; ".join(
                f"{k['kernel']}: {k['osaca'][pc]['unknown_instructions']} of "
                f"{k['loop_instructions']} instructions unknown"
                + (f" ({', '.join(f'`{x}` x{n}' for x, n in k['osaca'][pc]['unknown'].items())})"
                   if k["osaca"][pc]["unknown"] else "")
                for k in m["kernels"] if k["tier"] == "neon"
            )
            + "."
        ),
        "",
    ]

    # ---- llvm-mca table
    cpus = list(m["cpus"])
    head = [f"{c} (A57 fallback)" if c in fb else c for c in cpus]
    rows = [
        [k["kernel"], k["format"], k["tier"], k["flush_period"] or "-", k["call_k"]]
        + [k["cpus"][c]["macs_per_cycle"] if c in k["cpus"] else "n/a" for c in cpus]
        for k in m["kernels"]
    ]
    lines += [
        "## llvm-mca: predicted MACs per cycle (with epilogue)",
        "",
        tab(rows, ["kernel", "format", "tier", "flush", "call_k", *head]),
        "",
        NOT_RUNNABLE,
        "",
    ]

    # ---- OSACA table, side by side with the same core in llvm-mca
    archs = list(m["osaca"]["cpus"])
    rows = []
    for k in m["kernels"]:
        row = [k["kernel"]]
        for a in archs:
            c = m["osaca"]["cpus"][a]["llvm_mca_cpu"]
            o = k["osaca"].get(a)
            row.append("n/a" if o is None else f"{osaca_cell(o)} / {k['cpus'][c]['macs_per_cycle']}")
        rows.append(row)
    lines += [
        "## Both models side by side: MACs per cycle, OSACA / llvm-mca",
        "",
        tab(rows, ["kernel"] + [
            f"{a} / {m['osaca']['cpus'][a]['llvm_mca_cpu']}"
            + (" (A57 fallback)" if m["osaca"]["cpus"][a]["llvm_mca_cpu"] in fb else "")
            for a in archs]),
        "",
        "`*`: OSACA lacks some of the loop's instructions (a lower bound on cycles). "
        + NOT_RUNNABLE,
        "",
        "Instructions of each loop missing from OSACA's models (count per iteration):",
        "",
    ]
    for k in m["kernels"]:
        miss = "; ".join(
            f"{a}: " + ", ".join(f"`{x}` x{n}" for x, n in o["unknown"].items())
            for a, o in k["osaca"].items() if o["unknown"]
        )
        lines.append(f"- {k['kernel']}: {miss or 'none'}")
    lines.append("")

    # ---- disagreements
    rows = [
        [c["kernel"], f"{c['osaca_cpu']} / {c['llvm_mca_cpu']}", c["osaca_macs_per_cycle"]
         if c["osaca_complete"] else f"{c['osaca_macs_per_cycle']}*",
         c["llvm_mca_macs_per_cycle"], c["osaca_over_llvm_mca"], c["cause"]]
        for c in m["comparisons"] if c["disagree"]
    ]
    n_all = len(m["comparisons"])
    lines += [
        f"## Where the models disagree by more than {int(DISAGREE * 100)}%",
        "",
        (
            f"{len(rows)} of {n_all} (kernel, core) pairs, x86 included. The cause named is the "
            "instruction whose summed reciprocal throughput per iteration differs most between "
            "the two models in the direction of the disagreement (where OSACA predicts more "
            "MACs/cycle, the one llvm-mca charges more for; an instruction OSACA lacks counts 0 "
            "there), or OSACA's loop-carried dependency where that bounds its prediction."
        ),
        "",
        tab(rows, ["kernel", "OSACA / llvm-mca", "OSACA", "llvm-mca", "ratio", "instruction"]),
        "",
    ]
    agree = [c for c in m["comparisons"] if not c["disagree"]]
    if agree:
        lines += [
            "Within 15%: " + "; ".join(
                f"{c['kernel']} on {c['osaca_cpu']}/{c['llvm_mca_cpu']} "
                f"({c['osaca_over_llvm_mca']})" for c in agree) + ".",
            "",
        ]

    # ---- speedups, both models
    rows = []
    for cpu in cpus:
        for label in ("neon", "best"):
            vals = m["speedups"][cpu].get(label, {})
            if label == "best" and vals == m["speedups"][cpu]["neon"]:
                continue
            name = f"{cpu} (A57 fallback)" if cpu in fb else cpu
            rows.append([f"llvm-mca {name}", label] + [vals.get(r, "-") for r in ratios])
    for a in archs:
        for label in ("neon", "best"):
            sp = m["osaca"]["speedups"][a]
            vals = sp.get(label, {})
            if label == "best" and vals == sp["neon"]:
                continue
            tiers_used = sp["best_tier"] if label == "best" else {f: "neon" for f in FORMATS}
            ok = {k["format"]: k["osaca"][a]["complete"] for k in m["kernels"]
                  if a in k["osaca"] and k["tier"] == tiers_used.get(k["format"])}
            cells = []
            for r in ratios:
                x, y = RATIOS[r]
                v = vals.get(r, "-")
                cells.append(v if ok.get(x) and ok.get(y) else f"({v})*")
            rows.append([f"OSACA {a}", label] + cells)
    rows.append(["paper", "(measured)"] + [PAPER[r]["text"] for r in ratios])
    lines += [
        "## Predicted speedups next to the papers, every core",
        "",
        (
            "Ratios of predicted MACs/cycle. `neon`: every format on the base NEON tier "
            "(the papers' setting, no dotprod); `best`: each format on the best tier the core "
            "has. `(x)*`: OSACA lacks instructions of one of the two kernels."
        ),
        "",
        tab(rows, ["model / core", "tiers", *ratios]),
        "",
    ]

    # ---- x86 check
    if m.get("x86"):
        rows, errors = x86_rows(m, measured)
        core = (measured or {}).get("core")
        mcpu = x86.CORES.get(core)
        lines += [
            "## The error bar: both models against a measurement on this machine (x86)",
            "",
            (
                "The same two models on x86 kernels of this library, against a measurement of "
                "them: the main tiles of the avx2 and avx512 tiers. The k loop is taken from "
                "the tier's object code (ci/armmodel/x86.py), loop only, no epilogue. Both "
                "models of every core in ci/armmodel/x86.py's CORES are in "
                "reports/arm-model.json; the core the measurement ran on is found from "
                "/proc/cpuinfo's vendor and feature flags (x86.host_core) and only its two "
                "models are compared with it"
                + (f": **{measured.get('cpu')}, OSACA `{core}` / llvm-mca `{mcpu}`**. "
                   if core else ": the measurement's core is none of those, so no error bar. ")
                + "Measured (`make arm-model-report`): `lowbit.matmul`, one thread, "
                + (
                    f"M, N, K = {measured['shape']['M']}, {measured['shape']['N']}, "
                    f"{measured['shape']['K']} (cache-resident), best of {measured['repeats']} "
                    f"interleaved repeats of {measured['calls_per_repeat']} calls"
                    + (f" in each of {measured['rounds']} rounds, the best round kept (spread "
                       "between rounds, the noise of this measurement: up to "
                       f"{max(r['spread_pct'] for r in measured['results'].values()):.0f}%)"
                       if measured.get("rounds") and measured["results"] else "")
                    + f"; cycles from a {measured['clock_ghz']} GHz clock measured by chains "
                    "of dependent register adds and imuls in the same run; load average "
                    f"{' / '.join(map(str, load_pair(measured)))} (1 min, before / after). "
                    "The measurement includes what the models leave out "
                    "(driver, packing of A, epilogue, C stores), so a model that predicts the "
                    "loop exactly still comes out a little optimistic."
                    if measured
                    else "no measurement (run `make arm-model-report` on an x86 machine)."
                )
            ),
            "",
            tab(rows, ["kernel", "format", "model", "predicted MACs/cycle",
                       "measured MACs/cycle", "error"]),
            "",
        ]
        if measured:
            lines += [
                "Error of each model against the measurement (|predicted/measured - 1| over "
                "the kernels it models completely; `*` rows, where OSACA lacks the multiply, "
                "are left out):",
                "",
            ]
            for name, errs in sorted(errors.items()):
                lines.append(
                    f"- {name}: {len(errs)} kernel(s), median {sorted(errs)[len(errs) // 2]:.0f}%"
                    f", max {max(errs):.0f}%"
                )
            for n in [f"{t} {c}" for t, c in (("llvm-mca", mcpu), ("OSACA", core))
                      if core and f"{t} {c}" not in errors]:
                lines.append(f"- {n}: no complete kernel (its table lacks the integer multiplies)")
            if measured.get("skipped"):
                lines.append(
                    "- not measured here: " + ", ".join(
                        f"{k} ({v})" for k, v in sorted(measured["skipped"].items()))
                )
            rrows = x86_ratio_rows(m, measured)
            lines += [
                "",
                (
                    "The ARM figures the papers compare are ratios, so the error that matters "
                    "most is that of a predicted ratio. The same ratios on this machine, each "
                    "tier's kernels against each other, predicted and measured:"
                ),
                "",
                tab(rrows, ["tier", "model", *ratios]),
                "",
                (
                    "Read the ARM predictions with these errors: the x86 check is the only "
                    "measurement either model is held to here."
                ),
                "",
            ]

    # ---- overlays
    for arch, ov in m["osaca"].get("overlays", {}).items():
        lines += [
            f"## OSACA `{arch}`: forms added by ci/armmodel/osaca_overlay/{arch}.yml "
            f"({ov['status']})",
            "",
            f"Source: {ov['source']}.",
            "",
            tab([[", ".join(f"`{n}`" for n in f["names"]), f["operands"], f["latency"],
                  f["throughput"], f["ports"], f["group"] or ""] for f in ov["forms"]],
                ["instructions", "operands", "latency", "cycles/instr", "ports", "source row"]),
            "",
        ]

    # ---- loop detail (llvm-mca)
    rows = [
        [k["kernel"], k["macs_per_iteration"], k["loop_instructions"]]
        + [
            f"{k['cpus'][c]['loop_cycles_per_iteration']} / {k['cpus'][c]['epilogue_cycles']}"
            f" / {k['cpus'][c]['epilogue_overhead_pct']}%"
            if c in k["cpus"] else "n/a"
            for c in cpus
        ]
        for k in m["kernels"]
    ]
    lines += [
        "## llvm-mca loop detail: cycles per iteration (loop only / epilogue per call / "
        "overhead %)",
        "",
        tab(rows, ["kernel", "MACs/iter", "instr/iter", *head]),
        "",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=str(ROOT / "reports/arm-model.json"))
    ap.add_argument("--md", default=str(ROOT / "reports/arm-model.md"))
    ap.add_argument(
        "--measured",
        default=str(ROOT / "reports/arm-model-x86.json"),
        help="measured x86 GOP/s: written by --measure, read for the report's error bars",
    )
    ap.add_argument("--tiers", default=",".join(TIERS), help="comma-separated subset of tiers")
    ap.add_argument(
        "--x86-tiers",
        default=",".join(X86_MODELS),
        help="x86 tiers for the check against this machine ('' for none)",
    )
    ap.add_argument(
        "--measure",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="time this machine's x86 kernels and rewrite --measured (`make arm-model-report`); "
        "by default the committed measurement is reused, so a CI run changes no report",
    )
    ap.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1,
        help="processes for the OSACA analyses; compiles at a time unless "
        "CMAKE_BUILD_PARALLEL_LEVEL is set"
    )
    ap.add_argument(
        "--llvm-mca", default=None, help="llvm-mca binary (default: llvm-mca-19, llvm-mca)"
    )
    args = ap.parse_args(argv)
    mca = args.llvm_mca or find_llvm_mca()
    if not mca:
        print("llvm-mca not found (Debian package llvm-19)", file=sys.stderr)
        return 1
    tiers = tuple(t for t in args.tiers.split(",") if t)
    if not set(tiers) <= set(TIERS):
        ap.error(f"--tiers: choose from {', '.join(TIERS)}")
    x86_tiers = tuple(t for t in args.x86_tiers.split(",") if t)
    if not set(x86_tiers) <= set(X86_MODELS):
        ap.error(f"--x86-tiers: choose from {', '.join(X86_MODELS)}")
    model = build(mca, tiers, x86_tiers, max(1, args.jobs))
    write_text(args.json, json.dumps(model, indent=1, sort_keys=True) + "\n")
    measured = None
    if x86_tiers and args.measure:
        print("measuring the x86 kernels (one thread, cache-resident shape)", file=sys.stderr)
        measured = x86.measure(model["x86"]["kernels"])
        write_text(args.measured, json.dumps(measured, indent=1, sort_keys=True) + "\n")
    elif Path(args.measured).is_file():
        measured = json.loads(Path(args.measured).read_text())
    if args.md:
        write_text(args.md, markdown(model, measured))
    print(f"wrote {args.json}" + (f" and {args.md}" if args.md else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
