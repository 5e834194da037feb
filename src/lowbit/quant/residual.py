"""Multi-tensor residual refinement: W ~ s1*Q1 + s2*Q2 on the worst-approximated channels.

Choukroun et al. 2019 use several low-precision tensors for poorly approximated layers; as
reconstructed here (their exact selection rule is not available to us) the second tensor Q2 is
the per-channel MMSE quantization of the residual W - s1*Q1, kept only for the channels whose
relative error is worst, as many as a compute budget allows (budget = extra GEMM work as a
fraction of the layer's, i.e. the fraction of output channels that get a second GEMM).  In a
GEMM it is one more low-bit GEMM over those columns, whose int32 result is scaled and added.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .core import QTensor, quantize


def relative_channel_error(w: np.ndarray, w_hat: np.ndarray, axis: int) -> np.ndarray:
    """||w_c - w_hat_c|| / ||w_c|| per channel c of `axis` (0 where w_c is all zero)."""
    w = np.moveaxis(np.asarray(w, dtype=np.float64), axis, 0).reshape(w.shape[axis], -1)
    d = w - np.moveaxis(np.asarray(w_hat, dtype=np.float64), axis, 0).reshape(w.shape)
    num = np.linalg.norm(d, axis=1)
    den = np.linalg.norm(w, axis=1)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


@dataclass(frozen=True)
class ResidualQTensor:
    """base (all channels) + residual (only `channels`, in that order along `axis`)."""

    base: QTensor
    residual: QTensor | None
    channels: np.ndarray  # int64 indices along axis

    @property
    def axis(self) -> int:
        return self.base.axis

    def dequantize(self) -> np.ndarray:
        out = self.base.dequantize()
        if self.residual is not None and self.channels.size:
            idx = [slice(None)] * out.ndim
            idx[self.axis] = self.channels
            out[tuple(idx)] += self.residual.dequantize()
        return out


def quantize_residual(
    w,
    fmt: str,
    *,
    axis: int = -1,
    budget: float = 0.25,
    base: QTensor | None = None,
    method: str = "mmse",
    **kwargs,
) -> ResidualQTensor:
    """Quantize w per channel, then add a residual tensor on the worst `budget` of channels."""
    w = np.asarray(w, dtype=np.float64)
    if not 0.0 <= budget <= 1.0:
        raise ValueError(f"budget must be in [0, 1], got {budget}")
    if fmt == "fp32":
        raise ValueError("fp32 needs no residual refinement")
    cal_keys = {k: kwargs[k] for k in ("percentile", "grid") if k in kwargs}
    if base is None:
        base = quantize(w, fmt, method=method, axis=axis, **kwargs)
    if base.axis is None:
        raise ValueError("residual refinement needs a per-channel base (axis is None)")
    ax = base.axis
    n_extra = round(budget * w.shape[ax])
    if n_extra == 0:
        return ResidualQTensor(base, None, np.zeros(0, np.int64))
    err = relative_channel_error(w, base.dequantize(), ax)
    # Stable sort: ties (e.g. all-zero channels) resolve to the lower index, reproducibly.
    channels = np.sort(np.argsort(-err, kind="stable")[:n_extra]).astype(np.int64)
    r = np.take(w - base.dequantize(), channels, axis=ax)
    params = {k: v for k, v in base.params.items()}
    if fmt == "dybit":
        params.pop("signed", None)
    residual = quantize(r, fmt, method=method, axis=ax, role=base.role,
                        symmetric=base.symmetric, **cal_keys, **params)
    return ResidualQTensor(base, residual, channels)
