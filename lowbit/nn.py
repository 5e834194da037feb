"""Quantized layers that run on the lowbit kernels: quantize -> pack_weights -> matmul -> rescale.

`QuantLinear` computes y = x @ W + b (W of shape (K, N)) in any format; `QuantConv2d` is the
same GEMM over im2col patches (NHWC, stride 1).  Integer paths keep the kernel result exact
(int32) and rescale once per output: y[:, j] = s_x * s_w[j] * acc[:, j] + b[j].

Things the kernels do not do themselves and that are done here, exactly, in int64:
- per-channel weight zero points (the kernel takes one per tensor): acc_j -= z_w[j] * rowsum(x - z_x);
- multi-tensor residuals (lowbit.quant.residual): one more GEMM over the refined columns;
- DyBit: codes are decoded by table lookup to integers and multiplied with the int8 kernel.
  Decoded values wider than a byte (DyBit-8) are split into byte digits, one GEMM per digit
  pair, combined with their place values; activations are shifted to be non-negative and the
  shift is removed with the weights' column sums.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from time import perf_counter

import numpy as np

import lowbit
from lowbit.quant import QTensor, calibrate, quantize, quantize_residual
from lowbit.quant import dybit as _dybit

INT_FORMATS = ("int8", "int4", "4.6bit")
NN_FORMATS = ("fp32",) + INT_FORMATS + ("dybit",)


class KernelClock:
    """Wall time spent inside lowbit.matmul while it is active (see kernel_clock)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self.by_layer: dict[int, float] = {}  # id(QuantLinear) -> seconds

    def layer_seconds(self, *layers) -> float:
        return sum(self.by_layer.get(id(layer), 0.0) for layer in layers)


_clock: KernelClock | None = None


@contextmanager
def kernel_clock() -> Iterator[KernelClock]:
    """Time the kernel calls of the layers in this block (single-threaded callers only).

    The study reports whole-network time and, next to it, the part spent in the kernels, so
    the numpy glue (quantizing activations, im2col, rescaling) is not mistaken for GEMM time.
    """
    global _clock
    previous, _clock = _clock, KernelClock()
    try:
        yield _clock
    finally:
        _clock = previous


def _matmul(layer, x: np.ndarray, packed, **kwargs) -> np.ndarray:
    clock = _clock
    if clock is None:
        return lowbit.matmul(x, packed, **kwargs)
    t0 = perf_counter()
    out = lowbit.matmul(x, packed, **kwargs)
    dt = perf_counter() - t0
    clock.seconds += dt
    clock.calls += 1
    clock.by_layer[id(layer)] = clock.by_layer.get(id(layer), 0.0) + dt
    return out


def im2col(x: np.ndarray, kh: int, kw: int, pad: int = 0, pad_value=0) -> np.ndarray:
    """Patches of an NHWC tensor (stride 1) as a C-contiguous (N*OH*OW, kh*kw*C) matrix.

    Column order is (dy, dx, c), matching a weight of shape (kh, kw, C, Cout) reshaped to
    (kh*kw*C, Cout).
    """
    if x.ndim != 4:
        raise ValueError(f"im2col needs an NHWC tensor, got shape {x.shape}")
    n, h, w, c = x.shape
    if pad:
        xp = np.full((n, h + 2 * pad, w + 2 * pad, c), pad_value, dtype=x.dtype)
        xp[:, pad:pad + h, pad:pad + w, :] = x
    else:
        xp = x
    oh, ow = xp.shape[1] - kh + 1, xp.shape[2] - kw + 1
    if oh <= 0 or ow <= 0:
        raise ValueError("kernel larger than the padded input")
    cols = np.empty((n, oh, ow, kh * kw * c), dtype=x.dtype)
    for dy in range(kh):
        for dx in range(kw):
            j = (dy * kw + dx) * c
            cols[..., j:j + c] = xp[:, dy:dy + oh, dx:dx + ow, :]
    return cols.reshape(n * oh * ow, kh * kw * c)


def _byte_digits(v: np.ndarray, signed: bool) -> list[tuple[int, np.ndarray]]:
    """Split integers into (place value, digit) pairs whose digits fit int8 / uint8."""
    v = v.astype(np.int64)
    if signed:
        if v.min(initial=0) >= -128 and v.max(initial=0) <= 127:
            return [(1, v)]
        base, out, place = 128, [], 1
        while np.any(v != 0):
            lo = (v + 64) % base - 64  # in [-64, 63]
            out.append((place, lo))
            v, place = (v - lo) // base, place * base
        return out
    if v.min(initial=0) < 0:
        raise ValueError("unsigned digits of a negative value")
    if v.max(initial=0) <= 255:
        return [(1, v)]
    out, place = [], 1
    while np.any(v != 0):
        out.append((place, v % 256))
        v, place = v // 256, place * 256
    return out


