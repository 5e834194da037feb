"""Roofline: measured compute peaks and bandwidths, and every case's bound.

Peaks come from the C++ probes (kernels/src/roofline.cpp): one register-resident loop of
independent operations per instruction class the kernels use, one thread, best of many short
trials (on a shared machine the best trial is the one nobody interrupted); a run measures them
before, during and after its cases and keeps each figure's best. Operations are
counted like GOP/s everywhere: 2 per multiply-accumulate. Bandwidth is a streaming read over
a ladder of working-set sizes (L1 .. DRAM), with the widest runnable loads, per thread count.

A case's bound is min(peak x threads, AI x bandwidth): AI = 2MNK / (bytes of A + packed B + C),
the fewest bytes one call can move, and the bandwidth of the largest ladder size not above
that working set (where it sits between calls). Both terms are upper limits, so a case above
100% of its bound means a probe is wrong; the tests check a real run for that.
"""

from __future__ import annotations

# Instruction class of each lowbit kernel, by (format, tier): what its inner loop issues per
# multiply-accumulate (kernels/src/x86/*.cpp, kernels/src/arm/*.cpp).
KERNEL_PROBES = {
    ("fp32", "avx2"): "fma.ymm", ("fp32", "avx512"): "fma.zmm",
    ("int8", "avx2"): "vpmaddwd+vpaddd.ymm", ("int8", "avx512"): "vpmaddwd+vpaddd.zmm",
    ("int4", "avx2"): "vpmaddubsw+vpaddw.ymm", ("4.6bit", "avx2"): "vpmaddubsw+vpaddw.ymm",
    ("int4", "avx512"): "vpmaddubsw+vpaddw.zmm", ("4.6bit", "avx512"): "vpmaddubsw+vpaddw.zmm",
    **{(f, "avxvnni"): "vpdpbusd.ymm" for f in ("int8", "int4", "4.6bit")},
    **{(f, "avx512vnni"): "vpdpbusd.zmm" for f in ("int8", "int4", "4.6bit")},
    **{(f, "amx"): "tdpbusd" for f in ("int8", "int4", "4.6bit")},
    ("fp32", "neon"): "fmla.4s", ("int8", "neon"): "smull+smlal2+sadalp",
    ("int4", "neon"): "mul+sadalp", ("4.6bit", "neon"): "mul+sadalp",
    **{(f, "dotprod"): "sdot" for f in ("int8", "int4", "4.6bit")},
    **{(f, "i8mm"): "smmla" for f in ("int8", "int4", "4.6bit")},
}
FLOAT_PROBES = ("fma.ymm", "fma.zmm", "fmla.4s")
# Working-set sizes of the bandwidth ladder (bytes): L1, L2, L3-ish, DRAM.
LADDER = (16 << 10, 128 << 10, 1 << 20, 8 << 20, 64 << 20, 256 << 20)
ELEM_BYTES = {"fp32": 4, "int8": 1, "int4": 1, "4.6bit": 1}


# Trials of the probes: many short ones, the best kept. On a shared machine a neighbour's
# burst slows a trial down, never up, and a short trial more often fits between bursts: with
# 5 ms trials the streaming read measured 15-29 GB/s from one call to the next here (a Sapphire
# Rapids VM with other jobs on the other core), and the GEMV kernels' ~2 ms benchmark rounds,
# which catch the quiet moments, came out at up to 171% of that bound; with 1 ms trials, 40 of
# them, it read 29.0-29.5 GB/s, and vpdpbusd.zmm 876-891 GOP/s instead of 556-867.
TRIAL_S = 0.001
TRIALS = 40
# A working set this large or larger takes longer than TRIAL_S per pass: fewer trials.
LONG_PASS_BYTES = 32 << 20


