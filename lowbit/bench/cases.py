"""Which cases a run measures: lowbit's variants x tiers, and the peers, for every shape."""

from __future__ import annotations

from dataclasses import dataclass

NATIVE = "native"  # tier label of a peer that picks its own ISA (no cap possible)

# Peers: name -> (format it computes, how its tier is chosen).
PEERS = {
    "numpy": ("fp32", NATIVE),                 # numpy @ -> OpenBLAS sgemm
    "ort-matmulinteger": ("int8", NATIVE),     # onnxruntime MatMulInteger u8 x s8
    "ort-matmulnbits": ("int4", NATIVE),       # onnxruntime MatMulNBits 4-bit, accuracy_level=4
    "torch-int-mm": ("int8", "per-tier"),      # torch._int_mm, ONEDNN_MAX_CPU_ISA per tier
    "torch-fbgemm": ("int8", NATIVE),          # torch quantized linear, fbgemm engine
}
PEER_DESCRIPTIONS = {
    "numpy": "numpy matmul (OpenBLAS sgemm), fp32; BLAS threads limited with threadpoolctl",
    "ort-matmulinteger": "onnxruntime MatMulInteger, u8 activations x s8 weights (initializers)",
    "ort-matmulnbits": "onnxruntime com.microsoft MatMulNBits, 4-bit weights, block 32, "
                       "accuracy_level=4 (int8 compute)",
    "torch-int-mm": "torch._int_mm s8 x s8 -> s32, ONEDNN_MAX_CPU_ISA capped per tier (one "
                    "process per tier; the scalar tier is capped at SSE41)",
    "torch-fbgemm": "torch.ops.quantized.linear, fbgemm engine, u8 x s8, prepacked weights",
}


@dataclass(frozen=True)
class Case:
    impl: str      # "lowbit" or a peer name
    format: str
    tier: str
    M: int
    N: int
    K: int
    threads: int

    @property
    def key(self) -> tuple:
        return (self.impl, self.format, self.tier, self.M, self.N, self.K, self.threads)

    @property
    def ops(self) -> int:
        return 2 * self.M * self.N * self.K

    def label(self) -> str:
        what = f"{self.format}@{self.tier}" if self.impl == "lowbit" else f"{self.impl}@{self.tier}"
        return f"{what} {self.M}x{self.N}x{self.K} t{self.threads}"


def impl_columns(formats, tiers, peers) -> list[tuple[str, str, str]]:
    """(impl, format, tier) of every implementation a run measures per shape."""
    cols = [("lowbit", fmt, tier) for fmt in formats for tier in tiers.get(fmt, ())]
    run_tiers = sorted({t for ts in tiers.values() for t in ts})
    for peer in peers:
        fmt, how = PEERS[peer]
        if how == "per-tier":
            from .torch_peer import ONEDNN_ISA
            cols += [(peer, fmt, t) for t in run_tiers if t in ONEDNN_ISA]
        else:
            cols.append((peer, fmt, how))
    return cols


def enumerate_cases(shapes, threads, columns) -> list[Case]:
    """Cases in run order: shape-major, so every implementation of a shape is measured close
    together in time (the fairest comparison on a shared, noisy machine). Shapes with the same
    dimensions (from different sources) are measured once."""
    out, seen = [], set()
    for s in shapes:
        for t in threads:
            for impl, fmt, tier in columns:
                c = Case(impl, fmt, tier, s.M, s.N, s.K, t)
                if c.key not in seen:
                    seen.add(c.key)
                    out.append(c)
    return out