@dataclass
class _Term:
    """One quantized weight tensor over some output columns."""

    cols: np.ndarray | None  # None = all columns
    scale: np.ndarray  # (N_t,)
    digits: list  # [(place value, PackedWeights)]
    zp_correction: np.ndarray | None  # per-column weight zero points the kernel did not apply
    colsum: np.ndarray  # (N_t,) sum over k of the weight's integer values (for DyBit shifts)


class QuantLinear:
    """y = x @ weight + bias through the lowbit kernels in one format.

    weight: (K, N) float; bias: (N,) or None.
    fmt: "fp32", "int8", "int4", "4.6bit" (act_levels, weight_levels), "dybit" (bits).
    calib: activation samples for static per-tensor activation scales (method a_method);
      without it activations are calibrated per call with min-max.
    w_method, per_channel: weight calibration ("mmse" per output channel by default).
    residual_budget: fraction of output channels that get a second (residual) weight tensor.
    grid: points of the MMSE clipping-range search (weights and activations).
    """

    def __init__(self, weight, bias=None, fmt: str = "int8", *, calib=None,
                 w_method: str = "mmse", a_method: str = "mmse", per_channel: bool = True,
                 residual_budget: float = 0.0, threads: int = 1, tier: str | None = None,
                 grid: int = 64, **params):
        if fmt not in NN_FORMATS:
            raise ValueError(f"format must be one of {NN_FORMATS}, got {fmt!r}")
        w = np.asarray(weight, dtype=np.float64)
        if w.ndim != 2:
            raise ValueError(f"weight must be (K, N), got shape {w.shape}")
        self.fmt, self.k, self.n = fmt, w.shape[0], w.shape[1]
        self.params, self.threads, self.a_method = dict(params), threads, a_method
        self.bias = np.zeros(self.n, np.float32) if bias is None else \
            np.asarray(bias, np.float32).reshape(self.n)
        if fmt == "fp32":
            if params or residual_budget:
                raise ValueError("fp32 takes no format parameters or residual budget")
            self.packed = lowbit.pack_weights(np.ascontiguousarray(w, np.float32), "fp32",
                                              tier=tier)
            self.act = None
            return
        if fmt == "dybit":
            # Activations use the unsigned DyBit table (inputs here follow a ReLU).
            self.act_params = {"bits": int(params.get("bits", 4)), "signed": False}
            self.w_params = {"bits": int(params.get("bits", 4))}
        else:
            self.act_params = self.w_params = dict(params)
        axis = 1 if per_channel else None
        if residual_budget > 0:
            rq = quantize_residual(w, fmt, axis=1, budget=residual_budget, method=w_method,
                                   grid=grid, **self.w_params)
            if not per_channel:
                raise ValueError("residual refinement is per channel; set per_channel=True")
            tensors = [(None, rq.base)] + ([(rq.channels, rq.residual)] if rq.residual else [])
        else:
            tensors = [(None, quantize(w, fmt, method=w_method, axis=axis, grid=grid,
                                       **self.w_params))]
        self.weight_q = tensors
        self.terms = [self._term(cols, qt, tier) for cols, qt in tensors]
        self.act = None
        if calib is not None:
            self.act = calibrate(np.asarray(calib), fmt, method=a_method, role="activation",
                                 grid=grid, **self.act_params)

    def _term(self, cols, qt: QTensor, tier) -> _Term:
        n_t = qt.codes.shape[1]
        scale = np.broadcast_to(qt.scale, (n_t,)).astype(np.float64)
        zw = np.broadcast_to(qt.zero_point, (n_t,)).astype(np.int64)
        values = qt.values().astype(np.int64)
        colsum = (values - zw).sum(axis=0)
        if self.fmt == "dybit":
            digits = [(place, lowbit.pack_weights(np.ascontiguousarray(d, np.int8), "int8",
                                                  tier=tier))
                      for place, d in _byte_digits(values, signed=True)]
            return _Term(cols, scale, digits, None, colsum)
        uniform_zp = bool(np.all(zw == zw[0]))
        kernel_zp = int(zw[0]) if uniform_zp else 0
        packed = lowbit.pack_weights(qt.codes, self.fmt, zero_point=kernel_zp, tier=tier,
                                     **self.w_params)
        return _Term(cols, scale, [(1, packed)], None if uniform_zp else zw, colsum)

    # -- activations ---------------------------------------------------------------------
    def quantize_input(self, x) -> QTensor | np.ndarray:
        """Activation codes (QTensor), or float32 for fp32."""
        if self.fmt == "fp32":
            return np.asarray(x, np.float32)
        if self.act is None:
            s, z = calibrate(x, self.fmt, method="minmax", role="activation", **self.act_params)
        else:
            s, z = self.act
        return quantize(x, self.fmt, role="activation", scale=s, zero_point=z, **self.act_params)

    def zero_code(self, xq) -> object:
        """The stored code of a real 0 (padding value for im2col)."""
        if self.fmt == "fp32":
            return 0.0
        if self.fmt == "dybit":
            return _dybit.encode(np.zeros(1), **xq.params)[0]
        return xq.codes.dtype.type(xq.zero_point[0])

    # -- GEMM ----------------------------------------------------------------------------
    def __call__(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.k:
            raise ValueError(f"input must be (M, {self.k}), got shape {x.shape}")
        xq = self.quantize_input(x)
        if self.fmt == "fp32":
            return self.gemm_codes(np.ascontiguousarray(xq), None)
        return self.gemm_codes(xq.codes, xq)

    def gemm_codes(self, codes: np.ndarray, xq: QTensor | None) -> np.ndarray:
        """GEMM of already-quantized input codes (M, K); xq carries their scale/zero point."""
        if self.fmt == "fp32":
            y = _matmul(self, np.ascontiguousarray(codes, np.float32), self.packed,
                        threads=self.threads)
            return y + self.bias
        codes = np.ascontiguousarray(codes)
        sx, zx = float(xq.scale[0]), int(xq.zero_point[0])
        if self.fmt == "dybit":
            values = _dybit.decode(codes, **xq.params).astype(np.int64)
            shift = -int(min(0, _dybit.levels(**xq.params)[0]))
            x_digits = [(p, np.ascontiguousarray(d, np.uint8), 0)
                        for p, d in _byte_digits(values + shift, signed=False)]
        else:
            x_digits, shift = [(1, codes, zx)], 0
        rowsum = None
        y = np.empty((codes.shape[0], self.n), np.float64)
        y[:] = self.bias
        for t in self.terms:
            acc = np.zeros((codes.shape[0], t.scale.size), np.int64)
            for pw, packed in t.digits:
                for px, xd, zd in x_digits:
                    acc += (pw * px) * _matmul(self, xd, packed, zero_point=zd,
                                               threads=self.threads).astype(np.int64)
            if shift:
                acc -= shift * t.colsum
            if t.zp_correction is not None:
                if rowsum is None:
                    rowsum = codes.astype(np.int64).sum(axis=1) - codes.shape[1] * zx
                acc -= rowsum[:, None] * t.zp_correction[None, :]
            contrib = acc * (sx * t.scale)
            if t.cols is None:
                y += contrib
            else:
                y[:, t.cols] += contrib
        return y.astype(np.float32)


class QuantConv2d:
    """3-D convolution (NHWC, stride 1, zero padding) as an im2col GEMM on a QuantLinear."""

    def __init__(self, weight, bias=None, fmt: str = "int8", *, pad: int = 0, calib=None,
                 **kwargs):
        w = np.asarray(weight)
        if w.ndim != 4:
            raise ValueError(f"conv weight must be (kh, kw, Cin, Cout), got {w.shape}")
        self.kh, self.kw, self.cin, self.cout = w.shape
        self.pad = pad
        self.linear = QuantLinear(w.reshape(-1, self.cout), bias, fmt, calib=calib, **kwargs)

    def __call__(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 4 or x.shape[3] != self.cin:
            raise ValueError(f"input must be NHWC with C={self.cin}, got shape {x.shape}")
        n, h, w, _ = x.shape
        lin = self.linear
        xq = lin.quantize_input(x)
        codes = xq if lin.fmt == "fp32" else xq.codes
        cols = im2col(codes, self.kh, self.kw, self.pad, lin.zero_code(xq))
        y = lin.gemm_codes(cols, None if lin.fmt == "fp32" else xq)
        oh, ow = h + 2 * self.pad - self.kh + 1, w + 2 * self.pad - self.kw + 1
        return y.reshape(n, oh, ow, self.cout)