def measure(threads=(1,), *, min_time_s: float = TRIAL_S, trials: int = TRIALS) -> dict:
    """Peaks (one thread) and the bandwidth ladder for each thread count."""
    from lowbit import _core

    probes = _core.roofline_probes()
    peaks = {p["name"]: _core.roofline_peak(p["name"], 1, min_time_s, trials)
             for p in probes if p["runnable"]}
    bw: dict = {}
    reader = None
    for t in threads:
        rows = []
        for size in LADDER:
            n = trials if size < LONG_PASS_BYTES else max(5, trials * LONG_PASS_BYTES // size)
            r = _core.roofline_bandwidth(size, t, min_time_s, n)
            rows.append([r["bytes"], r["bytes_per_s"]])
            reader = r["reader"]
        bw[str(t)] = rows
    return {"peaks": peaks, "probes": {p["name"]: {k: p[k] for k in ("tier", "what")}
                                       for p in probes},
            "bandwidth": bw, "reader": reader}


def measurements(stored: dict) -> list[dict]:
    """Every measurement of a results file's roofline section: before the cases, during them
    (lowbit.bench.plugin re-measures every ROOFLINE_EVERY_S) and after."""
    stored = stored or {}
    return [m for m in [stored.get("start"), *stored.get("during", []), stored.get("end")]
            if isinstance(m, dict) and m]


def merge(*measurements) -> dict:
    """The best of several measurements (before, during, after a run): each figure's maximum,
    the machine's capacity when it was least disturbed."""
    ms = [m for m in measurements if m]
    if not ms:
        return {}
    out = {"peaks": {}, "bandwidth": {}, "probes": {}, "reader": ms[0].get("reader")}
    for m in ms:
        out["probes"].update(m.get("probes", {}))
        for k, v in m.get("peaks", {}).items():
            out["peaks"][k] = max(v, out["peaks"].get(k, 0.0))
        for t, rows in m.get("bandwidth", {}).items():
            cur = {size: bps for size, bps in out["bandwidth"].get(t, [])}
            for size, bps in rows:
                cur[size] = max(bps, cur.get(size, 0.0))
            out["bandwidth"][t] = sorted([s, b] for s, b in cur.items())
    return out


def probe_for(rec: dict, roof: dict, allowed_tiers=None) -> str | None:
    """The instruction class bounding a record: its kernel's, or for a peer the fastest probe of
    its number type it may use (all runnable ones when native, those of its cap otherwise)."""
    peaks = roof.get("peaks", {})
    if rec["impl"] == "lowbit":
        p = KERNEL_PROBES.get((rec["format"], rec["tier"]))
        return p if p in peaks else None
    want_float = rec["format"] == "fp32" and rec["impl"] != "ort-matmulnbits"
    cands = [n for n in peaks if (n in FLOAT_PROBES) == want_float
             and (allowed_tiers is None or roof["probes"].get(n, {}).get("tier") in allowed_tiers)]
    return max(cands, key=lambda n: peaks[n]) if cands else None


def working_set(rec: dict) -> int:
    M, N, K = rec["M"], rec["N"], rec["K"]
    fmt = "fp32" if rec["impl"] in ("numpy", "ort-matmulnbits") else rec["format"]
    a = M * K * ELEM_BYTES.get(fmt, 1)
    w = rec.get("weight_bytes") or (K * N * (0.5 if rec["format"] == "int4" else
                                             ELEM_BYTES.get(rec["format"], 1)))
    return int(a + w + M * N * 4)


def bandwidth_for(roof: dict, threads: int, nbytes: int) -> float | None:
    rows = roof.get("bandwidth", {}).get(str(threads)) or roof.get("bandwidth", {}).get("1")
    if not rows:
        return None
    below = [bps for size, bps in rows if size <= nbytes]
    return below[-1] if below else rows[0][1]


def bound(rec: dict, roof: dict, cores: int | None = None, allowed_tiers=None) -> dict | None:
    """{bound_gops, compute_gops, memory_gops, probe, ai, pct} for one record, or None."""
    probe = probe_for(rec, roof, allowed_tiers)
    if probe is None:
        return None
    par = min(rec["threads"], cores or rec["threads"])
    compute = roof["peaks"][probe] * par / 1e9
    nbytes = working_set(rec)
    ai = 2 * rec["M"] * rec["N"] * rec["K"] / nbytes
    bw = bandwidth_for(roof, rec["threads"], nbytes)
    memory = ai * bw / 1e9 if bw else float("inf")
    b = min(compute, memory)
    return {"bound_gops": b, "compute_gops": compute, "memory_gops": memory, "probe": probe,
            "ai": ai, "bound_by": "compute" if compute <= memory else "memory",
            "pct": 100.0 * rec["gops"] / b}
