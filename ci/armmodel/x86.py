"""x86 check of the cycle models (ci/armmodel/model.py): the same two models on this
machine's own kernels, against a measurement.

The x86 tier sources carry no LLVM-MCA markers, so the inner loop is found in the object
code: each tier translation unit is compiled with the library's flags (ci/armmodel/flags.sh,
equal to CMakeLists.txt's), disassembled with objdump, and in each micro-kernel function the
backward branch whose body holds the most multiply instructions is the k loop.  That body
(AT&T syntax, the closing branch included) goes to llvm-mca and OSACA.

The measurement is lowbit.matmul of the installed package, one thread, on a shape whose
operands stay in the L2 cache, best of several interleaved repeats; cycles come from the
clock measured by a chain of dependent adds (one per cycle on any x86 core), compiled and
timed here.  Measurements are not deterministic: they go to their own JSON, never into the
exact regression baseline.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Micro-kernel function templates of each tier's main tile, by format ({mr}: the tile's
# rows, read from the tier's kList).  A renamed function fails loudly below.
FUNCS = {
    "avx2": {"fp32": "f32_tile<lowbit::x86::Ymm, {mr}>", "int8": "qu8s8_c2<lowbit::x86::Ymm, {mr}>",
             "int4": "lowbit_c4<lowbit::x86::Ymm, {mr}, true, false>",
             "4.6bit": "lowbit_c4<lowbit::x86::Ymm, {mr}, false, false>"},
    "avx512": {"fp32": "f32_tile<lowbit::x86::Zmm, {mr}>", "int8": "qu8s8_c2<lowbit::x86::Zmm, {mr}>",
               "int4": "lowbit_c4<lowbit::x86::Zmm, {mr}, true, true>",
               "4.6bit": "lowbit_c4<lowbit::x86::Zmm, {mr}, false, false>"},
}
KLIST = {"fp32": "kF32", "int8": "kInt8", "int4": "kInt4", "4.6bit": "kQ46"}
NR = {"avx2": 16, "avx512": 32}
MAC_RULES = (
    (re.compile(r"^vfmadd\d+ps\s.*%ymm"), 8),
    (re.compile(r"^vfmadd\d+ps\s.*%zmm"), 16),
    (re.compile(r"^vpmaddwd\s.*%ymm"), 16),
    (re.compile(r"^vpmaddwd\s.*%zmm"), 32),
    (re.compile(r"^vpmaddubsw\s.*%ymm"), 32),
    (re.compile(r"^vpmaddubsw\s.*%zmm"), 64),
)
LINE_RE = re.compile(r"^\s*([0-9a-f]+):\s+(\S.*)$")
FUNC_RE = re.compile(r"^[0-9a-f]+ <(.*)>:$")
JUMP_RE = re.compile(r"^(j\w+)\s+([0-9a-f]+) <")
# Cache-resident shape of the measurement: B (<= 256 KiB as fp32), A and C fit the L2 of
# any core this runs on; K within every kernel's kc and flush period (one call deep).
SHAPE = (240, 256, 256)


def macs_in(block: list[str]) -> int:
    return sum(next((m for r, m in MAC_RULES if r.match(ins)), 0) for ins in block)


def main_mr(tier: str, fmt: str) -> int:
    src = (ROOT / f"kernels/src/x86/{tier}.cpp").read_text()
    m = re.search(r"kList\[\]\s*=\s*\{(.*?)\};", src, re.DOTALL)
    first = re.search(rf"&{KLIST[fmt]}_(\d+)", m.group(1)) if m else None
    if not first:
        raise SystemExit(f"x86 model: no {KLIST[fmt]}_<mr> in the kList of {tier}.cpp")
    return int(first.group(1))


def disassemble(tier: str, flags: dict[str, str], workdir: Path) -> dict[str, list[tuple]]:
    """{demangled function: [(address, instruction text)]} of the tier's object code."""
    obj = workdir / f"{tier}.o"
    cmd = [flags["X86_CXX"], *shlex.split(flags["X86_CXXFLAGS"]),
           *shlex.split(flags[f"X86_MARCH_{tier}"]), "-c",
           str(ROOT / f"kernels/src/x86/{tier}.cpp"), "-o", str(obj)]
    subprocess.run(cmd, check=True, cwd=ROOT)
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-C", str(obj)],
                         check=True, capture_output=True, text=True).stdout
    funcs: dict[str, list[tuple]] = {}
    cur = None
    for line in out.splitlines():
        m = FUNC_RE.match(line)
        if m:
            cur = funcs.setdefault(m.group(1), [])
            continue
        m = LINE_RE.match(line)
        if m and cur is not None:
            cur.append((int(m.group(1), 16), re.sub(r"\s+", " ", m.group(2).split("#")[0]).strip()))
    return funcs


def k_loop(code: list[tuple]) -> list[str]:
    """The body of the backward branch with the most MACs, closing branch included, as
    an assembly block with a label (llvm-mca and OSACA both take it)."""
    best: list[str] = []
    for i, (_, ins) in enumerate(code):
        m = JUMP_RE.match(ins)
        if not m or int(m.group(2), 16) > code[i][0]:
            continue
        target = int(m.group(2), 16)
        body = [t for a, t in code[: i] if a >= target]
        if macs_in(body) > macs_in(best):
            best = body + [f"{m.group(1)} .Lloop"]
    return [".Lloop:"] + best if best else []


