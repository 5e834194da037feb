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


# The kernels refuse a row whose exact result could leave int32 (sum_k |x - z_x| *
# max|w - z_w| > INT32_MAX); QuantLinear splits K into slices that can never reach it and adds
# them in int64.
_INT32_MAX = 2**31 - 1


def _act_code_bound(fmt: str, params: dict) -> int:
    """Largest |x - z_x| of the activation operand the kernel sees."""
    if fmt == "int4":
        return 15
    if fmt == "4.6bit":
        return int(params.get("act_levels") or 25) - 1
    return 255  # int8 codes, and DyBit's unsigned byte digits


def _k_slices(k: int, bound: int) -> list[tuple[int, int]]:
    step = max(1, _INT32_MAX // max(1, bound))
    return [(k0, min(k, k0 + step)) for k0 in range(0, k, step)]


@dataclass
class _Term:
    """One quantized weight tensor over some output columns."""

    cols: np.ndarray | None  # None = all columns
    scale: np.ndarray  # (N_t,)
    # [(place value, [(x0, x1, n0, n1, packed)])]: input columns x0:x1 times the packed
    # slice give term columns n0:n1 (K slices that cannot overflow int32; one per group)
    digits: list
    zp_correction: np.ndarray | None  # per-column weight zero points the kernel did not apply
    colsum: np.ndarray  # (N_t,) sum over k of the weight's integer values (for DyBit shifts)


class QuantLinear:
    """y = x @ weight + bias through the lowbit kernels in one format.

    weight: (K, N) float; bias: (N,) or None.
    fmt: "fp32", "int8", "int4", "4.6bit" (act_levels, weight_levels), "dybit" (bits).
    calib: activation samples for static per-tensor activation scales (method a_method);
      act_qparams: a static (scale, zero_point) instead; with neither, activations are
      calibrated per call with min-max.
    w_method, per_channel: weight calibration ("mmse" per output channel by default).
    residual_budget: fraction of output channels that get a second (residual) weight tensor.
    grid: points of the MMSE clipping-range search (weights and activations).
    act_signed (DyBit only): activations use the signed DyBit table.  None = signed when the
      calibration data (or, without calib, each call's input) has a negative value; False
      means the inputs follow a ReLU and negative inputs raise ValueError.
    groups: a grouped GEMM (grouped convolution): the input is (M, groups*K), group g's input
      columns g*K:(g+1)*K multiply weight columns g*N/groups:(g+1)*N/groups; one kernel call
      per group, the weight calibrated as one (K, N) tensor (per tensor or per channel).
    A depth K whose exact int32 result could overflow is split into K slices (one kernel call
    each, summed in int64); an empty batch (M = 0) gives a (0, N) result in every format.
    """

    def __init__(self, weight, bias=None, fmt: str = "int8", *, calib=None,
                 w_method: str = "mmse", a_method: str = "mmse", per_channel: bool = True,
                 residual_budget: float = 0.0, threads: int = 1, tier: str | None = None,
                 grid: int = 64, act_signed: bool | None = None, act_qparams=None,
                 groups: int = 1, **params):
        if fmt not in NN_FORMATS:
            raise ValueError(f"format must be one of {NN_FORMATS}, got {fmt!r}")
        w = np.asarray(weight, dtype=np.float64)
        if w.ndim != 2:
            raise ValueError(f"weight must be (K, N), got shape {w.shape}")
        if groups < 1 or w.shape[1] % groups:
            raise ValueError(f"groups={groups} must divide N={w.shape[1]}")
        self.groups, self.kg, self.n = int(groups), w.shape[0], w.shape[1]
        self.fmt, self.k = fmt, self.groups * self.kg
        self.params, self.threads, self.a_method = dict(params), threads, a_method
        self.bias = np.zeros(self.n, np.float32) if bias is None else \
            np.asarray(bias, np.float32).reshape(self.n)
        self.act = None
        if fmt == "fp32":
            if params or residual_budget:
                raise ValueError("fp32 takes no format parameters or residual budget")
            self.act_params = {}
            self.slices = self._pack_slices(np.ascontiguousarray(w, np.float32), "fp32", 0,
                                            None, tier, {})
            return
        self.act_signed = None
        if fmt == "dybit":
            bits = int(params.get("bits", 4))
            if act_signed is None and calib is not None:
                act_signed = bool(np.min(calib) < 0)
            self.act_signed = act_signed
            self.act_params = {"bits": bits, "signed": bool(act_signed)}
            self.w_params = {"bits": bits}
        elif act_signed is not None:
            raise ValueError("act_signed applies to DyBit only (the other formats' activations"
                             " are asymmetric and hold negative values)")
        else:
            self.act_params = self.w_params = dict(params)
        axis = 1 if per_channel else None
        if residual_budget > 0:
            if not per_channel:
                raise ValueError("residual refinement is per channel; set per_channel=True")
            rq = quantize_residual(w, fmt, axis=1, budget=residual_budget, method=w_method,
                                   grid=grid, **self.w_params)
            cols = None if rq.channels.size == self.n else rq.channels
            if cols is not None and self.groups > 1:
                raise ValueError("a grouped layer takes a residual on all channels only "
                                 "(residual_budget=1.0)")
            tensors = [(None, rq.base)] + ([(cols, rq.residual)] if rq.residual else [])
        else:
            tensors = [(None, quantize(w, fmt, method=w_method, axis=axis, grid=grid,
                                       **self.w_params))]
        self.weight_q = tensors
        self.terms = [self._term(cols, qt, tier) for cols, qt in tensors]
        if act_qparams is not None:
            s, z = act_qparams
            self.act = (np.atleast_1d(np.asarray(s, np.float64)),
                        np.atleast_1d(np.asarray(z, np.int64)))
        elif calib is not None:
            self.act = calibrate(np.asarray(calib), fmt, method=a_method, role="activation",
                                 grid=grid, **self.act_params)

    def _term(self, cols, qt: QTensor, tier) -> _Term:
        n_t = qt.codes.shape[1]
        scale = np.broadcast_to(qt.scale, (n_t,)).astype(np.float64)
        zw = np.broadcast_to(qt.zero_point, (n_t,)).astype(np.int64)
        values = qt.values().astype(np.int64)
        colsum = (values - zw).sum(axis=0)
        if self.fmt == "dybit":
            digits = []
            for place, d in _byte_digits(values, signed=True):
                d = np.ascontiguousarray(d, np.int8)
                digits.append((place, self._pack_slices(d, "int8", 0, d, tier, {})))
            return _Term(cols, scale, digits, None, colsum)
        uniform_zp = bool(np.all(zw == zw[0]))
        kernel_zp = int(zw[0]) if uniform_zp else 0
        packed = self._pack_slices(qt.codes, self.fmt, kernel_zp, values - kernel_zp, tier,
                                   self.w_params)
        return _Term(cols, scale, [(1, packed)], None if uniform_zp else zw, colsum)

    def _pack_slices(self, codes, fmt, zero_point, centred, tier, params) -> list:
        """[(x0, x1, n0, n1, packed)]: per group, K slices whose int32 result cannot overflow."""
        n_t = codes.shape[1]
        ng = n_t // self.groups if n_t == self.n else n_t  # a residual subset: groups == 1
        if centred is None:  # fp32: no overflow, no K split
            k_slices = [(0, self.kg)]
        else:
            w_bound = int(np.max(np.abs(centred), initial=1))
            k_slices = _k_slices(self.kg, w_bound * _act_code_bound(self.fmt, self.act_params))
        out = []
        for g in range(n_t // ng):
            for k0, k1 in k_slices:
                block = np.ascontiguousarray(codes[k0:k1, g * ng:(g + 1) * ng])
                out.append((g * self.kg + k0, g * self.kg + k1, g * ng, (g + 1) * ng,
                            lowbit.pack_weights(block, fmt, zero_point=zero_point, tier=tier,
                                                **params)))
        return out

    def integer_weights(self) -> list[tuple[np.ndarray | None, np.ndarray, np.ndarray]]:
        """[(columns or None, scale (N_t,), q - z_w as int64 (K, N_t))] of every weight term.

        What the kernel calls multiply, as plain integers: y = b + sum over terms of
        s_x * scale * ((x - z_x) @ (q - z_w)) (for the study's numpy cross-checks).
        """
        out = []
        for cols, qt in self.weight_q:
            n_t = qt.codes.shape[1]
            zw = np.broadcast_to(qt.zero_point, (n_t,)).astype(np.int64)
            out.append((cols, np.broadcast_to(qt.scale, (n_t,)).astype(np.float64),
                        qt.values().astype(np.int64) - zw[None, :]))
        return out

    def input_values(self, xq: QTensor) -> np.ndarray:
        """x - z_x of quantized input codes as int64 (DyBit codes decoded)."""
        if self.fmt == "dybit":
            return _dybit.decode(xq.codes, **xq.params).astype(np.int64)
        return xq.codes.astype(np.int64) - int(xq.zero_point[0])

    # -- activations ---------------------------------------------------------------------
    def quantize_input(self, x) -> QTensor | np.ndarray:
        """Activation codes (QTensor), or float32 for fp32."""
        if self.fmt == "fp32":
            return np.asarray(x, np.float32)
        params = self.act_params
        if self.fmt == "dybit":
            negative = bool(np.min(x) < 0)
            if self.act_signed is None and self.act is None:
                params = params | {"signed": negative}  # per-call calibration, per-call sign
            elif negative and self.act_signed is False:
                raise ValueError("negative activation for a DyBit layer with unsigned "
                                 "activations (act_signed=False); use act_signed=None or True")
        if self.act is None:
            s, z = calibrate(x, self.fmt, method="minmax", role="activation", **params)
        else:
            s, z = self.act
        return quantize(x, self.fmt, role="activation", scale=s, zero_point=z, **params)

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
        if x.shape[0] == 0:  # nothing to quantize: the (0, N) result fp32 gives too
            return np.zeros((0, self.n), np.float32)
        xq = self.quantize_input(x)
        if self.fmt == "fp32":
            return self.gemm_codes(xq, None)
        return self.gemm_codes(xq.codes, xq)

    def _operand(self, x: np.ndarray, x0: int, x1: int) -> np.ndarray:
        """Input columns x0:x1 as a C-contiguous matrix; x is (M, K) or group-major (G, M, Kg)."""
        if x.ndim == 3:
            g, k0 = divmod(x0, self.kg)
            v = x[g] if x1 - x0 == self.kg else x[g][:, k0:k0 + x1 - x0]
        else:
            v = x if x1 - x0 == x.shape[1] else x[:, x0:x1]
        return v if v.flags.c_contiguous else np.ascontiguousarray(v)

    def _run_slices(self, x: np.ndarray, slices, out: np.ndarray, place: int, **kwargs) -> None:
        """out[:, n0:n1] += place * matmul(x[:, x0:x1], packed) over the slices."""
        for x0, x1, n0, n1, packed in slices:
            xk = self._operand(x, x0, x1)
            y = _matmul(self, xk, packed, threads=self.threads, **kwargs)
            if place == 1 and out.dtype == y.dtype:
                out[:, n0:n1] += y
            else:
                out[:, n0:n1] += place * y.astype(out.dtype)

    def gemm_codes(self, codes: np.ndarray, xq: QTensor | None) -> np.ndarray:
        """GEMM of already-quantized input codes; xq carries their scale/zero point.

        codes: (M, K), or for a grouped layer also group-major (groups, M, K/groups) (what an
        im2col per group gives; each group's operand is then contiguous without a copy).
        """
        if codes.ndim == 3 and codes.shape[0] != self.groups or codes.ndim == 3 and \
                codes.shape[2] != self.kg or codes.ndim not in (2, 3):
            raise ValueError(f"codes must be (M, {self.k}) or ({self.groups}, M, {self.kg}), "
                             f"got shape {codes.shape}")
        m = codes.shape[-2]
        if m == 0:
            return np.zeros((0, self.n), np.float32)
        if self.fmt == "fp32":
            y = np.zeros((m, self.n), np.float32)
            self._run_slices(np.ascontiguousarray(codes, np.float32), self.slices, y, 1)
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
        y = np.empty((m, self.n), np.float64)
        y[:] = self.bias
        for t in self.terms:
            acc = np.zeros((m, t.scale.size), np.int64)
            for pw, slices in t.digits:
                for px, xd, zd in x_digits:
                    self._run_slices(xd, slices, acc, pw * px, zero_point=zd)
            if shift:
                acc -= shift * t.colsum
            if t.zp_correction is not None:
                if rowsum is None:  # sum_k (x - z_x) of each row, per group
                    rs = codes.sum(axis=2, dtype=np.int64).T if codes.ndim == 3 else \
                        codes.reshape(m, self.groups, self.kg).sum(axis=2, dtype=np.int64)
                    rowsum = np.repeat(rs - self.kg * zx, self.n // self.groups, axis=1)
                acc -= rowsum * t.zp_correction[None, :] if t.cols is None else \
                    rowsum[:, t.cols] * t.zp_correction[None, :]
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
        oh, ow = h + 2 * self.pad - self.kh + 1, w + 2 * self.pad - self.kw + 1
        if n == 0:
            return np.zeros((0, oh, ow, self.cout), np.float32)
        xq = lin.quantize_input(x)
        codes = xq if lin.fmt == "fp32" else xq.codes
        cols = im2col(codes, self.kh, self.kw, self.pad, lin.zero_code(xq))
        y = lin.gemm_codes(cols, None if lin.fmt == "fp32" else xq)
        return y.reshape(n, oh, ow, self.cout)
