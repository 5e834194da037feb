"""Which cases a run measures: lowbit's kernels (format x runnable tier), and the peers, for
every shape of a suite and every thread count. One case is one pytest-benchmark benchmark
(bench/test_gemm.py); its group is the shape and thread count, so the kernels and the peers
they compete with sit in the same group of `pytest-benchmark compare`."""

from __future__ import annotations

NATIVE = "native"  # tier label of a peer that picks its own ISA (no cap possible)

# Peers: name -> (format it computes, how its tier is chosen).
PEERS = {
    "numpy": ("fp32", NATIVE),                 # numpy @ -> OpenBLAS sgemm
    "ort-matmulinteger": ("int8", NATIVE),     # onnxruntime MatMulInteger u8 x s8
    "ort-matmulnbits": ("int4", NATIVE),       # onnxruntime MatMulNBits 4-bit, accuracy_level=4
    "torch-int-mm": ("int8", "per-class"),     # torch._int_mm, ONEDNN_MAX_CPU_ISA per CPU class
    "torch-fbgemm": ("int8", NATIVE),          # torch quantized linear, fbgemm engine
}
PEER_DESCRIPTIONS = {
    "numpy": "numpy matmul (OpenBLAS sgemm), fp32; BLAS threads limited with threadpoolctl",
    "ort-matmulinteger": "onnxruntime MatMulInteger, u8 activations x s8 weights (initializers)",
    "ort-matmulnbits": "onnxruntime com.microsoft MatMulNBits, 4-bit weights, block 32, "
                       "accuracy_level=4 (int8 compute)",
    "torch-int-mm": "torch._int_mm s8 x s8 -> s32, ONEDNN_MAX_CPU_ISA capped per CPU class (one "
                    "process per cap; the scalar reference is capped at SSE41)",
    "torch-fbgemm": "torch.ops.quantized.linear, fbgemm engine, u8 x s8, prepacked weights",
}
# lowbit tier (as a CPU class) -> oneDNN ISA cap. oneDNN has no scalar path; its lowest x86
# ISA stands in. oneDNN reads the cap once, when it initialises: one process per cap.
ONEDNN_ISA = {
    "scalar": "SSE41",
    "avx2": "AVX2",
    "avx512": "AVX512_CORE",
    "avxvnni": "AVX2_VNNI",
    "avx512vnni": "AVX512_CORE_VNNI",
    "amx": "AVX512_CORE_AMX",
}
MAIN = "main"  # the process of every case but the torch ones


def case_id(impl, fmt, tier, M, N, K, threads) -> str:
    what = f"{fmt}-{tier}" if impl == "lowbit" else f"{impl}-{tier}"
    return f"{what}-{M}x{N}x{K}-t{threads}"


def process_of(impl: str, tier: str) -> str:
    """The process a case runs in: torch ones in one process per ISA cap."""
    if not impl.startswith("torch-"):
        return MAIN
    return "torch-native" if tier == NATIVE else f"torch-{tier}"


def onednn_cap(process: str) -> str | None:
    tier = process[len("torch-"):] if process.startswith("torch-") else None
    return ONEDNN_ISA.get(tier) if tier and tier != NATIVE else None


def impl_columns(formats, tiers: dict, peers, classes) -> list[tuple[str, str, str]]:
    """(impl, format, tier) of every implementation a run measures per shape."""
    cols = [("lowbit", fmt, tier) for fmt in formats for tier in tiers.get(fmt, ())]
    for peer in peers:
        fmt, how = PEERS[peer]
        if how == "per-class":
            cols += [(peer, fmt, c) for c in classes if c in ONEDNN_ISA]
        else:
            cols.append((peer, fmt, how))
    return cols


def plan(shapes, threads, columns, groups_of) -> list[dict]:
    """Cases in run order: shape-major, so every implementation of a shape is measured close
    together in time (the fairest comparison on a shared, noisy machine). Shapes with the same
    dimensions (from different sources) are measured once, under all their names."""
    names: dict = {}
    for s in shapes:
        names.setdefault(s.dims, []).append(s.name)
    out, seen = [], set()
    for s in shapes:
        for t in threads:
            for impl, fmt, tier in columns:
                cid = case_id(impl, fmt, tier, s.M, s.N, s.K, t)
                if cid in seen:
                    continue
                seen.add(cid)
                out.append({"id": cid, "impl": impl, "format": fmt, "tier": tier,
                            "M": s.M, "N": s.N, "K": s.K, "threads": t,
                            "ops": 2 * s.M * s.N * s.K, "shapes": names[s.dims],
                            "groups": groups_of(s.dims), "process": process_of(impl, tier)})
    return out


def group_name(case: dict) -> str:
    """pytest-benchmark group: the shape and thread count."""
    return f"{case['shapes'][0]} {case['M']}x{case['N']}x{case['K']} t{case['threads']}"
