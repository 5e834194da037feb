"""OSACA (PyPI ``osaca``) as the second throughput model of ci/armmodel/model.py.

OSACA's machine models are tables of measured port usage and latency per instruction form
(the Cortex-A72 one was measured on a Raspberry Pi 4).  For a block we take OSACA's two
bounds for a loop body, as its own report does: the port-pressure throughput (the busiest
port's cycles, with OSACA's optimal port assignment) and the longest loop-carried
dependency; the predicted cycles per iteration are the larger of the two.  Straight-line
blocks (epilogues) get the throughput bound only.

An instruction form missing from a machine model costs nothing there (OSACA's
``--ignore-unknown``): such a prediction is a lower bound on cycles.  Every result lists
the missing mnemonics so the report can say so.  Where ci/armmodel/osaca_overlay/<arch>.yml
exists, its forms (values from the vendor's optimization guide or measured on this machine,
as the file says) are appended to a copy of OSACA's table for that model, so those forms
are known; OSACA's own entries are never changed.

The OSACA API is used directly (not the command line): the assembly of a block is parsed
once and shared by every machine model of its ISA, and a parsed line is reused wherever
the same text appears again (the parser is most of OSACA's run time).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
from collections import Counter
from pathlib import Path

from lowbit.bench.atomic import write_text

# OSACA machine model -> the ISA of its assembly.
ARCH_ISA = {
    "a72": "aarch64", "n1": "aarch64", "v2": "aarch64", "tsv110": "aarch64", "m1": "aarch64",
    "a64fx": "aarch64", "zen3": "x86", "zen4": "x86", "icx": "x86", "spr": "x86",
}
LCD_TIMEOUT_S = -1  # no timeout: a timed-out search would make the result depend on load
OVERLAY_DIR = Path(__file__).resolve().parent / "osaca_overlay"
# Copies of OSACA's tables with an overlay appended (and OSACA's pickles of them).
MODEL_DIR = Path(__file__).resolve().parents[2] / ".cache/armmodel/osaca-models"
DOC_KEYS = ("group", "note")  # an overlay form's documentation, not OSACA's


def overlay(arch: str) -> dict | None:
    """ci/armmodel/osaca_overlay/<arch>.yml as a dict, or None."""
    path = OVERLAY_DIR / f"{arch}.yml"
    if not path.is_file():
        return None
    from ruamel.yaml import YAML

    doc = YAML(typ="safe").load(path.read_text())
    if doc.get("arch") != arch or not doc.get("instruction_forms") or not doc.get("status"):
        raise SystemExit(f"{path}: needs arch: {arch}, status and instruction_forms")
    return doc


def operand_text(operands: list[dict]) -> str:
    """An overlay form's operands as assembly-like text: v.h, v.b, #imm."""
    out = []
    for o in operands:
        if o["class"] == "register":
            out.append(o.get("prefix", o.get("name", "?")) + (f".{o['shape']}" if "shape" in o else ""))
        elif o["class"] == "immediate":
            out.append("#imm")
        else:
            out.append("mem")
    return ", ".join(out)


def overlay_digest(arch: str) -> str:
    """Hash of arch's overlay file ('' without one): part of the result cache's key, so
    editing one model's overlay re-runs that model's analyses only."""
    path = OVERLAY_DIR / f"{arch}.yml"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def model_file(arch: str) -> Path | None:
    """OSACA's table of arch with its overlay's forms appended (instruction_forms is the
    last key of every OSACA table), written once per content; None without an overlay."""
    doc = overlay(arch)
    if doc is None:
        return None
    from osaca import utils
    from ruamel.yaml import YAML

    base = Path(utils.find_datafile(arch + ".yml")).read_text()
    if not base.rstrip().splitlines()[-1].startswith(" ") or "\ninstruction_forms:" not in base:
        raise SystemExit(f"OSACA's {arch}.yml does not end with its instruction_forms list")
    forms = [{k: v for k, v in f.items() if k not in DOC_KEYS} for f in doc["instruction_forms"]]
    out = io.StringIO()
    YAML(typ="safe", pure=True).dump(forms, out)
    text = (base.rstrip("\n") + f"\n# ---- ci/armmodel/osaca_overlay/{arch}.yml "
            f"({doc['status']})\n" + out.getvalue())
    path = MODEL_DIR / hashlib.sha256(text.encode()).hexdigest()[:16] / f"{arch}.yml"
    if not path.is_file():
        write_text(path, text)
    return path


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
            path = model_file(arch)
            self._models[arch] = (MachineModel(path_to_yaml=str(path)) if path
                                  else MachineModel(arch=arch))
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
    digests = {arch: overlay_digest(arch) for _, arch, _ in jobs}
    keys = [
        hashlib.sha256(json.dumps([ver, arch, loop, block] + ([digests[arch]] if digests[arch]
                                  else [])).encode()).hexdigest()
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
            write_text(cache, json.dumps({k: known[k] for k in keys}, sort_keys=True))
    return [known[k] for k in keys]
