"""Random operands for one benchmark case, in the value ranges each format accepts.

Zero points are the usual ones for each scheme (docs/formats.md): int8 activations asymmetric
(zero point 128) with symmetric weights; int4 asymmetric on both sides (the 2020 paper);
4.6-bit activations after ReLU (zero point 0) with symmetric weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# (x low, x high, w low, w high, x zero point, w zero point, params); inclusive ranges.
_FALLBACK = {
    "fp32": None,
    "int8": (0, 255, -128, 127, 128, 0, {}),
    "int4": (0, 15, 0, 15, 8, 8, {}),
    "4.6bit": (0, 24, -10, 10, 0, 0, {"act_levels": 25, "weight_levels": 21}),
}


@dataclass
class Operands:
    x: np.ndarray
    w: np.ndarray
    zero_point_x: int = 0
    zero_point_w: int = 0
    params: dict = field(default_factory=dict)


def make_operands(fmt: str, M: int, N: int, K: int, seed: int = 0) -> Operands:
    if fmt not in _FALLBACK:
        raise ValueError(f"unknown format {fmt!r}")
    rng = np.random.default_rng(seed)
    if fmt == "fp32":
        return Operands(rng.standard_normal((M, K), dtype=np.float32),
                        rng.standard_normal((K, N), dtype=np.float32))
    xl, xh, wl, wh, zx, zw, params = _FALLBACK[fmt]
    xdt = np.uint8
    wdt = np.uint8 if fmt == "int4" else np.int8
    x = rng.integers(xl, xh + 1, size=(M, K), dtype=np.int16).astype(xdt)
    w = rng.integers(wl, wh + 1, size=(K, N), dtype=np.int16).astype(wdt)
    return Operands(x, w, zx, zw, dict(params))
