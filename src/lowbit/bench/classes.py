"""CPU classes: the LOWBIT_MAX_TIER values a report is organised by.

A class is a tier name used as a cap: under class C every format runs its best kernel whose
tier needs only features C has (the library's own rule, kernels/src/registry.cpp). This CPU's
class is its best tier the CPU can run, ignoring LOWBIT_MAX_TIER; a process capped by
LOWBIT_MAX_TIER has the classes at and below the cap (`top` is the best of them). On a VNNI
CPU, under the class `avx512vnni`, fp32 runs its `avx512` kernel and int8 its `avx512vnni` one.
The scalar tier is the portable reference, not a CPU: it is reported apart.

The papers measured ARMv8 NEON without an int8 dot-product instruction: the classes whose
features have none (x86: avx2, avx512; aarch64: neon) are the comparable situation.
"""

from __future__ import annotations

REFERENCE = "scalar"
# CPU features that give int8 a dot-product (4 products into an int32 lane) or matrix instruction.
DOT_PRODUCT_FEATURES = frozenset({"avx512vnni", "avxvnni", "amx-int8", "asimddp", "i8mm"})


def kernel_tier(fmt_tiers: list[str], cls_features: set, features_of) -> str | None:
    """The best of `fmt_tiers` (preference order) whose features the class has."""
    for t in fmt_tiers:
        if set(features_of(t)) <= cls_features:
            return t
    return None


def native_class() -> str:
    """This CPU's own class: its best tier, whether or not LOWBIT_MAX_TIER hides it."""
    import lowbit
    from lowbit import _core

    for t in lowbit.all_tiers():
        why = _core.tier_unavailable_reason(t)
        if not why or "LOWBIT_MAX_TIER" in why:
            return t
    return REFERENCE


def class_table() -> dict:
    """This machine's classes (honouring LOWBIT_MAX_TIER), best first, and per class the tier
    each format's kernel has under it. Stored in the fingerprint; the report reads it there.

    this_cpu: the CPU's own class (not capped); top: the best class of this process (the cap,
    when LOWBIT_MAX_TIER is set); cap: LOWBIT_MAX_TIER or None; papers_classes: the CPU classes
    without an int8 dot-product instruction, papers_class the best of them."""
    import lowbit
    from lowbit import _core

    fmt_tiers = {f: list(lowbit.tiers(f)) for f in lowbit.FORMATS}
    allowed = {t for ts in fmt_tiers.values() for t in ts}
    order = [t for t in lowbit.all_tiers() if t in allowed]
    classes = []
    for c in order:
        feats = set(_core.tier_features(c))
        kernels = {f: kernel_tier(ts, feats, _core.tier_features) for f, ts in fmt_tiers.items()}
        classes.append({"name": c, "features": sorted(feats), "kernels": kernels,
                        "int8_dot_product": bool(feats & DOT_PRODUCT_FEATURES)})
    cpu = [c for c in classes if c["name"] != REFERENCE]
    papers = [c["name"] for c in cpu if not c["int8_dot_product"]]
    return {"this_cpu": native_class(), "top": cpu[0]["name"] if cpu else REFERENCE,
            "cap": _core.max_tier() or None, "classes": classes, "reference": REFERENCE,
            "papers_class": papers[0] if papers else None, "papers_classes": papers}


def top_class(table: dict) -> str | None:
    """The best class of a stored table (tables written before `top` existed: this_cpu)."""
    table = table or {}
    return table.get("top") or table.get("this_cpu")


def papers_classes(table: dict) -> list[str]:
    """CPU classes of a stored table in the papers' situation (no int8 dot product)."""
    table = table or {}
    if "papers_classes" in table:
        return list(table["papers_classes"])
    return [c["name"] for c in cpu_classes(table) if not c.get("int8_dot_product")]


def cpu_classes(table: dict) -> list[dict]:
    """The CPU classes of a stored table, best first, without the scalar reference."""
    return [c for c in (table or {}).get("classes", []) if c["name"] != REFERENCE]


def reference_class(table: dict) -> dict | None:
    return next((c for c in (table or {}).get("classes", []) if c["name"] == REFERENCE), None)
