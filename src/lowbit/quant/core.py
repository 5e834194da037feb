"""quantize / dequantize and the QTensor result type."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import calibrate as cal
from .schemes import Scheme, scheme


@dataclass(frozen=True)
class QTensor:
    """Quantized tensor: real value = scale * (q - zero_point), q = stored integer.

    codes: the stored codes, in the dtype the kernels take (docs/architecture.md); for DyBit
      the bit patterns (uint8), whose integer values are `values()`.
    scale, zero_point: 1-D arrays, length 1 per tensor or the size of `axis` per channel.
    """

    codes: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray
    fmt: str
    role: str
    axis: int | None
    symmetric: bool
    params: dict = field(default_factory=dict)

    @property
    def scheme(self) -> Scheme | None:
        if self.fmt == "fp32":
            return None
        return scheme(self.fmt, self.role, self.symmetric, **self.params)

    def values(self) -> np.ndarray:
        """Stored integers q (decoded for DyBit), int32; float32 codes for fp32."""
        if self.fmt == "fp32":
            return self.codes
        return self.scheme.from_storage(self.codes)

    def _bshape(self) -> tuple[int, ...]:
        shape = [1] * self.codes.ndim
        if self.axis is not None:
            shape[self.axis] = -1
        return tuple(shape)

    def dequantize(self) -> np.ndarray:
        if self.fmt == "fp32":
            return self.codes.astype(np.float64)
        s = self.scale.reshape(self._bshape())
        z = self.zero_point.reshape(self._bshape())
        return (self.values().astype(np.float64) - z) * s


def dequantize(qt: QTensor) -> np.ndarray:
    """float64 reconstruction scale * (q - zero_point)."""
    return qt.dequantize()


# Above this magnitude squares overflow float64 (MMSE) and so can range widths.
_HUGE = 1e150


def _groups(x: np.ndarray, axis: int | None) -> tuple[np.ndarray, int | None]:
    if axis is None:
        return x.reshape(1, -1), None
    if x.ndim == 0:
        raise ValueError("per-channel quantization needs at least one dimension")
    ax = axis % x.ndim if -x.ndim <= axis < x.ndim else None
    if ax is None:
        raise ValueError(f"axis {axis} out of range for a {x.ndim}-D tensor")
    return np.moveaxis(x, ax, 0).reshape(x.shape[ax], -1), ax


def _as_float(x) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise TypeError(f"quantize needs a real numeric array, got dtype {x.dtype}")
    x = x.astype(np.float64)
    if x.size == 0:
        raise ValueError("cannot quantize an empty array")
    if not np.all(np.isfinite(x)):
        raise ValueError("cannot quantize NaN or infinite values")
    return x


def calibrate(
    x,
    fmt: str,
    *,
    method: str = "minmax",
    axis: int | None = None,
    role: str = "weight",
    symmetric: bool | None = None,
    percentile: float = 99.99,
    grid: int = 64,
    **params,
) -> tuple[np.ndarray, np.ndarray]:
    """Scales and zero points (1-D arrays) of x for a format, role and method."""
    x = _as_float(x)
    big = float(np.max(np.abs(x)))
    if big > _HUGE:
        # Squared errors (MMSE) and range widths overflow float64 near its limit: calibrate
        # the data scaled down by a power of two (exact) and scale the result back.
        e = int(np.frexp(big)[1])  # big < 2**e; 2**e itself may not be representable
        s, z = calibrate(np.ldexp(x, -e), fmt, method=method, axis=axis, role=role,
                         symmetric=symmetric, percentile=percentile, grid=grid, **params)
        return np.ldexp(s, e), z
    sch = scheme(fmt, role, symmetric, **params)
    x2, ax = _groups(x, axis)
    if method == "minmax":
        return cal.minmax(x2, sch)
    if method == "percentile":
        return cal.percentile(x2, sch, percentile)
    if method == "mmse":
        extra = ()
        if ax is not None:
            # Handing the per-tensor optimum to every channel's search makes per-channel
            # MMSE never worse than per-tensor MMSE on the same data.
            extra = (cal.mmse(x.reshape(1, -1), sch, grid=grid),)
        return cal.mmse(x2, sch, grid=grid, candidates=extra)
    raise ValueError(f"method must be one of {cal.METHODS}, got {method!r}")


def quantize(
    x,
    fmt: str,
    *,
    method: str = "minmax",
    axis: int | None = None,
    role: str = "weight",
    symmetric: bool | None = None,
    scale=None,
    zero_point=None,
    **kwargs,
) -> QTensor:
    """Quantize x to a format.

    fmt: "int8", "int4", "4.6bit" (params act_levels, weight_levels), "dybit" (params bits=4|8,
      signed), or "fp32" (identity: the codes are x as float32, scale 1, zero point 0).
    method: "minmax", "percentile" (param percentile=99.99) or "mmse" (param grid=64).
    axis: None for one scale per tensor, else the channel axis (one scale per index of it).
    role: "weight" or "activation": picks the stored dtype and zero-point rules of the kernels.
    scale, zero_point: use these instead of calibrating (static activation quantization).
    """
    kwargs = dict(kwargs)
    cal_keys = {k: kwargs.pop(k) for k in ("percentile", "grid") if k in kwargs}
    if fmt == "fp32":
        if kwargs:
            raise ValueError(f"fp32: takes no format parameters, got {sorted(kwargs)}")
        x32 = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
        return QTensor(x32, np.ones(1), np.zeros(1, np.int64), "fp32", role, None, True, {})
    xf = _as_float(x)
    sch = scheme(fmt, role, symmetric, **kwargs)
    x2, ax = _groups(xf, axis)
    if scale is None:
        if zero_point is not None:
            raise ValueError("zero_point given without scale")
        s, z = calibrate(xf, fmt, method=method, axis=axis, role=role, symmetric=symmetric,
                         **cal_keys, **kwargs)
    else:
        s = np.atleast_1d(np.asarray(scale, dtype=np.float64))
        z = np.atleast_1d(np.asarray(sch.zero_fixed if zero_point is None else zero_point))
        if z.dtype.kind not in "iu" and not np.all(z == np.rint(z)):
            raise ValueError("zero points must be integers")
        z = z.astype(np.int64)
        if s.shape != (x2.shape[0],) and s.shape != (1,):
            raise ValueError(f"scale has shape {s.shape}, expected ({x2.shape[0]},) or (1,)")
        s, z = np.broadcast_to(s, (x2.shape[0],)).copy(), np.broadcast_to(z, (x2.shape[0],)).copy()
        if np.any(s <= 0) or not np.all(np.isfinite(s)):
            raise ValueError("scales must be positive and finite")
        lo, hi = (sch.zero_fixed, sch.zero_fixed) if sch.symmetric else (sch.zp_min, sch.zp_max)
        if np.any(z < lo) or np.any(z > hi):
            raise ValueError(f"{fmt} {role} zero points must lie in {lo}..{hi}")
    q = sch.round(x2 / s[:, None] + z[:, None])
    codes = sch.to_storage(q)
    if ax is None:
        codes = codes.reshape(xf.shape)
    else:
        moved = (xf.shape[ax],) + tuple(d for i, d in enumerate(xf.shape) if i != ax)
        codes = np.moveaxis(codes.reshape(moved), 0, ax)
    return QTensor(np.ascontiguousarray(codes), s, z, fmt, role, ax, sch.symmetric,
                   dict(sch.params))
