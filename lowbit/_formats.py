"""Format specifications and the numpy reference GEMM (docs/formats.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FORMATS = ("fp32", "int8", "int4", "4.6bit")


@dataclass(frozen=True)
class FormatSpec:
    """Code ranges and dtypes of one format (with its parameters, for 4.6bit)."""

    name: str
    x_dtype: np.dtype
    w_dtype: np.dtype
    x_range: tuple  # inclusive (lo, hi) of activation codes; None for fp32
    w_range: tuple
    zx_range: tuple
    zw_range: tuple
    params: dict = field(default_factory=dict)

    @property
    def bits(self) -> float:
        """Information per operand pair: half of log2(N_x * N_w) (4.52-4.66 for 4.6bit)."""
        if self.name == "fp32":
            return 32.0
        nx = self.x_range[1] - self.x_range[0] + 1
        nw = self.w_range[1] - self.w_range[0] + 1
        return float(0.5 * np.log2(nx * nw))


def q46_levels(weight_levels: int) -> int:
    """Activation levels N_x allowed with N_w = 2b+1 weight levels: 2*floor(127/b)+1."""
    b = (weight_levels - 1) // 2
    return 2 * (127 // b) + 1


def format_spec(fmt: str, **params) -> FormatSpec:
    """The FormatSpec of `fmt`; validates 4.6bit's (act_levels, weight_levels) pair."""
    if fmt == "fp32":
        return FormatSpec("fp32", np.dtype(np.float32), np.dtype(np.float32), None, None,
                          (0, 0), (0, 0))
    if fmt == "int8":
        return FormatSpec("int8", np.dtype(np.uint8), np.dtype(np.int8), (0, 255), (-128, 127),
                          (0, 255), (-128, 127))
    if fmt == "int4":
        return FormatSpec("int4", np.dtype(np.uint8), np.dtype(np.uint8), (0, 15), (0, 15),
                          (0, 15), (0, 15))
    if fmt == "4.6bit":
        nw = int(params.get("weight_levels", 21))
        if not (3 <= nw <= 255 and nw % 2 == 1):
            raise ValueError(f"4.6bit: weight_levels must be odd and in 3..255, got {nw}")
        nx_rule = q46_levels(nw)
        default_nx = 25 if "weight_levels" not in params else nx_rule
        nx = int(params.get("act_levels", default_nx))
        if nx != nx_rule:
            raise ValueError(
                f"4.6bit: (act_levels, weight_levels) = ({nx}, {nw}) breaks the rule "
                f"N_x = 2*floor(127/b)+1 with N_w = 2b+1; for weight_levels={nw} use "
                f"act_levels={nx_rule}"
            )
        a, b = (nx - 1) // 2, (nw - 1) // 2
        return FormatSpec("4.6bit", np.dtype(np.uint8), np.dtype(np.int8), (0, 2 * a), (-b, b),
                          (0, 2 * a), (0, 0), {"act_levels": nx, "weight_levels": nw})
    raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")


def reference_matmul(x, w, fmt: str, *, zero_point_x: int = 0, zero_point_w: int = 0):
    """The truth the kernels are held to: int64 sum_k (x - zx)(w - zw), or float64 x @ w."""
    if fmt == "fp32":
        return np.asarray(x, np.float64) @ np.asarray(w, np.float64)
    xi = np.asarray(x, np.int64) - zero_point_x
    wi = np.asarray(w, np.int64) - zero_point_w
    return xi @ wi
