"""x86 check of the cycle models (ci/armmodel/model.py): the same two models on this
machine's own kernels, against a measurement.

The x86 tier sources carry no LLVM-MCA markers, so the inner loop is found in the object
code: each tier translation unit is compiled with its command from the host graph's
compile_commands.json (cmake_graph.py: the library's sources and its row of the tier table
kernels/src/tiers.def, as CMake builds them), disassembled with objdump, and in each
micro-kernel function the backward branch whose body holds the most multiply instructions is
the k loop.  That body (AT&T syntax, the closing branch included) goes to llvm-mca and OSACA.

The measurement is lowbit.matmul of the installed package, one thread, on a shape whose
operands stay in the L2 cache, best of several interleaved repeats; cycles come from the
clock measured by a chain of dependent adds (one per cycle on any x86 core), compiled and
timed here.  Measurements are not deterministic: they go to their own JSON, never into the
exact regression baseline.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cmake_graph  # noqa: E402

# Micro-kernel function templates of each tier's main tile, by format ({mr}: the tile's
# rows, from the registry: main_tile).  A renamed function fails loudly below.
FUNCS = {
    "avx2": {"fp32": "f32_tile<lowbit::x86::Ymm, {mr}, 2>", "int8": "qu8s8_c2<lowbit::x86::Ymm, {mr}, 2>",
             "int4": "lowbit_c4<lowbit::x86::Ymm, {mr}, true, false>",
             "4.6bit": "lowbit_c4<lowbit::x86::Ymm, {mr}, false, false>"},
    "avx512": {"fp32": "f32_tile<lowbit::x86::Zmm, {mr}, 2>", "int8": "qu8s8_c2<lowbit::x86::Zmm, {mr}, 2>",
               "int4": "lowbit_c4<lowbit::x86::Zmm, {mr}, true, true>",
               "4.6bit": "lowbit_c4<lowbit::x86::Zmm, {mr}, false, false>"},
}
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
# The x86 cores both tools model from measurements: OSACA machine model -> llvm-mca -mcpu.
CORES = {"zen3": "znver3", "zen4": "znver4", "icx": "icelake-server", "spr": "sapphirerapids"}


def host_core(cpuinfo: str | None = None) -> str | None:
    """OSACA's name (a key of CORES) for this machine's core, or None: from the vendor, the
    family and the feature flags of /proc/cpuinfo, not the model number (a VM often shows a
    synthetic one).  Intel: AMX -> Sapphire Rapids; AVX-512 VNNI and VBMI2 without AMX ->
    Ice Lake server.  AMD family 19h: AVX-512 -> Zen 4, else Zen 3."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return None
    field = lambda name: (re.search(rf"^{name}\s*:\s*(.*)$", cpuinfo, re.MULTILINE) or [None, ""])[1]
    vendor, flags = field("vendor_id").strip(), set(field("flags").split())
    if vendor == "GenuineIntel":
        if "amx_tile" in flags:
            return "spr"
        if {"avx512_vnni", "avx512_vbmi2"} <= flags:
            return "icx"
    elif vendor == "AuthenticAMD" and field("cpu family").strip() == "25":
        return "zen4" if "avx512f" in flags else "zen3"
    return None


# Cache-resident shape of the measurement: B (<= 256 KiB as fp32), A and C fit the L2 of
# any core this runs on; K within every kernel's kc and flush period (one call deep).
SHAPE = (240, 256, 256)


def macs_in(block: list[str]) -> int:
    return sum(next((m for r, m in MAC_RULES if r.match(ins)), 0) for ins in block)


def main_tile(tier: str, fmt: str) -> tuple[int, int]:
    """(mr, nr) of the tier's main tile for `fmt`, from the registry (lowbit.variants() lists each
    kernel family main tile first), not from the TU's source."""
    import lowbit

    tile = next(((v.mr, v.nr) for v in lowbit.variants() if v.tier == tier and v.format == fmt),
                None)
    if tile is None:
        raise SystemExit(f"x86 model: the registry has no {fmt} kernel of tier {tier}")
    return tile


def disassemble(tier: str, workdir: Path) -> dict[str, list[tuple]]:
    """{demangled function: [(address, instruction text)]} of the tier's object code, compiled
    by its compile_commands.json command (only -o moved)."""
    obj = workdir / f"{tier}.o"
    cmd = cmake_graph.tier_command("x86", tier)
    subprocess.run(cmd.derive(obj), check=True, cwd=cmd.directory)
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


def extract(tiers: tuple[str, ...], disassembled: dict | None = None) -> list[dict]:
    """One entry per (tier, format): the k loop's instructions, tile and k per iteration.
    disassembled: {tier: disassemble()'s result} where already done."""
    out = []
    with tempfile.TemporaryDirectory(prefix="armmodel-x86-") as tmp:
        for tier in tiers:
            funcs = (disassembled or {}).get(tier) or disassemble(tier, Path(tmp))
            for fmt, pattern in FUNCS[tier].items():
                mr, nr = main_tile(tier, fmt)
                want = pattern.format(mr=mr)
                name = next((f for f in funcs if f"::{want}(" in f), None)
                if name is None:
                    raise SystemExit(f"x86 model: no function {want} in {tier}.cpp's object")
                loop = k_loop(funcs[name])
                macs = macs_in(loop)
                if not loop or macs % (mr * nr):
                    raise SystemExit(f"x86 model: {want}: no k loop with a whole number of k "
                                     f"for a {mr}x{nr} tile ({macs} MACs)")
                out.append({"tier": tier, "format": fmt, "function": want, "mr": mr,
                            "nr": nr, "k_per_iteration": macs // (mr * nr),
                            "macs_per_iteration": macs, "loop_instructions": len(loop) - 1,
                            "block": loop})
    return out


