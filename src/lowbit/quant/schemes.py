"""The integer grid of each (format, role): stored code range, zero points, storage dtype.

These follow the kernel contract in docs/architecture.md, so quantized codes can be handed to
`lowbit.pack_weights` / `lowbit.matmul` as they are:

| format | weights                              | activations                          |
|--------|--------------------------------------|--------------------------------------|
| int8   | int8 -128..127, zero point -128..127 | uint8 0..255, zero point 0..255      |
| int4   | uint8 0..15, zero point 0..15        | uint8 0..15, zero point 0..15        |
| 4.6bit | int8 in [-b, b], zero point 0 only   | uint8 0..N_x-1, zero point 0..N_x-1  |
| dybit  | uint8 DyBit codes, signed table      | uint8 DyBit codes, unsigned table    |

A real value is s * (q - z), q the stored integer (the decoded value for DyBit).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._formats import format_spec
from . import dybit

ROLES = ("weight", "activation")
QUANT_FORMATS = ("fp32", "int8", "int4", "4.6bit", "dybit")


def levels_46(act_levels: int | None = None, weight_levels: int | None = None) -> tuple[int, int]:
    """Validated (N_x, N_w) of the 4.6-bit format (N_w = 2b+1, N_x = 2*floor(127/b)+1), with
    the kernels' defaults and errors (lowbit.format_spec; kernels/src/formats.cpp)."""
    given = {k: v for k, v in (("act_levels", act_levels), ("weight_levels", weight_levels))
             if v is not None}
    p = format_spec("4.6bit", **given).params
    return p["act_levels"], p["weight_levels"]


DEFAULT_46 = levels_46()


@dataclass(frozen=True)
class Scheme:
    """Stored-integer grid of one format and role, in symmetric or asymmetric mode."""

    fmt: str
    role: str
    symmetric: bool
    qmin: int  # smallest stored integer the mode uses
    qmax: int
    zero_fixed: int  # the zero point in symmetric mode
    zp_min: int  # zero-point bounds in asymmetric mode
    zp_max: int
    storage: type
    params: dict = field(default_factory=dict)

    @property
    def nonuniform(self) -> bool:
        return self.fmt == "dybit"

    def round(self, u: np.ndarray) -> np.ndarray:
        """Nearest stored integer of u = x/s + z, saturating (float array)."""
        if self.nonuniform:
            return dybit.round_to_grid(u, self.params["bits"], self.params["signed"])
        return np.clip(np.rint(u), self.qmin, self.qmax)

    def to_storage(self, q: np.ndarray) -> np.ndarray:
        if self.nonuniform:
            return dybit.encode(q, self.params["bits"], self.params["signed"])
        return q.astype(self.storage)

    def from_storage(self, codes: np.ndarray) -> np.ndarray:
        if self.nonuniform:
            return dybit.decode(codes, self.params["bits"], self.params["signed"])
        return np.asarray(codes).astype(np.int32)

    @property
    def pos_range(self) -> int:
        """Largest q - z for the symmetric mode (the clipping range in steps)."""
        return self.qmax - self.zero_fixed

    @property
    def neg_range(self) -> int:
        return self.zero_fixed - self.qmin


def scheme(fmt: str, role: str = "weight", symmetric: bool | None = None, **params) -> Scheme:
    """The Scheme of a format and role; `symmetric=None` picks the format's default.

    Defaults follow the papers' code: int8 and int4 asymmetric (zero points), 4.6-bit weights
    symmetric (the only option) and activations asymmetric, DyBit symmetric (sign-magnitude).
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    weight = role == "weight"
    if fmt == "int8":
        _no_params(fmt, params)
        sym = bool(symmetric)
        if weight:  # symmetric weights use -127..127 so that -q is representable
            return Scheme(fmt, role, sym, -127 if sym else -128, 127, 0, -128, 127, np.int8)
        return Scheme(fmt, role, sym, 1 if sym else 0, 255, 128, 0, 255, np.uint8)
    if fmt == "int4":
        _no_params(fmt, params)
        sym = bool(symmetric)
        return Scheme(fmt, role, sym, 1 if sym else 0, 15, 8, 0, 15, np.uint8)
    if fmt == "4.6bit":
        n_x, n_w = levels_46(params.get("act_levels"), params.get("weight_levels"))
        extra = set(params) - {"act_levels", "weight_levels"}
        if extra:
            raise ValueError(f"4.6bit: unknown parameters {sorted(extra)}")
        p = {"act_levels": n_x, "weight_levels": n_w}
        if weight:
            if symmetric is False:
                raise ValueError("4.6bit weights are symmetric (zero point 0 only)")
            b = (n_w - 1) // 2
            return Scheme(fmt, role, True, -b, b, 0, 0, 0, np.int8, p)
        sym = bool(symmetric)
        a = (n_x - 1) // 2
        return Scheme(fmt, role, sym, 0, n_x - 1, a, 0, n_x - 1, np.uint8, p)
    if fmt == "dybit":
        bits = int(params.get("bits", 4))
        signed = bool(params.get("signed", weight))
        extra = set(params) - {"bits", "signed"}
        if extra:
            raise ValueError(f"dybit: unknown parameters {sorted(extra)}")
        if symmetric is False:
            raise ValueError("dybit is sign-magnitude: symmetric only (zero point 0)")
        lv = dybit.levels(bits, signed)
        return Scheme(fmt, role, True, int(lv[0]), int(lv[-1]), 0, 0, 0, np.uint8,
                      {"bits": bits, "signed": signed})
    if fmt == "fp32":
        raise ValueError("fp32 has no integer grid")
    raise ValueError(f"unknown format {fmt!r}; expected one of {QUANT_FORMATS}")


def _no_params(fmt: str, params: dict) -> None:
    if params:
        raise ValueError(f"{fmt}: takes no format parameters, got {sorted(params)}")
