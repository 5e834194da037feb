#!/usr/bin/env python3
"""ARM cycle model of the aarch64 micro-kernels (``make arm-model``).

Compiles each tier translation unit of kernels/src/arm/ with the aarch64 cross compiler and
the same flags as the library (ci/armmodel/flags.sh) plus -DLOWBIT_MCA, which brackets one
iteration of every micro-kernel's inner loop and its once-per-call epilogue with
``// LLVM-MCA-BEGIN name`` / ``// LLVM-MCA-END name`` comments.  Each bracketed block is fed
to ``llvm-mca`` for several ARM cores; cycles per iteration and the MACs per iteration
(counted from the multiply instructions of the block itself and checked against the
descriptor's mr x nr x k) give predicted MACs/cycle, and from those the speedups the papers
report.

Limits (repeated in the report): the inner loop only, in steady state, with every load
hitting L1; no cache or memory effects, no packing, no driver.  llvm-mca's scheduling model
of a core is not the core.  QEMU timings are never ARM performance.

Output is deterministic for a given compiler and llvm-mca (no timestamps, fixed rounding):
the issue-6 regression gate compares reports/arm-model.json exactly.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIERS = ("neon", "dotprod", "i8mm")
FORMATS = ("fp32", "int8", "int4", "4.6bit")
FORMAT_ENUM = {"kFp32": "fp32", "kInt8": "int8", "kInt4": "int4", "kQ46": "4.6bit"}
# 4.6bit parameters the model's flush period is computed for (the library default).
Q46_DEFAULT = (25, 21)
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


def read_flags() -> dict[str, str]:
    out = {}
    for line in (ROOT / "ci/armmodel/flags.sh").read_text().splitlines():
        m = re.match(r'^(ARM_\w+)="(?:\$\{\w+:-)?([^"}]*)\}?"', line)
        if m:
            out[m.group(1)] = m.group(2)
    if "ARM_CXX" in os.environ:
        out["ARM_CXX"] = os.environ["ARM_CXX"]
    return out


DESC_RE = re.compile(r"const KernelDesc k\w+ = \{(.*?)\};", re.DOTALL)


def read_descs(tier: str) -> list[Desc]:
    """The KernelDesc initializers of a tier's source: the one list of variants."""
    src = (ROOT / f"kernels/src/arm/{tier}.cpp").read_text()
    descs = []
    for body in DESC_RE.findall(src):
        f = [x.strip() for x in re.sub(r"\s+", " ", body).split(",")]
        descs.append(
            Desc(
                name=f[0].strip('"'),
                fmt=FORMAT_ENUM[f[1].split("::")[1]],
                tier=f[2].strip('"'),
                mr=int(f[3]),
                nr=int(f[4]),
                ka=int(f[5]),
                kb=int(f[6]),
                a_elem=f[7].split("::")[1],
                b_elem=f[8].split("::")[1],
                a_offset=f[9],
                acc_bits=int(f[11]),
                terms_per_step=int(f[12]),
                lane_unsigned=f[13] == "true",
                kc=int(f[16]),
                ukernel=f[18],
            )
        )
    return descs


def main_descs(tier: str) -> list[Desc]:
    """The main tile of each format (the largest mr); the small-M companions share its
    packed B and are not modelled (GEMV speed is memory-bound, outside a cycle model)."""
    best: dict[str, Desc] = {}
    for d in read_descs(tier):
        if d.fmt not in best or d.mr > best[d.fmt].mr:
            best[d.fmt] = d
    return sorted(best.values(), key=lambda d: FORMATS.index(d.fmt))


