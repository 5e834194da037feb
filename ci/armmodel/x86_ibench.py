#!/usr/bin/env python3
"""Throughput and latency of single x86 instruction forms on this machine, the way OSACA's
own tables are measured (its `ibench`): a loop of independent copies for the throughput,
a loop of copies each depending on the last for the latency, cycles from the clock of
ci/armmodel/x86.py.  It produced the values in ci/armmodel/osaca_overlay/spr.yml:

    .venv/bin/python ci/armmodel/x86_ibench.py            # the forms that file lists

It measures cycles per instruction only; which ports an instruction uses is not measured
(the overlay takes them from the vendor's port layout and says so).  Timings on a shared
machine: the best of many short runs, the load average printed beside them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import x86  # noqa: E402

# (name, throughput body for destination register i, latency body or None); {r}: the
# register class (ymm, zmm), sources %{r}14 and %{r}15, a 64-byte buffer at (%rsi).
FORMS = {
    "vpaddw r":     ("vpaddw %{r}15, %{r}14, %{r}{i}", "vpaddw %{r}15, %{r}0, %{r}0"),
    "vpand r":      ("vpand %{r}15, %{r}14, %{r}{i}", "vpand %{r}15, %{r}0, %{r}0"),
    "vpandd r":     ("vpandd %{r}15, %{r}14, %{r}{i}", "vpandd %{r}15, %{r}0, %{r}0"),
    "vpsrlw imm":   ("vpsrlw $4, %{r}15, %{r}{i}", "vpsrlw $4, %{r}0, %{r}0"),
    "vpmaddubsw r": ("vpmaddubsw %{r}15, %{r}14, %{r}{i}", "vpmaddubsw %{r}15, %{r}0, %{r}0"),
    "vpmaddwd r":   ("vpmaddwd %{r}15, %{r}14, %{r}{i}", "vpmaddwd %{r}15, %{r}0, %{r}0"),
    "vpaddw m":     ("vpaddw (%rsi), %{r}14, %{r}{i}", None),
    "vpand m":      ("vpand (%rsi), %{r}14, %{r}{i}", None),
    "vpbroadcastd m": ("vpbroadcastd (%rsi), %{r}{i}", None),
    "vpmovsxbw m":  ("vpmovsxbw (%rsi), %{r}{i}", None),
}
COPIES = 12
ITER = 200_000

MAIN_C = r"""
#include <stdio.h>
#include <stdint.h>
#include <time.h>
void body(uint64_t n, void *buf);
static double now(void) {
  struct timespec a;
  clock_gettime(CLOCK_MONOTONIC, &a);
  return a.tv_sec + 1e-9 * a.tv_nsec;
}
int main(void) {
  static unsigned char buf[256] __attribute__((aligned(64)));
  double best = 1e9;
  for (int rep = 0; rep < 200; ++rep) {
    double t = now();
    body(%(iter)d, buf);
    t = now() - t;
    if (t < best) best = t;
  }
  printf("%%.9f\n", best);
  return 0;
}
"""


def seconds(lines: list[str]) -> float:
    """Best time of ITER iterations of lines (AT&T assembly)."""
    asm = "\n".join(["\t.text", "\t.globl body", "body:", "1:", *("\t" + x for x in lines),
                     "\tdec %rdi", "\tjnz 1b", "\tvzeroupper", "\tret",
                     "\t.section .note.GNU-stack,\"\",@progbits", ""])
    with tempfile.TemporaryDirectory(prefix="ibench-") as tmp:
        s, c, exe = Path(tmp) / "body.s", Path(tmp) / "main.c", Path(tmp) / "ibench"
        s.write_text(asm)
        c.write_text(MAIN_C % {"iter": ITER})
        subprocess.run(["gcc", "-O1", str(c), str(s), "-o", str(exe)], check=True)
        return float(subprocess.run([str(exe)], check=True, capture_output=True,
                                    text=True).stdout)


def measure(form: str, reg: str, ghz: float) -> dict:
    tp_body, lat_body = FORMS[form]
    tp = [tp_body.format(r=reg, i=i) for i in range(COPIES)]
    out = {"throughput": round(seconds(tp) * ghz * 1e9 / (ITER * COPIES), 3)}
    if lat_body:
        lat = [lat_body.format(r=reg)] * COPIES
        out["latency"] = round(seconds(lat) * ghz * 1e9 / (ITER * COPIES), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regs", default="ymm,zmm")
    args = ap.parse_args(argv)
    ghz = x86.clock_ghz()
    print(f"core {x86.host_core()} ({x86.cpu_name()}), clock {ghz:.3f} GHz, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for reg in args.regs.split(","):
        for form in FORMS:
            if (form == "vpand r" or form == "vpand m") and reg == "zmm":
                continue  # no EVEX vpand: vpandd
            if form == "vpandd r" and reg == "ymm":
                continue
            r = measure(form, reg, ghz)
            print(f"{form:16s} {reg}: cycles/instr {r['throughput']}"
                  + (f", latency {r['latency']}" if "latency" in r else ""))
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
