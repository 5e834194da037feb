"""Scale and zero-point calibration: min-max, percentile, MMSE.

Every function works on a 2-D view x2 of shape (C, n): one row per quantization group (C = 1
per tensor, C = channels per channel) and returns float64 scales (C,) and integer zero points
(C,).  The MMSE search (Choukroun et al. 2019, *as reconstructed here*: the paper's exact
optimiser is not available to us) evaluates the true squared error of candidate clipping
ranges on a grid that contains the min-max point, then refines the best by alternating
least squares, keeping a change only where it lowers the error.  So by construction the MMSE
error is never above the min-max error on the same data, and a per-channel search that is also
handed the per-tensor solution is never above it.
"""

from __future__ import annotations

import numpy as np

from .schemes import Scheme

METHODS = ("minmax", "percentile", "mmse")


def fake_quantize(x2: np.ndarray, scale: np.ndarray, zero: np.ndarray, sch: Scheme) -> np.ndarray:
    """s * (q - z) with q the rounded, saturated stored integer: what the format can hold."""
    s = scale[:, None]
    z = zero[:, None]
    return (sch.round(x2 / s + z) - z) * s


def group_mse(x2: np.ndarray, scale: np.ndarray, zero: np.ndarray, sch: Scheme) -> np.ndarray:
    d = x2 - fake_quantize(x2, scale, zero, sch)
    return np.einsum("ij,ij->i", d, d) / x2.shape[1]


def _safe(scale: np.ndarray) -> np.ndarray:
    # An all-zero group quantizes exactly with any scale; 1.0 keeps the arithmetic finite.
    return np.where(scale > 0, scale, 1.0)


def from_range(lo: np.ndarray, hi: np.ndarray, sch: Scheme) -> tuple[np.ndarray, np.ndarray]:
    """Scale and zero point that map the clipping range [lo, hi] onto the grid."""
    lo = np.minimum(lo, 0.0)
    hi = np.maximum(hi, 0.0)
    if sch.symmetric:
        z = np.full(lo.shape, sch.zero_fixed, dtype=np.int64)
        pos = hi / sch.pos_range
        neg = -lo / sch.neg_range if sch.neg_range > 0 else np.zeros_like(lo)
        return _safe(np.maximum(pos, neg)), z
    # hi/span - lo/span, not (hi - lo)/span: the difference overflows near the float64 limit.
    span = sch.qmax - sch.qmin
    s = _safe(hi / span - lo / span)
    z = np.clip(np.rint(sch.qmin - lo / s), sch.zp_min, sch.zp_max).astype(np.int64)
    return s, z


def minmax(x2: np.ndarray, sch: Scheme) -> tuple[np.ndarray, np.ndarray]:
    return from_range(x2.min(axis=1), x2.max(axis=1), sch)


def percentile(x2: np.ndarray, sch: Scheme, pct: float = 99.99) -> tuple[np.ndarray, np.ndarray]:
    """Clip at the pct-th percentile (|x| for symmetric grids, both tails otherwise)."""
    if not 50.0 < pct <= 100.0:
        raise ValueError(f"percentile must be in (50, 100], got {pct}")
    if sch.symmetric:
        hi = np.percentile(np.abs(x2), pct, axis=1)
        lo = -hi if sch.neg_range > 0 else np.zeros_like(hi)
        return from_range(lo, hi, sch)
    lo = np.percentile(x2, 100.0 - pct, axis=1)
    hi = np.percentile(x2, pct, axis=1)
    return from_range(lo, hi, sch)


