"""Numbers the report is made of, computed from a results document (no rendering here)."""

from __future__ import annotations

import math
from collections import OrderedDict, defaultdict

from .cases import NATIVE
from .peak import peak_for

FORMAT_ORDER = ("fp32", "int8", "int4", "4.6bit")
PEER_ORDER = ("numpy", "ort-matmulinteger", "ort-matmulnbits", "torch-int-mm", "torch-fbgemm")
GROUP_ORDER = ("square", "cnn", "llm", "deepbench")
# (numerator format, denominator format) speedups shown per shape.
SPEEDUPS = (("int8", "fp32"), ("int4", "fp32"), ("4.6bit", "fp32"), ("int4", "int8"),
            ("4.6bit", "int8"), ("4.6bit", "int4"))


def geomean(xs) -> float | None:
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


class View:
    """Records of one results document indexed for the report."""

    def __init__(self, doc: dict):
        self.doc = doc
        self.by_shape: OrderedDict[tuple, dict] = OrderedDict()
        self.names: dict = {}
        self.groups: dict = {}
        for r in doc["records"]:
            sk = (r["M"], r["N"], r["K"], r["threads"])
            self.by_shape.setdefault(sk, {})[(r["impl"], r["format"], r["tier"])] = r
            self.names.setdefault(sk, r.get("shapes") or [f"{r['M']}x{r['N']}x{r['K']}"])
            self.groups.setdefault(sk, r.get("groups") or ["other"])
        self.tiers = [t for t in _tier_order(doc) if any(
            r["impl"] == "lowbit" and r["tier"] == t for r in doc["records"])]
        self.threads = sorted({r["threads"] for r in doc["records"]})
        present = {r["impl"] for r in doc["records"]}
        self.formats = [f for f in FORMAT_ORDER if any(
            r["impl"] == "lowbit" and r["format"] == f for r in doc["records"])]
        self.peers = [p for p in PEER_ORDER if p in present]
        groups = {g for gs in self.groups.values() for g in gs}
        self.group_list = [g for g in GROUP_ORDER if g in groups] + sorted(
            groups - set(GROUP_ORDER))

    def shapes(self, group: str | None = None, threads: int | None = None) -> list[tuple]:
        return [sk for sk in self.by_shape
                if (group is None or group in self.groups[sk])
                and (threads is None or sk[3] == threads)]

    def lowbit(self, sk, fmt, tier):
        return self.by_shape[sk].get(("lowbit", fmt, tier))

    def peer(self, sk, peer, tier):
        """A peer's record shown in `tier`'s table: its capped run, else its native run."""
        cells = self.by_shape[sk]
        for (impl, _fmt, t), r in cells.items():
            if impl == peer and t == tier:
                return r
        for (impl, _fmt, t), r in cells.items():
            if impl == peer and t == NATIVE:
                return r
        return None

    def speedup(self, sk, num, den, tier) -> float | None:
        a, b = self.lowbit(sk, num, tier), self.lowbit(sk, den, tier)
        return a["gops"] / b["gops"] if a and b else None

    def pct_peak(self, rec) -> float | None:
        peak = peak_for(self.doc.get("peak", {}), rec["format"], rec["tier"])
        return 100.0 * rec["gops"] / (peak * rec["threads"]) if peak else None

    def geomean_speedups(self, tier, threads, group=None) -> dict:
        out = {}
        for num, den in SPEEDUPS:
            vals = [self.speedup(sk, num, den, tier) for sk in self.shapes(group, threads)]
            vals = [v for v in vals if v]
            out[(num, den)] = (geomean(vals), min(vals) if vals else None,
                               max(vals) if vals else None, len(vals))
        return out

    def display_name(self, sk) -> str:
        names = self.names[sk]
        return names[0] + (f" (+{len(names) - 1})" if len(names) > 1 else "")

    def check_failures(self) -> dict:
        bad = defaultdict(int)
        for r in self.doc["records"]:
            if r.get("check", {}).get("exact") is False:
                bad[(r["impl"], r["format"], r["tier"])] += 1
        return dict(bad)


def _tier_order(doc) -> list[str]:
    tiers = doc.get("options", {}).get("tiers", {})
    order: list[str] = []
    for ts in tiers.values():
        for t in ts:
            if t not in order:
                order.append(t)
    return order or sorted({r["tier"] for r in doc["records"] if r["impl"] == "lowbit"})