def extract(tiers: tuple[str, ...], flags: dict[str, str], disassembled: dict | None = None
            ) -> list[dict]:
    """One entry per (tier, format): the k loop's instructions, tile and k per iteration.
    disassembled: {tier: disassemble()'s result} where already done."""
    out = []
    with tempfile.TemporaryDirectory(prefix="armmodel-x86-") as tmp:
        for tier in tiers:
            funcs = (disassembled or {}).get(tier) or disassemble(tier, flags, Path(tmp))
            for fmt, pattern in FUNCS[tier].items():
                mr = main_mr(tier, fmt)
                want = pattern.format(mr=mr)
                name = next((f for f in funcs if f"::{want}(" in f), None)
                if name is None:
                    raise SystemExit(f"x86 model: no function {want} in {tier}.cpp's object")
                loop = k_loop(funcs[name])
                macs = macs_in(loop)
                if not loop or macs % (mr * NR[tier]):
                    raise SystemExit(f"x86 model: {want}: no k loop with a whole number of k "
                                     f"for a {mr}x{NR[tier]} tile ({macs} MACs)")
                out.append({"tier": tier, "format": fmt, "function": want, "mr": mr,
                            "nr": NR[tier], "k_per_iteration": macs // (mr * NR[tier]),
                            "macs_per_iteration": macs, "loop_instructions": len(loop) - 1,
                            "block": loop})
    return out


# ---- measurement ---------------------------------------------------------------------------

CLOCK_C = r"""
#include <stdio.h>
#include <stdint.h>
#include <time.h>
int main(void) {
  const uint64_t n = 2000000;  /* 8M cycles, a few ms: short enough to run unpreempted */
  double best = 0;
  for (int rep = 0; rep < 300; ++rep) {
    uint64_t x = 0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (uint64_t i = 0; i < n; ++i)
      __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x));
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (b.tv_sec - a.tv_sec) + 1e-9 * (b.tv_nsec - a.tv_nsec);
    double ghz = 4.0 * n / s / 1e9;
    if (ghz > best) best = ghz;
  }
  printf("%.4f\n", best);
  return 0;
}
"""


def clock_ghz(cc: str = "gcc") -> float:
    """Core clock from a chain of dependent adds (1 cycle each): the best of 300 short
    runs, so that a busy machine's preemptions fall outside at least one of them."""
    with tempfile.TemporaryDirectory(prefix="armmodel-clock-") as tmp:
        src, exe = Path(tmp) / "clock.c", Path(tmp) / "clock"
        src.write_text(CLOCK_C)
        subprocess.run([cc, "-O1", str(src), "-o", str(exe)], check=True)
        return float(subprocess.run([str(exe)], check=True, capture_output=True,
                                    text=True).stdout)


def measure(entries: list[dict], repeats: int = 60, calls: int = 1) -> dict:
    """Single-thread GOP/s of each (tier, format) of entries that this CPU runs, at SHAPE;
    repeats interleaved across kernels, the best kept (on a shared machine the fastest of
    many short timings is the one least disturbed)."""
    import lowbit
    from lowbit.bench.operands import make_operands

    M, N, K = SHAPE
    calls_by_key = {}
    skipped = {}
    for e in entries:
        key = (e["tier"], e["format"])
        if e["tier"] not in lowbit.tiers(e["format"]):
            skipped[f"{e['tier']}/{e['format']}"] = "this CPU lacks the tier"
            continue
        op = make_operands(e["format"], M, N, K)
        try:
            packed = lowbit.pack_weights(op.w, e["format"], zero_point=op.zero_point_w,
                                         tier=e["tier"], **op.params)
        except (RuntimeError, ValueError) as exc:
            skipped[f"{e['tier']}/{e['format']}"] = str(exc).splitlines()[0]
            continue
        x, zx = op.x, op.zero_point_x
        fn = (lambda x=x, p=packed, zx=zx: lowbit.matmul(x, p, zero_point=zx, threads=1))
        fn()
        calls_by_key[key] = (fn, getattr(packed, "kernel", None))
    best = {k: float("inf") for k in calls_by_key}
    for _ in range(repeats):
        for key, (fn, _) in calls_by_key.items():
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            best[key] = min(best[key], (time.perf_counter() - t0) / calls)
    ghz = clock_ghz()
    results = {}
    for (tier, fmt), t in best.items():
        gops = 2.0 * M * N * K / t / 1e9
        results[f"{tier}/{fmt}"] = {
            "kernel": calls_by_key[(tier, fmt)][1],
            "seconds_per_call": t,
            "gops": round(gops, 2),
            "macs_per_cycle": round(gops / 2.0 / ghz, 3),
        }
    return {"shape": {"M": M, "N": N, "K": K}, "threads": 1, "repeats": repeats,
            "load_average": round(os.getloadavg()[0], 2),
            "calls_per_repeat": calls, "clock_ghz": round(ghz, 3), "results": results,
            "skipped": skipped}