def _refine(x2, s, z, err, sch, iters):
    """Alternating least squares: fix q, fit s (and the offset), re-round; keep improvements."""
    for _ in range(iters):
        q = sch.round(x2 / s[:, None] + z[:, None])
        if sch.symmetric:
            c = q - z[:, None]
            den = np.einsum("ij,ij->i", c, c)
            s_new = _safe(np.where(den > 0, np.einsum("ij,ij->i", x2, c) / np.maximum(den, 1), s))
            z_new = z
        else:
            # x ~ s*q + t per row: ordinary least squares, then z = round(-t/s).
            n = x2.shape[1]
            mq, mx = q.mean(axis=1), x2.mean(axis=1)
            var = np.einsum("ij,ij->i", q, q) / n - mq * mq
            cov = np.einsum("ij,ij->i", q, x2) / n - mq * mx
            ok = var > 1e-12
            s_new = _safe(np.where(ok, cov / np.where(ok, var, 1.0), s))
            t = mx - s_new * mq
            z_new = np.clip(np.rint(-t / s_new), sch.zp_min, sch.zp_max).astype(np.int64)
        e_new = group_mse(x2, s_new, z_new, sch)
        better = e_new < err
        if not better.any():
            break
        s, z, err = np.where(better, s_new, s), np.where(better, z_new, z), np.minimum(e_new, err)
    return s, z, err


def _mse_many(x2: np.ndarray, scales: np.ndarray, zeros: np.ndarray, sch: Scheme) -> np.ndarray:
    """group_mse for G candidates at once: scales, zeros (G, C) -> (G, C)."""
    g, (c, n) = scales.shape[0], x2.shape
    out = np.empty((g, c))
    step = max(1, (1 << 21) // max(1, c * n))  # bound the temporary to ~2M elements
    for i in range(0, g, step):
        s = scales[i:i + step, :, None]
        z = zeros[i:i + step, :, None]
        d = x2[None] - (sch.round(x2[None] / s + z) - z) * s
        out[i:i + step] = np.einsum("gij,gij->gi", d, d) / n
    return out


def mmse(
    x2: np.ndarray,
    sch: Scheme,
    *,
    grid: int = 64,
    refine: int = 4,
    candidates: tuple[tuple[np.ndarray, np.ndarray], ...] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """Minimise ||x - s(q - z)||^2 per row over the clipping range (and the offset)."""
    if grid < 2:
        raise ValueError("mmse grid must have at least 2 points")
    lo0 = np.minimum(x2.min(axis=1), 0.0)
    hi0 = np.maximum(x2.max(axis=1), 0.0)
    # The ratio 1.0 is the min-max point, so the search can only improve on min-max.
    ratios = np.linspace(1.0 / grid, 1.0, grid)
    if sch.symmetric:
        pairs = [(r, r) for r in ratios]
    else:
        # Both ends move; a coarser grid per end keeps the 2-D search affordable.  One-sided
        # data (post-ReLU activations) has only one end to move: use the full grid there.
        sub = np.unique(np.append(ratios[np.linspace(0, grid - 1, max(4, grid // 4)).astype(int)],
                                  1.0))
        two_sided = bool(np.any(lo0 < 0) and np.any(hi0 > 0))
        lo_r = (sub if two_sided else ratios) if np.any(lo0 < 0) else np.array([1.0])
        hi_r = (sub if two_sided else ratios) if np.any(hi0 > 0) else np.array([1.0])
        pairs = [(rl, rh) for rl in lo_r for rh in hi_r]
    cand = [from_range(rl * lo0, rh * hi0, sch) for rl, rh in pairs]
    cand += [(np.broadcast_to(s, lo0.shape).astype(np.float64),
              np.broadcast_to(z, lo0.shape).astype(np.int64)) for s, z in candidates]
    scales = np.stack([c[0] for c in cand])
    zeros = np.stack([c[1] for c in cand])
    errors = _mse_many(x2, scales, zeros, sch)
    # argmin returns the first minimum; min-max is never displaced by an equal error.
    pick = np.argmin(errors, axis=0)
    cols = np.arange(x2.shape[0])
    best_s, best_z, best_e = scales[pick, cols], zeros[pick, cols], errors[pick, cols]
    s, z, _ = _refine(x2, best_s, best_z, best_e, sch, refine)
    return s, z