# ---- measurement ---------------------------------------------------------------------------

CLOCK_C = r"""
#include <stdio.h>
#include <stdint.h>
#include <time.h>
static double now(void) {
  struct timespec a;
  clock_gettime(CLOCK_MONOTONIC, &a);
  return a.tv_sec + 1e-9 * a.tv_nsec;
}
int main(void) {
  /* 8M cycles, a few ms a run: short enough to run unpreempted.  Two chains: register
     adds (1 cycle each) and imuls (3 cycles each).  Not adds of an immediate: Golden Cove
     (Sapphire Rapids) folds those at rename, several per cycle. */
  const uint64_t n = 2000000;
  double best_add = 0, best_mul = 0;
  for (int rep = 0; rep < 300; ++rep) {
    uint64_t x = 0, one = 1;
    double t = now();
    for (uint64_t i = 0; i < n; ++i)
      __asm__ volatile("add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0" : "+r"(x) : "r"(one));
    double ghz = 4.0 * n / (now() - t) / 1e9;
    if (ghz > best_add) best_add = ghz;
    x = 3;
    t = now();
    for (uint64_t i = 0; i < n / 3; ++i)
      __asm__ volatile("imul %0, %0\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0" : "+r"(x));
    ghz = 3.0 * 4.0 * (n / 3) / (now() - t) / 1e9;
    if (ghz > best_mul) best_mul = ghz;
  }
  printf("%.4f %.4f\n", best_add, best_mul);
  return 0;
}
"""


def cpu_name() -> str | None:
    try:
        m = re.search(r"^model name\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    except OSError:
        return None
    return m.group(1).strip() if m else None


def clock_ghz(cc: str = "gcc") -> float:
    """Core clock from chains of dependent register adds (1 cycle each on every x86 core)
    and of dependent imuls (3 cycles each): the best of 300 short runs each, so that a busy
    machine's preemptions fall outside at least one.  The two must agree."""
    with tempfile.TemporaryDirectory(prefix="armmodel-clock-") as tmp:
        src, exe = Path(tmp) / "clock.c", Path(tmp) / "clock"
        src.write_text(CLOCK_C)
        subprocess.run([cc, "-O1", str(src), "-o", str(exe)], check=True)
        out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    add, mul = map(float, out.split())
    if abs(add / mul - 1.0) > 0.05:
        raise SystemExit(f"x86 clock: add chain {add:.3f} GHz, imul chain {mul:.3f} GHz "
                         "disagree by more than 5%")
    return add


def measure(entries: list[dict], repeats: int = 200, calls: int = 1, rounds: int = 3) -> dict:
    """Single-thread GOP/s of each (tier, format) of entries that this CPU runs, at SHAPE;
    repeats interleaved across kernels, the best kept (on a shared machine the fastest of
    many short timings is the one least disturbed), in `rounds` rounds."""
    import lowbit
    from lowbit.bench.operands import make_operands
    from lowbit.bench.timing import timed

    load_before = [round(x, 2) for x in os.getloadavg()]
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
    # Rounds of `repeats` interleaved calls, each with its own clock reading: the best round
    # is kept, the spread between rounds is reported (the noise of this measurement).
    per_round = {k: [] for k in calls_by_key}
    clocks = []
    for _ in range(rounds):
        best = {k: float("inf") for k in calls_by_key}
        for _ in range(repeats):
            for key, (fn, _) in calls_by_key.items():
                best[key] = min(best[key], timed(fn, calls))
        clocks.append(clock_ghz())
        for key, t in best.items():
            per_round[key].append((M * N * K / t / 1e9 / clocks[-1], t))
    results = {}
    for (tier, fmt), rs in per_round.items():
        mpc = [m for m, _ in rs]
        i = mpc.index(max(mpc))
        results[f"{tier}/{fmt}"] = {
            "kernel": calls_by_key[(tier, fmt)][1],
            "seconds_per_call": rs[i][1],
            "gops": round(2.0 * M * N * K / rs[i][1] / 1e9, 2),
            "macs_per_cycle": round(mpc[i], 3),
            "macs_per_cycle_rounds": [round(m, 3) for m in mpc],
            "spread_pct": round(100.0 * (max(mpc) / min(mpc) - 1.0), 1),
        }
    return {"shape": {"M": M, "N": N, "K": K}, "threads": 1, "repeats": repeats,
            "rounds": rounds, "core": host_core(), "cpu": cpu_name(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "load_average_before": load_before,
            "calls_per_repeat": calls, "clock_ghz": round(max(clocks), 3),
            "clock_ghz_rounds": [round(c, 3) for c in clocks], "results": results,
            "skipped": skipped}
