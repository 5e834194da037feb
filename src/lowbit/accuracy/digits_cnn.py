"""A small CNN on scikit-learn's 8x8 digits, trained in numpy (deterministic, seconds).

    conv1 3x3  1->16 pad 1, ReLU          (fp32: first layer kept in float, as in the papers)
    conv2 3x3 16->32 pad 1, ReLU, maxpool 2   (quantized: im2col GEMM K=144, N=32)
    conv3 3x3 32->64 pad 1, ReLU, maxpool 2   (quantized: im2col GEMM K=288, N=64)
    fc   256->10                           (fp32: last layer kept in float)

Training uses plain numpy (im2col convolutions, Adam, fixed seed) so the suite does not depend
on torch.  Weights are cached as .npz under LOWBIT_CACHE_DIR (default ./.cache/lowbit, an
ignored path) keyed by a hash of the training configuration, and regenerated when missing.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lowbit.nn import im2col

LAYERS = (("conv1", 3, 1, 16), ("conv2", 3, 16, 32), ("conv3", 3, 32, 64))
QUANTIZED_LAYERS = ("conv2", "conv3")


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    epochs: int = 8
    batch: int = 64
    lr: float = 4e-3
    test_fraction: float = 0.25
    train_samples: int | None = None  # None = the whole training split (tests use fewer)
    version: int = 1  # bump when the model or the training code changes

    def key(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def load_digits_split(cfg: TrainConfig = TrainConfig()):
    """(x_train, y_train, x_test, y_test); x as NHWC float32 in [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[..., None]
    x_tr, x_te, y_tr, y_te = train_test_split(x, d.target, test_size=cfg.test_fraction,
                                              random_state=cfg.seed, stratify=d.target)
    return x_tr, y_tr, x_te, y_te


# -- numpy layers (training and the fp32 reference) -------------------------------------------

def _conv(x, w, b):
    kh, kw, _, cout = w.shape
    cols = im2col(x, kh, kw, kh // 2)
    n, h, wd, _ = x.shape
    return (cols @ w.reshape(-1, cout) + b).reshape(n, h, wd, cout), cols


def _conv_back(dout, cols, w, x_shape):
    kh, kw, cin, cout = w.shape
    d2 = dout.reshape(-1, cout)
    dw = (cols.T @ d2).reshape(w.shape)
    db = d2.sum(axis=0)
    dcols = (d2 @ w.reshape(-1, cout).T).reshape(x_shape[:3] + (kh * kw * cin,))
    n, h, wd, _ = x_shape
    pad = kh // 2
    dxp = np.zeros((n, h + 2 * pad, wd + 2 * pad, cin), dout.dtype)
    for dy in range(kh):
        for dx in range(kw):
            j = (dy * kw + dx) * cin
            dxp[:, dy:dy + h, dx:dx + wd, :] += dcols[..., j:j + cin]
    return dxp[:, pad:pad + h, pad:pad + wd, :], dw, db


def maxpool2(x):
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def _pool_back(dout, x, out):
    n, h, w, c = x.shape
    xr = x.reshape(n, h // 2, 2, w // 2, 2, c)
    mask = xr == out[:, :, None, :, None, :]
    return (mask * dout[:, :, None, :, None, :]).reshape(x.shape)


def init_params(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    p = {}
    for name, k, cin, cout in LAYERS:
        p[f"{name}.w"] = (rng.standard_normal((k, k, cin, cout)) * np.sqrt(2.0 / (k * k * cin))
                          ).astype(np.float32)
        p[f"{name}.b"] = np.zeros(cout, np.float32)
    p["fc.w"] = (rng.standard_normal((256, 10)) * np.sqrt(1.0 / 256)).astype(np.float32)
    p["fc.b"] = np.zeros(10, np.float32)
    return p


def _forward_train(p, x):
    cache = {}
    h = x
    for name, *_ in LAYERS:
        z, cols = _conv(h, p[f"{name}.w"], p[f"{name}.b"])
        a = np.maximum(z, 0)
        cache[name] = (h.shape, cols, z)
        h = a
        if name != "conv1":
            pooled = maxpool2(a)
            cache[name + ".pool"] = (a, pooled)
            h = pooled
    flat = h.reshape(h.shape[0], -1)
    logits = flat @ p["fc.w"] + p["fc.b"]
    return logits, flat, cache


def _loss_grad(p, x, y):
    logits, flat, cache = _forward_train(p, x)
    logits = logits - logits.max(axis=1, keepdims=True)
    prob = np.exp(logits)
    prob /= prob.sum(axis=1, keepdims=True)
    n = x.shape[0]
    dlog = prob
    dlog[np.arange(n), y] -= 1.0
    dlog /= n
    g = {"fc.w": flat.T @ dlog, "fc.b": dlog.sum(axis=0)}
    dh = (dlog @ p["fc.w"].T).reshape((n, 2, 2, 64))
    for name, *_ in reversed(LAYERS):
        if name != "conv1":
            a, pooled = cache[name + ".pool"]
            dh = _pool_back(dh, a, pooled)
        x_shape, cols, z = cache[name]
        dz = dh * (z > 0)
        dh, g[f"{name}.w"], g[f"{name}.b"] = _conv_back(dz, cols, p[f"{name}.w"], x_shape)
    return g


def train(cfg: TrainConfig = TrainConfig()) -> dict:
    """Train with Adam from a fixed seed; returns the parameter dict (float32)."""
    from threadpoolctl import threadpool_limits

    # The GEMMs here are small: one BLAS thread is ~3x cheaper than two on a shared machine,
    # and a fixed thread count keeps the float summation order, hence the weights, stable.
    with threadpool_limits(limits=1, user_api="blas"):
        return _train(cfg)


def _train(cfg: TrainConfig) -> dict:
    x_tr, y_tr, _, _ = load_digits_split(cfg)
    if cfg.train_samples is not None:
        x_tr, y_tr = x_tr[:cfg.train_samples], y_tr[:cfg.train_samples]
    p = init_params(cfg.seed)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(v) for k, v in p.items()}
    rng = np.random.default_rng(cfg.seed + 1)
    b1, b2, step = 0.9, 0.999, 0
    for _ in range(cfg.epochs):
        order = rng.permutation(len(x_tr))
        for i in range(0, len(order), cfg.batch):
            idx = order[i:i + cfg.batch]
            g = _loss_grad(p, x_tr[idx], y_tr[idx])
            step += 1
            for k in p:
                m[k] = b1 * m[k] + (1 - b1) * g[k]
                v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k]
                mh = m[k] / (1 - b1 ** step)
                vh = v[k] / (1 - b2 ** step)
                p[k] = (p[k] - cfg.lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
    return p


def cache_dir() -> Path:
    return Path(os.environ.get("LOWBIT_CACHE_DIR", ".cache/lowbit"))


def write_npz(path: Path, arrays: dict) -> None:
    """An .npz cache file written atomically (lowbit.bench.atomic)."""
    import io

    from lowbit.bench.atomic import write_bytes

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes(path, buf.getvalue())


def load_or_train(cfg: TrainConfig = TrainConfig(), *, cache: bool = True) -> tuple[dict, bool]:
    """(params, from_cache). Trains and writes the cache (atomically) when it is missing."""
    path = cache_dir() / f"digits_cnn-{cfg.key()}.npz"
    if cache and path.exists():
        try:
            with np.load(path) as f:
                return {k: f[k] for k in f.files}, True
        except (OSError, ValueError):
            pass  # a damaged cache is regenerated below
    p = train(cfg)
    if cache:
        write_npz(path, p)
    return p, False


def forward_fp32(p: dict, x: np.ndarray) -> np.ndarray:
    """Plain numpy reference forward pass (logits)."""
    logits, _, _ = _forward_train(p, x)
    return logits
