"""DyBit numbers, *as reconstructed here* (docs/quantization.md, shared papers.md section 4).

The DyBit paper (Zhou et al. 2023) describes a variable-length encoding whose bit-fields trade
precision for range; its exact bit layout is not available to us.  This module implements the
family its abstract describes and nothing more is claimed:

    [sign] [range field: a run of e ones, ended by a zero unless it fills the field] [mantissa]

For an m-bit magnitude field (m = bits - 1 when signed, m = bits when unsigned):

    e < m :  magnitude = e * 2**(m-1) + mantissa * 2**e     (m - 1 - e mantissa bits)
    e = m :  magnitude = m * 2**(m-1)                        (all ones, no terminator)

so every run length e covers a band of width 2**(m-1) with step 2**e: fine steps near zero,
coarse steps and more range far from it (tapered).  All magnitudes are integers on one common
grid (unit = the finest step), which is what lets a DyBit GEMM run on the int8 kernel after a
lookup decode.  A negative zero code exists (sign-magnitude) and decodes to 0; encoding 0
always gives the positive-zero code.

The value table of each width is built by `value_table` only; everything else (encode,
decode, the report's printed tables) reads it from there.
"""

from __future__ import annotations

from functools import cache

import numpy as np

WIDTHS = (4, 8)


def _magnitude(field: int, m: int) -> int:
    run = 0
    while run < m and field & (1 << (m - 1 - run)):
        run += 1
    if run == m:
        return m << (m - 1)
    mantissa = field & ((1 << (m - 1 - run)) - 1)
    return run * (1 << (m - 1)) + (mantissa << run)


@cache
def _table(bits: int, signed: bool) -> np.ndarray:
    if bits not in WIDTHS:
        raise ValueError(f"DyBit width must be one of {WIDTHS}, got {bits}")
    m = bits - 1 if signed else bits
    values = np.empty(1 << bits, dtype=np.int32)
    for code in range(1 << bits):
        mag = _magnitude(code & ((1 << m) - 1), m)
        negative = signed and bool(code >> m)
        values[code] = -mag if negative else mag
    values.setflags(write=False)
    return values


def value_table(bits: int = 4, signed: bool = True) -> np.ndarray:
    """Integer value of every code 0 .. 2**bits - 1 (read-only int32 array)."""
    return _table(int(bits), bool(signed))


@cache
def _grid(bits: int, signed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    table = _table(bits, signed)
    levels, first_code = np.unique(table, return_index=True)  # smallest code per value
    midpoints = (levels[1:] + levels[:-1]) / 2.0
    for a in (levels, first_code, midpoints):
        a.setflags(write=False)
    return levels, first_code.astype(np.uint8), midpoints


@cache
def _half_step_lut(bits: int, signed: bool) -> tuple[int, np.ndarray]:
    # Levels are integers, so every midpoint is a multiple of 1/2 and the nearest level of u
    # depends only on floor(2u): one table lookup replaces a binary search per element.
    levels, _, mid = _grid(bits, signed)
    first = 2 * int(levels[0]) - 1
    halves = np.arange(first, 2 * int(levels[-1]) + 1) / 2.0
    lut = np.searchsorted(mid, halves, side="right").astype(np.intp)
    lut.setflags(write=False)
    return first, lut


def _nearest_index(u: np.ndarray, bits: int, signed: bool) -> np.ndarray:
    first, lut = _half_step_lut(bits, signed)
    u = np.asarray(u, dtype=np.float64)
    if np.isnan(u).any():  # +-inf saturate like any large value; NaN has no nearest level
        raise ValueError("DyBit cannot encode NaN")
    k = np.floor(u * 2.0)
    np.clip(k, first, first + lut.size - 1, out=k)
    return lut[(k - first).astype(np.intp)]


def levels(bits: int = 4, signed: bool = True) -> np.ndarray:
    """Distinct representable integer values, ascending."""
    return _grid(int(bits), bool(signed))[0]


def round_to_grid(u: np.ndarray, bits: int = 4, signed: bool = True) -> np.ndarray:
    """Nearest representable value (ties go up), saturating at the ends; float array."""
    lv = _grid(int(bits), bool(signed))[0].astype(np.float64)
    return lv[_nearest_index(u, int(bits), bool(signed))]


def encode(values: np.ndarray, bits: int = 4, signed: bool = True) -> np.ndarray:
    """Codes (uint8) of the nearest representable value of each element."""
    codes = _grid(int(bits), bool(signed))[1]
    return codes[_nearest_index(values, int(bits), bool(signed))]


def decode(codes: np.ndarray, bits: int = 4, signed: bool = True) -> np.ndarray:
    """Integer values (int32) of the codes."""
    codes = np.asarray(codes)
    if codes.size and (codes.min() < 0 or codes.max() >= (1 << int(bits))):
        raise ValueError(f"DyBit-{bits} codes must lie in 0..{(1 << int(bits)) - 1}")
    return value_table(bits, signed)[codes.astype(np.intp)]


def table_rows(bits: int = 4, signed: bool = True) -> list[tuple[str, int]]:
    """(bit pattern, value) rows for the report."""
    return [(format(c, f"0{bits}b"), int(v)) for c, v in enumerate(value_table(bits, signed))]