def flush_period(d: Desc) -> int:
    """Same rule as the library (formats.cpp): deepest kc a 16-bit lane survives."""
    if d.acc_bits != 16:
        return 0
    if d.fmt == "int4":
        amax = bmax = 15
    else:  # 4.6bit, activations re-centred to [-a, a]
        b = (Q46_DEFAULT[1] - 1) // 2
        amax, bmax = 127 // b, b
    step = d.terms_per_step * amax * bmax
    k = ((65535 if d.lane_unsigned else 32767) // step) * d.kb
    return k - k % d.kpad()


# ---- compile and extract ---------------------------------------------------------------

MARK_RE = re.compile(r"LLVM-MCA-(BEGIN|END)\s+(\S+)")


def compile_regions(tier: str, flags: dict[str, str], workdir: Path) -> dict[str, list[str]]:
    asm = workdir / f"{tier}.s"
    cmd = [
        flags["ARM_CXX"],
        *shlex.split(flags["ARM_CXXFLAGS"]),
        *shlex.split(flags[f"ARM_MARCH_{tier}"]),
        "-DLOWBIT_MCA",
        "-S",
        str(ROOT / f"kernels/src/arm/{tier}.cpp"),
        "-o",
        str(asm),
    ]
    subprocess.run(cmd, check=True, cwd=ROOT)
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


def run_mca(mca: str, cpu: str, block: list[str], workdir: Path, tag: str) -> dict:
    src = workdir / f"{tag}.s"
    src.write_text("\n".join(block) + "\n")
    out = subprocess.run(
        [
            mca,
            "-mtriple=aarch64",
            f"-mcpu={cpu}",
            "-mattr=+dotprod,+i8mm",
            f"-iterations={ITERATIONS}",
            str(src),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    get = lambda key: float(re.search(rf"^{key}:\s+([\d.]+)", out, re.MULTILINE).group(1))
    return {
        "total_cycles": int(get("Total Cycles")),
        "iterations": int(get("Iterations")),
        "instructions": int(get("Instructions")) // int(get("Iterations")),
        "block_rthroughput": get("Block RThroughput"),
    }


# ---- the model -------------------------------------------------------------------------


def r3(x: float) -> float:
    return float(f"{x:.3f}")


def build(mca: str, tiers: tuple[str, ...] = TIERS) -> dict:
    flags = read_flags()
    cxx_version = subprocess.run(
        [flags["ARM_CXX"], "-dumpfullversion"], capture_output=True, text=True, check=True
    ).stdout.strip()
    kernels = []
    with tempfile.TemporaryDirectory(prefix="armmodel-") as tmp:
        work = Path(tmp)
        for tier in tiers:
            regions = compile_regions(tier, flags, work)
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
                for cpu, feats in CPUS.items():
                    if tier not in feats:
                        continue
                    lp = run_mca(mca, cpu, loop, work, f"{tier}-{cpu}-loop")
                    ep = run_mca(mca, cpu, epi, work, f"{tier}-{cpu}-epi")
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
                if tier == "neon":
                    refs = {
                        cpu: run_mca(mca, cpu, loop, work, f"{tier}-{cpu}-ref")
                        for cpu in REFERENCE_CPUS
                    }
                    entry["reference_loop_cycles"] = {
                        cpu: r3(r["total_cycles"] / r["iterations"]) for cpu, r in refs.items()
                    }
                kernels.append(entry)
    return {
        "schema": "lowbit-arm-model/1",
        "toolchain": {
            "cxx": f"{Path(flags['ARM_CXX']).name} {cxx_version}",
            "llvm_mca": mca_version(mca),
            "iterations": ITERATIONS,
            "flags": {t: f"{flags['ARM_CXXFLAGS']} {flags[f'ARM_MARCH_{t}']}" for t in tiers},
        },
        "q46_params": {"act_levels": Q46_DEFAULT[0], "weight_levels": Q46_DEFAULT[1]},
        "cpus": {cpu: list(feats) for cpu, feats in CPUS.items()},
        "kernels": kernels,
        "speedups": speedups(kernels),
        "paper": PAPER,
        "paper_cpu": PAPER_CPU,
        "identical_models": identical_models(kernels),
    }


def block_for(d: Desc, regions: dict[str, list[str]]) -> str:
    """A kernel's blocks carry its name; int8 and 4.6bit may share one signed micro-kernel
    whose blocks are named qs8_... (dotprod)."""
    for name in (d.name, "qs8_" + d.name.split("_", 1)[1]):
        if name in regions:
            return name
    raise SystemExit(f"no LLVM-MCA block for {d.name}")


def speedups(kernels: list[dict]) -> dict:
    """Per core: ratios of predicted MACs/cycle, within the neon tier (the papers' setting:
    no dotprod) and with each format's best tier on that core."""
    out = {}
    for cpu in CPUS:
        by = {
            (k["format"], k["tier"]): k["cpus"][cpu]["macs_per_cycle"]
            for k in kernels
            if cpu in k["cpus"]
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


def markdown(m: dict) -> str:
    from tabulate import tabulate  # the project's table library (bench extra)

    lines = [
        "# ARM cycle model of the aarch64 micro-kernels",
        "",
        "Generated by `make arm-model` (ci/armmodel/model.py); do not edit by hand.",
        (
            f"Compiler: `{m['toolchain']['cxx']}`; llvm-mca {m['toolchain']['llvm_mca']}, "
            f"{m['toolchain']['iterations']} iterations per block; 4.6bit with "
            f"N_x={m['q46_params']['act_levels']}, N_w={m['q46_params']['weight_levels']}."
        ),
        "",
        (
            "**What this is.** Each micro-kernel's inner-loop body, as GCC compiles it with the "
            "library's flags, run through llvm-mca's scheduling model of each core: predicted "
            "steady-state cycles per iteration, with every load hitting L1. The once-per-call "
            "epilogue (16->32-bit widening for the low-bit kernels, C tile update for all) is "
            "modelled the same way and amortized over the depth the driver gives one call "
            "(`call_k`: the flush period for 16-bit kernels, the descriptor's kc otherwise)."
        ),
        "",
        (
            "**What it is not.** No cache or memory effects, no packing, no driver loops, no "
            "edge tiles, no threading; llvm-mca's model of a core is not the core. Numbers are "
            "predictions to compare kernels with each other, not measurements. QEMU runs check "
            "correctness only and are never ARM performance."
        ),
        "",
    ]
    for group in m["identical_models"]:
        lines.append(
            f"- `{', '.join(group)}` gave identical cycles for every neon loop: this "
            "LLVM has one scheduling model behind these names. LLVM has no Cortex-A73 "
            "or Cortex-A76 model of its own and uses its Cortex-A57 model for them; "
            "read those columns as the A57 model (in it, every ASIMD integer multiply "
            "issues on one pipe and a 16-lane byte MUL holds it for 2 cycles, so any "
            "8-bit multiply scheme tops out at 8 MACs/cycle)."
        )
    lines += [
        (
            "- Neoverse-N1 is the server sibling of the Cortex-A76 (same core design) and has "
            "its own LLVM model: it is the better proxy for an A76."
        ),
        "- No core in the issue's list has i8mm; Neoverse-N2 (ARMv9) is added for that tier.",
        "",
    ]
    lines += ["## Predicted MACs per cycle (with epilogue)", ""]
    cpus = list(m["cpus"])
    rows = []
    for k in m["kernels"]:
        rows.append(
            [k["kernel"], k["format"], k["tier"], k["flush_period"] or "-", k["call_k"]]
            + [k["cpus"][c]["macs_per_cycle"] if c in k["cpus"] else "n/a" for c in cpus]
        )
    lines.append(
        tabulate(
            rows, headers=["kernel", "format", "tier", "flush", "call_k", *cpus], tablefmt="github"
        )
    )
    lines += [
        "",
        "n/a: the core lacks the tier's instructions.",
        "",
        "## Loop detail: cycles per iteration (loop only / epilogue per call / overhead %)",
        "",
    ]
    rows = []
    for k in m["kernels"]:
        rows.append(
            [k["kernel"], k["macs_per_iteration"], k["loop_instructions"]]
            + [
                f"{k['cpus'][c]['loop_cycles_per_iteration']} / {k['cpus'][c]['epilogue_cycles']}"
                f" / {k['cpus'][c]['epilogue_overhead_pct']}%"
                if c in k["cpus"]
                else "n/a"
                for c in cpus
            ]
        )
    lines.append(
        tabulate(rows, headers=["kernel", "MACs/iter", "instr/iter", *cpus], tablefmt="github")
    )
    lines += [
        "",
        "## Predicted speedups next to the papers",
        "",
        (
            "Ratios of predicted MACs/cycle. `neon`: every format on the base NEON tier "
            "(the papers' setting, no dotprod); `best`: each format on the best tier the core "
            "has. The papers measured on an ARMv8 core, most likely a Cortex-A73 "
            "(shared/papers.md); the 4.6bit/int8 figure is for whole networks, not GEMM."
        ),
        "",
    ]
    ratios = list(PAPER)
    rows = []
    for cpu in cpus:
        for label in ("neon", "best"):
            vals = m["speedups"][cpu].get(label, {})
            if label == "best" and vals == m["speedups"][cpu]["neon"]:
                continue
            rows.append([cpu, label] + [vals.get(r, "-") for r in ratios])
    rows.append(["paper", "(measured)"] + [PAPER[r]["text"] for r in ratios])
    lines.append(tabulate(rows, headers=["core", "tiers", *ratios], tablefmt="github"))
    lines += [
        "",
        "Best tier per format: "
        + "; ".join(
            f"{cpu}: " + ", ".join(f"{f} {t}" for f, t in m["speedups"][cpu]["best_tier"].items())
            for cpu in cpus
            if m["speedups"][cpu].get("best") != m["speedups"][cpu]["neon"]
        )
        + ".",
        "",
    ]
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=str(ROOT / "reports/arm-model.json"))
    ap.add_argument("--md", default=str(ROOT / "reports/arm-model.md"))
    ap.add_argument("--tiers", default=",".join(TIERS), help="comma-separated subset of tiers")
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
    model = build(mca, tiers)
    write_atomic(Path(args.json), json.dumps(model, indent=1, sort_keys=True) + "\n")
    if args.md:
        write_atomic(Path(args.md), markdown(model))
    print(f"wrote {args.json}" + (f" and {args.md}" if args.md else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
