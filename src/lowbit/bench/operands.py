"""Random operands for one benchmark case, in the value ranges each format accepts.

Zero points are the usual ones for each scheme (docs/formats.md): int8 activations asymmetric
(zero point 128) with symmetric weights; int4 asymmetric on both sides (the 2020 paper);
4.6-bit activations after ReLU (zero point 0) with symmetric weights.

Weights depend only on (format, K, N) and activations on (format, M, K), and both are cached:
the LLM shapes have 45M-element weight matrices, and generating them once per shape instead of
once per implementation keeps the default suite inside its time budget. Callers must not
modify the arrays they get.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

import lowbit

# The benchmark's zero points (x, w) per integer format: a choice of scheme, not a format
# rule. The value ranges and parameters come from lowbit.format_spec (the kernels' rules).
ZERO_POINTS = {"int8": (128, 0), "int4": (8, 8), "4.6bit": (0, 0)}
_X_SEED, _W_SEED = 1, 2


@dataclass
class Operands:
    x: np.ndarray
    w: np.ndarray
    zero_point_x: int = 0
    zero_point_w: int = 0
    params: dict = field(default_factory=dict)


@lru_cache(maxsize=8)  # one per format and role: a shape's implementations share them
def _operand(fmt: str, role: str, shape: tuple) -> np.ndarray:
    """Read-only random codes of one operand ("x" or "w") in the format's range."""
    spec = lowbit.format_spec(fmt)
    rng = np.random.default_rng(_X_SEED if role == "x" else _W_SEED)
    if fmt == "fp32":
        a = rng.standard_normal(shape, dtype=np.float32)
    else:
        (low, high), dtype = getattr(spec, f"{role}_range"), getattr(spec, f"{role}_dtype")
        a = rng.integers(low, high, size=shape, dtype=dtype, endpoint=True)
    a.flags.writeable = False
    return a


def make_operands(fmt: str, M: int, N: int, K: int) -> Operands:
    spec = lowbit.format_spec(fmt)  # ValueError for an unknown format
    x, w = _operand(fmt, "x", (M, K)), _operand(fmt, "w", (K, N))
    if fmt == "fp32":
        return Operands(x, w)
    zx, zw = ZERO_POINTS[fmt]
    return Operands(x, w, zx, zw, dict(spec.params))
