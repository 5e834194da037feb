"""OSACA (PyPI ``osaca``) as the second throughput model of ci/armmodel/model.py.

OSACA's machine models are tables of measured port usage and latency per instruction form
(the Cortex-A72 one was measured on a Raspberry Pi 4).  For a block we take OSACA's two
bounds for a loop body, as its own report does: the port-pressure throughput (the busiest
port's cycles, with OSACA's optimal port assignment) and the longest loop-carried
dependency; the predicted cycles per iteration are the larger of the two.  Straight-line
blocks (epilogues) get the throughput bound only.

An instruction form missing from a machine model costs nothing there (OSACA's
``--ignore-unknown``): such a prediction is a lower bound on cycles.  Every result lists
the missing mnemonics so the report can say so.

The OSACA API is used directly (not the command line): the assembly of a block is parsed
once and shared by every machine model of its ISA, and a parsed line is reused wherever
the same text appears again (the parser is most of OSACA's run time).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections import Counter
from pathlib import Path

# OSACA machine model -> the ISA of its assembly.
ARCH_ISA = {
    "a72": "aarch64", "n1": "aarch64", "v2": "aarch64", "tsv110": "aarch64", "m1": "aarch64",
    "a64fx": "aarch64", "zen3": "x86", "zen4": "x86", "icx": "x86", "spr": "x86",
}
LCD_TIMEOUT_S = -1  # no timeout: a timed-out search would make the result depend on load


def version() -> str:
    from osaca.osaca import get_version

    return get_version()


class Osaca:
    def __init__(self) -> None:
        self._models: dict = {}
        self._parsers: dict = {}
        self._lines: dict = {}

    def _parser(self, isa: str):
        from osaca.osaca import get_asm_parser

        if isa not in self._parsers:
            self._parsers[isa] = get_asm_parser("a72" if isa == "aarch64" else "zen3", "ATT")
        return self._parsers[isa]

    def _model(self, arch: str):
        from osaca.semantics import MachineModel

        if arch not in self._models:
            self._models[arch] = MachineModel(arch=arch)
        return self._models[arch]

    def parse(self, block: list[str], isa: str) -> list:
        parser = self._parser(isa)
        out = []
        for i, text in enumerate(block, start=1):
            key = (isa, text)
            if key not in self._lines:
                self._lines[key] = parser.parse_line(text, 1)
            form = copy.deepcopy(self._lines[key])
            form.line_number = i
            out.append(form)
        return out

    def analyse(self, block: list[str], arch: str, loop: bool = True) -> dict:
        """Cycles per iteration of block on OSACA's model of arch (see the module doc)."""
        from osaca.semantics import INSTR_FLAGS, ArchSemantics, KernelDG

        isa = ARCH_ISA[arch]
        parser = self._parser(isa)
        kernel = [f for f in self.parse(block, isa) if f.mnemonic]
        model = self._model(arch)
        sem = ArchSemantics(parser, model)
        # Entries of a machine model that OSACA itself cannot read (e.g. a port its list
        # lacks) are left out like unknown instructions and listed apart.
        sem.normalize_instruction_forms(kernel)
        broken: Counter = Counter()
        try:
            sem.add_semantics(kernel)
        except (KeyError, ValueError, IndexError):
            good = []
            for f in [f for f in self.parse(block, isa) if f.mnemonic]:
                try:
                    sem.normalize_instruction_forms([f])
                    sem.add_semantics([f])
                    good.append(f)
                except (KeyError, ValueError, IndexError):
                    broken[f.mnemonic] += 1
            kernel = good
        if loop:
            # Twice, as OSACA's own front end does: the second pass refines the assignment.
            # Straight-line epilogues (amortized over a call, a few % of it) keep OSACA's
            # fixed per-port probabilities (its --fixed): the search is quadratic in length.
            sem.assign_optimal_throughput(kernel)
            sem.assign_optimal_throughput(kernel)
        ports = ArchSemantics.get_throughput_sum(kernel) or [0.0]
        tp = max(ports)
        busiest = model.get_ports()[ports.index(tp)] if tp else None
        lcd, lcd_instr = 0.0, None
        if loop:
            dg = KernelDG(kernel, parser, model, sem, LCD_TIMEOUT_S, False)
            deps = dg.get_loopcarried_dependencies()
            if deps:
                longest = max(deps, key=lambda ln: deps[ln]["latency"])
                lcd = float(deps[longest]["latency"])
                lcd_instr = deps[longest]["root"].mnemonic
        unknown = Counter(f.mnemonic for f in kernel if INSTR_FLAGS.TP_UNKWN in f.flags)
        # Each mnemonic's share of the busiest port: what names a disagreement's cause.
        port_i = ports.index(tp) if tp else None
        on_busiest: Counter = Counter()
        if port_i is not None:
            for f in kernel:
                if f.port_pressure and f.port_pressure[port_i]:
                    on_busiest[f.mnemonic] += float(f.port_pressure[port_i])
        rthroughput: dict[str, float] = {}
        for f in kernel:
            rthroughput[f.mnemonic] = round(rthroughput.get(f.mnemonic, 0.0) + float(f.throughput), 3)
        return {
            "rthroughput": rthroughput,
            "throughput_cycles": round(float(tp), 3),
            "lcd_cycles": round(lcd, 3),
            "cycles": round(max(float(tp), lcd), 3),
            "bound": "lcd" if lcd > tp else "ports",
            "busiest_port": str(busiest) if busiest is not None else None,
            "busiest_port_mnemonics": {m: round(c, 3) for m, c in on_busiest.most_common(3)},
            "lcd_mnemonic": lcd_instr,
            "instructions": len(kernel),
            "unknown": dict(sorted((unknown + broken).items())),
            "unreadable": dict(sorted(broken.items())),
        }


# ---- a pool of workers, one Osaca (parser and machine models) each -------------------------

_WORKER: Osaca | None = None


def _job(args):
    global _WORKER
    if _WORKER is None:
        _WORKER = Osaca()
    block, arch, loop = args
    return _WORKER.analyse(block, arch, loop)


def analyse_all(
    jobs: list[tuple[list[str], str, bool]], workers: int = 1, cache: Path | None = None
) -> list[dict]:
    """analyse() of each (block, arch, loop), in order; in `workers` processes.  cache: a
    JSON file of earlier results keyed by OSACA's version and the exact job (a result is
    a pure function of those), so an unchanged kernel costs nothing the next time."""
    ver = version()
    keys = [
        hashlib.sha256(json.dumps([ver, arch, loop, block]).encode()).hexdigest()
        for block, arch, loop in jobs
    ]
    known: dict = {}
    if cache is not None and cache.is_file():
        try:
            known = json.loads(cache.read_text())
        except ValueError:
            known = {}
    todo = [(k, j) for k, j in zip(keys, jobs) if k not in known]
    todo = list(dict((k, j) for k, j in todo).items())
    if todo:
        if workers <= 1 or len(todo) == 1:
            fresh = [_job(j) for _, j in todo]
        else:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=workers) as pool:
                # Large chunks of consecutive jobs (one kernel's blocks on every model):
                # each worker parses a line once and loads each machine model once.
                chunk = max(1, -(-len(todo) // (2 * workers)))
                fresh = list(pool.map(_job, [j for _, j in todo], chunksize=chunk))
        known.update({k: r for (k, _), r in zip(todo, fresh)})
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(cache.name + ".tmp")
            tmp.write_text(json.dumps({k: known[k] for k in keys}, sort_keys=True))
            os.replace(tmp, cache)
    return [known[k] for k in keys]
