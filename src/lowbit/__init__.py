"""lowbit: exact low-bit CPU GEMM kernels (fp32, int8, int4, 4.6-bit) and the suite around them.

Public API (docs/architecture.md):

    lowbit.FORMATS
    lowbit.tiers(fmt)
    lowbit.pack_weights(w, fmt, *, zero_point=0, tier=None, **params)
    lowbit.matmul(x, packed, *, zero_point=0, threads=1)
"""

from __future__ import annotations

import copyreg
import weakref
from dataclasses import dataclass
from typing import Optional

import numpy as np

try:
    from . import _core
except ImportError as exc:  # pragma: no cover - only when the extension was never built
    raise ImportError(
        "lowbit's C++ extension lowbit._core is not built or not importable "
        f"({exc}). Install the package (`make install`, or `pip install .`) and import it "
        "from the installed location, not from the source tree."
    ) from exc

from ._formats import FORMATS, FormatSpec, format_spec, reference_matmul

__all__ = [
    "FORMATS",
    "FormatSpec",
    "PackedWeights",
    "Variant",
    "all_tiers",
    "cpu_info",
    "format_spec",
    "matmul",
    "pack_weights",
    "reference_matmul",
    "tiers",
    "variants",
]
__version__ = "0.1.0"

PackedWeights = _core.PackedWeights

_PARAM_NAMES = ("act_levels", "weight_levels")


def _check_format(fmt) -> str:
    if not isinstance(fmt, str):
        raise TypeError(f"format must be a string, one of {FORMATS}; got {type(fmt).__name__}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    return fmt


def _check_int(value, what: str) -> int:
    if type(value) is int:  # the common case, checked first: matmul is called per layer
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, got {type(value).__name__}")
    return int(value)


def tiers(fmt: str) -> list[str]:
    """Tiers compiled in and runnable on this CPU for `fmt`, best first; ends with "scalar".

    Honours LOWBIT_MAX_TIER (a CPU class: only tiers whose features it has are kept).
    """
    return list(_core.tiers(_check_format(fmt)))


def all_tiers() -> list[str]:
    """Every tier this build knows for its architecture, in preference order."""
    return list(_core.all_tiers())


def cpu_info() -> dict:
    """CPU model, architecture and ISA features as detected by the kernels."""
    info = dict(_core.cpu_info())
    info["max_tier"] = _core.max_tier()
    info["build"] = dict(_core.build_info())
    return info


@dataclass(frozen=True)
class Variant:
    """One compiled kernel variant (format x tier x tile) of the registry."""

    name: str
    format: str
    tier: str
    mr: int
    nr: int
    ka: int
    kb: int
    kpad: int
    a_elem: str
    b_elem: str
    acc_bits: int
    mc: int
    kc: int
    nc: int
    runnable: bool
    in_place: bool  # has a form that reads A from x's rows (the driver decides when)
    edge_cols: int  # columns its edge kernel computes for a narrow last panel (0: none)
    edge2_cols: int  # columns of a second, narrower edge kernel ahead of it (0: none)

    def flush_period(self, **params) -> Optional[int]:
        """Depth after which 16-bit partial sums are flushed into int32 (None: 32-bit)."""
        _check_params(self.format, params)
        return _core.flush_period(self.name, **params)


def variants(fmt: Optional[str] = None) -> list[Variant]:
    """Every compiled variant (runnable or not), optionally for one format."""
    if fmt is not None:
        _check_format(fmt)
    out = [Variant(**v) for v in _core.variants()]
    return [v for v in out if fmt is None or v.format == fmt]


def _check_params(fmt: str, params: dict) -> dict:
    unknown = set(params) - set(_PARAM_NAMES)
    if unknown:
        raise TypeError(f"unknown parameter(s) {sorted(unknown)}; formats take {_PARAM_NAMES}")
    if params and fmt != "4.6bit":
        raise ValueError(f"format {fmt!r} takes no parameters, got {sorted(params)}")
    return {k: _check_int(v, k) for k, v in params.items()}


def _as_matrix(a, name: str, dtype: np.dtype) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {a.shape}")
    if a.dtype != dtype:
        raise TypeError(f"{name} has dtype {a.dtype}, expected {np.dtype(dtype)} for this format")
    # Any strides (transposed views, slices, Fortran order) are accepted: copied to C order.
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def pack_weights(w, fmt: str, *, zero_point: int = 0, tier: Optional[str] = None, **params):
    """Pack a (K, N) weight matrix once for `fmt` on `tier` (None = best runnable tier).

    int8: int8 weights; int4: uint8 codes 0..15 (stored two per byte); 4.6bit: int8 in
    [-b, b] with params act_levels/weight_levels (default 25, 21); fp32: float32.
    """
    spec = format_spec(_check_format(fmt), **_check_params(fmt, params))
    zero_point = _check_int(zero_point, "zero_point")
    if tier is not None and not isinstance(tier, str):
        raise TypeError(f"tier must be a string or None, got {type(tier).__name__}")
    w = _as_matrix(w, "w", spec.w_dtype)
    if w.shape[0] < 1 or w.shape[1] < 1:
        raise ValueError(f"w must have K >= 1 and N >= 1, got shape {w.shape}")
    packed = _core.pack_weights(w, fmt, zero_point, tier, spec.params.get("act_levels"),
                                spec.params.get("weight_levels"))
    # What pickle/copy need to re-pack on load (a private copy: the caller may change w).
    _PACK_SOURCES[packed] = (np.array(w, copy=True), fmt, zero_point, tier, dict(params))
    return packed


# Packed buffers are tied to a kernel variant of this process's CPU, so pickling stores the
# source weights and arguments and re-packs on load (copy.deepcopy and multiprocessing too).
_PACK_SOURCES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _repack(w, fmt, zero_point, tier, params):
    return pack_weights(w, fmt, zero_point=zero_point, tier=tier, **params)


def _reduce_packed(packed):
    src = _PACK_SOURCES.get(packed)
    if src is None:
        raise TypeError("these PackedWeights were not made by lowbit.pack_weights; "
                        "pickle the source weights instead")
    return _repack, src


copyreg.pickle(PackedWeights, _reduce_packed)


def matmul(x, packed, *, zero_point: int = 0, threads: int = 1) -> np.ndarray:
    """(M, K) activations times packed (K, N) weights.

    Integer formats: exact int32 sum_k (x - zero_point)(w - w_zero_point).
    fp32: float32 x @ w.
    """
    # Every check (types, shape, dtype, ranges; non-C-contiguous x copied) is made in C++,
    # with the same messages as the checks here: one crossing per call (kernels/src/bindings.cpp).
    return _core.matmul(x, packed, zero_point, threads)
