"""Numbers the report is made of, computed from a results document (no rendering here).

Everything is organised by CPU class (lowbit.bench.classes): under a class each format is
represented by its best kernel allowed there, the capped peers by their run under that
class's cap, and the native peers by their one run.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict

from . import roofline as RL
from .cases import NATIVE
from .classes import cpu_classes, papers_classes, reference_class, top_class
from .results import records
from .stats import geomean

FORMAT_ORDER = ("fp32", "int8", "int4", "4.6bit")
PEER_ORDER = ("numpy", "ort-matmulinteger", "ort-matmulnbits", "torch-int-mm", "torch-fbgemm")
GROUP_ORDER = ("square", "cnn", "llm", "deepbench")
# (numerator, denominator) of the summary, with the papers' figure (shared/papers.md; measured
# on ARMv8 NEON: 2020 for int4, 2024 for 4.6-bit); None: no published figure.
SUMMARY = (("int8", "fp32", None), ("int4", "fp32", "2.9x"), ("int4", "int8", "1.5x"),
           ("4.6bit", "int8", "1.5-1.6x"), ("4.6bit", "int4", "0.96x (4% slower)"))
SPEEDUPS = tuple((n, d) for n, d, _ in SUMMARY)
OVER_FP32 = (("int8", "fp32"), ("int4", "fp32"), ("4.6bit", "fp32"))


class View:
    """Records of one results document indexed by shape, CPU class and implementation."""

    def __init__(self, doc: dict):
        self.doc = doc
        self.lb = doc["lowbit"]
        self.machine = doc.get("machine_info", {})
        self.by_shape: OrderedDict[tuple, dict] = OrderedDict()
        self.names: dict = {}
        self.groups: dict = {}
        self.records = records(doc)
        for r in self.records:
            sk = (r["M"], r["N"], r["K"], r["threads"])
            self.by_shape.setdefault(sk, {})[(r["impl"], r["format"], r["tier"])] = r
            self.names.setdefault(sk, r["shapes"])
            self.groups.setdefault(sk, r["groups"])
        table = self.machine.get("classes") if isinstance(self.machine.get("classes"), dict) \
            else {}
        self.class_table = table
        self.classes = cpu_classes(table)
        self.reference = reference_class(table)
        self.threads = sorted({r["threads"] for r in self.records})
        lowbit_recs = [r for r in self.records if r["impl"] == "lowbit"]
        self.formats = [f for f in FORMAT_ORDER if any(r["format"] == f for r in lowbit_recs)]
        present = {r["impl"] for r in self.records}
        self.peers = [p for p in PEER_ORDER if p in present]
        groups = {g for gs in self.groups.values() for g in gs}
        self.group_list = [g for g in GROUP_ORDER if g in groups] + sorted(
            groups - set(GROUP_ORDER))
        rf = self.lb.get("roofline", {})
        self.roof = RL.merge(*RL.measurements(rf))
        self.cores = self.machine.get("cores")

    # ------------------------------------------------------------------ classes
    def cls(self, name: str) -> dict:
        for c in self.classes + ([self.reference] if self.reference else []):
            if c["name"] == name:
                return c
        raise KeyError(name)

    def kernel_tier(self, fmt: str, cls: str) -> str | None:
        return self.cls(cls)["kernels"].get(fmt)

    def tiers_under(self, cls: str) -> set:
        feats = set(self.cls(cls)["features"])
        every = self.classes + ([self.reference] if self.reference else [])
        return {c["name"] for c in every if set(c["features"]) <= feats}

    @property
    def this_cpu(self) -> str | None:
        """The CPU's own class (not capped). A table written before `top` existed held the
        cap there when LOWBIT_MAX_TIER was set: then it is unknown."""
        t = self.class_table
        if "top" not in t and self.machine.get("max_tier"):
            return None
        return t.get("this_cpu")

    @property
    def top(self) -> str | None:
        """The best class of the run (the cap when LOWBIT_MAX_TIER was set)."""
        return top_class(self.class_table)

    @property
    def cap(self) -> str | None:
        return self.class_table.get("cap") or self.machine.get("max_tier") or None

    @property
    def papers_class(self) -> str | None:
        return self.class_table.get("papers_class")

    @property
    def papers_classes(self) -> list[str]:
        return papers_classes(self.class_table)

    def class_tags(self, name: str) -> list[str]:
        """What a class is, in words, for labels: this CPU's, the cap, the papers' situation,
        the reference."""
        tags = []
        if name == self.this_cpu:
            tags.append("this CPU")
        elif name == self.top and self.cap:
            tags.append(f"LOWBIT_MAX_TIER={self.cap}")
        if name in self.papers_classes:
            tags.append("papers' situation")
        if self.reference and name == self.reference["name"]:
            tags.append("reference, not a CPU")
        return tags

    # ------------------------------------------------------------------ cells
    def shapes(self, group: str | None = None, threads: int | None = None) -> list[tuple]:
        return [sk for sk in self.by_shape
                if (group is None or group in self.groups[sk])
                and (threads is None or sk[3] == threads)]

    def lowbit(self, sk, fmt, cls):
        tier = self.kernel_tier(fmt, cls)
        return self.by_shape[sk].get(("lowbit", fmt, tier)) if tier else None

    def peer(self, sk, peer, cls):
        """A peer under a class: its run capped to that class, else its native run."""
        cells = self.by_shape[sk]
        for (impl, _fmt, t), r in cells.items():
            if impl == peer and t == cls:
                return r
        for (impl, _fmt, t), r in cells.items():
            if impl == peer and t == NATIVE:
                return r
        return None

    def speedup(self, sk, num, den, cls) -> float | None:
        a, b = self.lowbit(sk, num, cls), self.lowbit(sk, den, cls)
        return a["gops"] / b["gops"] if a and b else None

    def geomean_speedups(self, cls, threads, group=None) -> dict:
        out = {}
        for num, den in dict.fromkeys(SPEEDUPS + OVER_FP32):
            vals = [v for sk in self.shapes(group, threads)
                    if (v := self.speedup(sk, num, den, cls))]
            out[(num, den)] = (geomean(vals), min(vals) if vals else None,
                               max(vals) if vals else None, len(vals))
        return out

    # ------------------------------------------------------------------ roofline
    def bound(self, rec, cls=None) -> dict | None:
        if not self.roof or rec["tier"] == "scalar":
            return None
        capped = rec["impl"] != "lowbit" and rec["tier"] != NATIVE
        allowed = self.tiers_under(rec["tier"]) if capped and rec["tier"] in \
            {c["name"] for c in self.classes} else None
        return RL.bound(rec, self.roof, self.cores, allowed)

    def pct_bound(self, rec) -> float | None:
        b = self.bound(rec)
        return b["pct"] if b else None

    def bounded_records(self):
        """(record, bound) of every case that has a roofline bound."""
        for r in self.records:
            b = self.bound(r)
            if b:
                yield r, b

    # ------------------------------------------------------------------ misc
    def display_name(self, sk) -> str:
        names = self.names[sk]
        return names[0] + (f" (+{len(names) - 1})" if len(names) > 1 else "")

    def check_failures(self) -> dict:
        bad = defaultdict(int)
        for r in self.records:
            if r["check"].get("exact") is False:
                bad[(r["impl"], r["format"], r["tier"])] += 1
        return dict(bad)
