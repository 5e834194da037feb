"""Shared test helpers.  LOWBIT_TEST_PROFILE=full (default) | sanitize | emulated trims the
largest cases for slow runs (ASan build, QEMU); every case family still runs."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings

import lowbit

PROFILE = os.environ.get("LOWBIT_TEST_PROFILE", "full")
SLOW = PROFILE in ("sanitize", "emulated")

settings.register_profile("full", max_examples=40, deadline=None)
settings.register_profile("slow", max_examples=8, deadline=None)
settings.load_profile("slow" if SLOW else "full")

# Depths the foundation issue names: around tile and 16-bit limits, and far beyond them.
K_VALUES = [1, 2, 15, 16, 17, 255, 256, 257, 258, 259, 290, 291, 292, 1023, 4096, 20000]


def format_tiers():
    """(format, tier) for every runnable tier of every format."""
    return [(f, t) for f in lowbit.FORMATS for t in lowbit.tiers(f)]


def random_operands(rng, fmt, M, N, K, **params):
    spec = lowbit.format_spec(fmt, **params)
    if fmt == "fp32":
        x = rng.standard_normal((M, K)).astype(np.float32)
        w = rng.standard_normal((K, N)).astype(np.float32)
        return x, w
    x = rng.integers(spec.x_range[0], spec.x_range[1] + 1, (M, K)).astype(spec.x_dtype)
    w = rng.integers(spec.w_range[0], spec.w_range[1] + 1, (K, N)).astype(spec.w_dtype)
    return x, w


def assert_matches_reference(c, x, w, fmt, zx=0, zw=0):
    ref = lowbit.reference_matmul(x, w, fmt, zero_point_x=zx, zero_point_w=zw)
    if fmt == "fp32":
        assert c.dtype == np.float32
        # Rounding-error bound of a K-term float32 dot product: gamma_K * (|x| @ |w|).
        u = np.finfo(np.float32).eps / 2
        K = x.shape[1]
        gamma = K * u / (1 - K * u)
        bound = 2 * gamma * (np.abs(x).astype(np.float64) @ np.abs(w).astype(np.float64)) + 1e-30
        err = np.abs(c.astype(np.float64) - ref)
        assert np.all(err <= bound), f"fp32 error {err.max()} above bound {bound.min()}"
    else:
        assert c.dtype == np.int32
        assert c.shape == ref.shape
        assert np.abs(ref).max(initial=0) <= np.iinfo(np.int32).max
        np.testing.assert_array_equal(c, ref.astype(np.int32))
