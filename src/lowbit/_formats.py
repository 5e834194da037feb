"""Format specifications and the numpy reference GEMM (docs/formats.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _core

# The kernels' list and rules (kernels/src/formats.cpp): Python keeps no copy of them.
FORMATS = tuple(_core.formats())


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


def format_spec(fmt: str, **params) -> FormatSpec:
    """The FormatSpec of `fmt`, from the kernels' rules; validates 4.6bit's
    (act_levels, weight_levels) pair and fills in the defaults (25, 21) / the rule's N_x."""
    unknown = set(params) - {"act_levels", "weight_levels"}
    if unknown:
        raise TypeError(f"unknown parameter(s) {sorted(unknown)}; formats take "
                        "('act_levels', 'weight_levels')")
    info = _core.format_info(fmt, **params)
    return FormatSpec(info["name"], np.dtype(info["x_dtype"]), np.dtype(info["w_dtype"]),
                      info["x_range"], info["w_range"], info["zx_range"], info["zw_range"],
                      dict(info["params"]))


def reference_matmul(x, w, fmt: str, *, zero_point_x: int = 0, zero_point_w: int = 0):
    """The truth the kernels are held to: int64 sum_k (x - zx)(w - zw), or float64 x @ w."""
    if fmt == "fp32":
        return np.asarray(x, np.float64) @ np.asarray(w, np.float64)
    xi = np.asarray(x, np.int64) - zero_point_x
    wi = np.asarray(w, np.int64) - zero_point_w
    return xi @ wi
