"""lowbit.quant: grids, round trips, calibration orderings, residual refinement."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lowbit
from lowbit import quant as Q

# (format, params, role, symmetric) for every grid the kernels take.
GRIDS = [
    ("int8", {}, "weight", False), ("int8", {}, "weight", True),
    ("int8", {}, "activation", False), ("int8", {}, "activation", True),
    ("int4", {}, "weight", False), ("int4", {}, "weight", True),
    ("int4", {}, "activation", False),
    ("4.6bit", {"act_levels": 29, "weight_levels": 19}, "weight", True),
    ("4.6bit", {"act_levels": 23, "weight_levels": 23}, "activation", False),
    ("4.6bit", {}, "activation", True),
]
UNIFORM_IDS = [f"{f}-{r}-{'sym' if s else 'asym'}-{p}" for f, p, r, s in GRIDS]


def _mse(x, qt):
    return float(np.mean((qt.dequantize() - x) ** 2))


@pytest.mark.parametrize("fmt,params,role,sym", GRIDS, ids=UNIFORM_IDS)
def test_codes_follow_the_kernel_contract(fmt, params, role, sym):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 12)) * 3
    if role == "activation":
        x = np.maximum(x, 0)
    qt = Q.quantize(x, fmt, role=role, symmetric=sym, **params)
    want = {("int8", "weight"): np.int8, ("4.6bit", "weight"): np.int8}.get((fmt, role), np.uint8)
    assert qt.codes.dtype == want and qt.codes.flags.c_contiguous
    v = qt.values()
    if fmt == "int4":
        assert v.min() >= 0 and v.max() <= 15
    if fmt == "4.6bit":
        n_x, n_w = Q.levels_46(params.get("act_levels"), params.get("weight_levels"))
        if role == "weight":
            b = (n_w - 1) // 2
            assert np.abs(v).max() <= b and np.all(qt.zero_point == 0)
        else:
            assert v.min() >= 0 and v.max() <= n_x - 1
    if sym:
        sch = Q.scheme(fmt, role, True, **params)
        assert np.all(qt.zero_point == sch.zero_fixed)


@pytest.mark.parametrize("fmt,params,role,sym", GRIDS, ids=UNIFORM_IDS)
@pytest.mark.parametrize("axis", [None, 1])
def test_round_trip_within_half_a_step(fmt, params, role, sym, axis):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 8)) * np.linspace(0.1, 5, 8)
    if role == "activation":
        x = np.abs(x)
    qt = Q.quantize(x, fmt, role=role, symmetric=sym, axis=axis, **params)
    step = qt.scale.reshape((1, -1) if axis == 1 else (1, 1))
    # min-max never clips, so every element is within half a step of its reconstruction.
    assert np.all(np.abs(qt.dequantize() - x) <= step / 2 * (1 + 1e-9))


def test_round_trip_is_exact_on_the_grid():
    s = 0.25
    q = np.arange(-128, 128)
    qt = Q.quantize(q * s, "int8", scale=s, zero_point=0)
    assert np.array_equal(qt.values(), q) and np.array_equal(qt.dequantize(), q * s)


def test_fp32_is_identity():
    x = np.linspace(-3, 3, 10)
    qt = Q.quantize(x, "fp32")
    assert qt.codes.dtype == np.float32
    assert np.array_equal(qt.dequantize(), x.astype(np.float32))


def _data(kind, shape, seed):
    rng = np.random.default_rng(seed)
    if kind == "gauss":
        return rng.standard_normal(shape)
    if kind == "laplace":
        return rng.laplace(size=shape)
    if kind == "t3":
        return rng.standard_t(3, size=shape)
    if kind == "relu":
        return np.maximum(rng.standard_normal(shape), 0)
    return rng.uniform(-1, 3, size=shape)  # skewed: asymmetric ranges


ALL_GRIDS = GRIDS + [("dybit", {"bits": 4}, "weight", True), ("dybit", {"bits": 8}, "weight", True),
                     ("dybit", {"bits": 4}, "activation", True)]


@settings(max_examples=25, deadline=None)
@given(grid=st.sampled_from(ALL_GRIDS), kind=st.sampled_from(["gauss", "laplace", "t3", "relu",
                                                              "skew"]),
       seed=st.integers(0, 2**16), axis=st.sampled_from([None, 1]),
       rows=st.integers(1, 40), cols=st.integers(1, 6))
def test_mmse_never_above_minmax_and_per_channel_never_above_per_tensor(grid, kind, seed, axis,
                                                                       rows, cols):
    fmt, params, role, sym = grid
    x = _data(kind, (rows, cols), seed)
    kw = dict(role=role, symmetric=sym, **params)
    e_mm = _mse(x, Q.quantize(x, fmt, method="minmax", axis=axis, **kw))
    e_ms = _mse(x, Q.quantize(x, fmt, method="mmse", axis=axis, **kw))
    assert e_ms <= e_mm * (1 + 1e-9) + 1e-300
    if axis is not None:
        e_tensor = _mse(x, Q.quantize(x, fmt, method="mmse", axis=None, **kw))
        assert e_ms <= e_tensor * (1 + 1e-9) + 1e-300


def test_mmse_beats_minmax_on_heavy_tails():
    # Outliers stretch the min-max range; clipping them wins at 4 bits.
    x = _data("t3", (4096,), 0)
    assert _mse(x, Q.quantize(x, "int4", method="mmse")) < \
        0.7 * _mse(x, Q.quantize(x, "int4", method="minmax"))


def test_per_channel_helps_when_channel_ranges_differ():
    x = _data("gauss", (256, 16), 3) * np.geomspace(0.01, 10, 16)
    e_t = _mse(x, Q.quantize(x, "int8", method="minmax"))
    e_c = _mse(x, Q.quantize(x, "int8", method="minmax", axis=1))
    assert e_c < 0.5 * e_t


def test_percentile_clips_outliers():
    x = np.concatenate([np.linspace(-1, 1, 9999), [100.0]])
    qt = Q.quantize(x, "int8", method="percentile", percentile=99.9, symmetric=True)
    assert qt.scale[0] < 100.0 / 127 / 10


def test_scale_and_zero_point_can_be_given():
    x = _data("relu", (50, 7), 4)
    s, z = Q.calibrate(x, "int4", role="activation", method="mmse")
    a = Q.quantize(x, "int4", role="activation", method="mmse")
    b = Q.quantize(x, "int4", role="activation", scale=s, zero_point=z)
    assert np.array_equal(a.codes, b.codes)


def test_zero_is_exact_for_asymmetric_ranges():
    x = np.concatenate([np.zeros(5), np.linspace(0.3, 7.1, 50)])
    for fmt in ("int8", "int4"):
        qt = Q.quantize(x, fmt, role="activation")
        assert np.all(qt.dequantize()[:5] == 0.0)


def test_all_zero_tensor():
    qt = Q.quantize(np.zeros((4, 3)), "int4", method="mmse", axis=1)
    assert np.all(qt.dequantize() == 0) and np.all(np.isfinite(qt.scale))


@pytest.mark.parametrize("call,exc", [
    (lambda: Q.quantize(np.ones(3), "int3"), ValueError),
    (lambda: Q.quantize(np.ones(3), "int8", method="kmeans"), ValueError),
    (lambda: Q.quantize(np.ones(3), "int8", role="bias"), ValueError),
    (lambda: Q.quantize(np.array([1.0, np.nan]), "int8"), ValueError),
    (lambda: Q.quantize(np.array([]), "int8"), ValueError),
    (lambda: Q.quantize(np.array(["a"]), "int8"), TypeError),
    (lambda: Q.quantize(np.ones((2, 2)), "int8", axis=2), ValueError),
    (lambda: Q.quantize(np.ones(3), "4.6bit", act_levels=25, weight_levels=19), ValueError),
    (lambda: Q.quantize(np.ones(3), "4.6bit", weight_levels=20), ValueError),
    (lambda: Q.quantize(np.ones(3), "4.6bit", symmetric=False), ValueError),
    (lambda: Q.quantize(np.ones(3), "dybit", symmetric=False), ValueError),
    (lambda: Q.quantize(np.ones(3), "dybit", bits=6), ValueError),
    (lambda: Q.quantize(np.ones(3), "int8", scale=0.0), ValueError),
    (lambda: Q.quantize(np.ones(3), "int4", scale=0.1, zero_point=16), ValueError),
    (lambda: Q.quantize(np.ones(3), "int8", act_levels=3), ValueError),
])
def test_bad_input_raises(call, exc):
    with pytest.raises(exc):
        call()


def test_46bit_pairs_follow_the_rule():
    for n_w in range(3, 128, 2):
        b = (n_w - 1) // 2
        n_x, got_w = Q.levels_46(weight_levels=n_w)
        assert got_w == n_w and n_x == 2 * (127 // b) + 1
        assert ((n_x - 1) // 2) * b <= 127  # every product fits a signed byte
    for pair in [(29, 19), (25, 21), (23, 23)]:
        assert Q.levels_46(*pair) == pair


@pytest.mark.parametrize("params", [{"act_levels": 25}, {"act_levels": 29}, {"weight_levels": 20},
                                    {"act_levels": 25, "weight_levels": 19}, {"weight_levels": 1}])
def test_46bit_levels_agree_with_the_kernels(params):
    """The quantizer and the kernels give one answer: the same pair or the same error."""
    try:
        want = lowbit.format_spec("4.6bit", **params).params
    except ValueError as e:
        with pytest.raises(ValueError, match=re.escape(str(e))):
            Q.levels_46(**params)
        with pytest.raises(ValueError, match=re.escape(str(e))):
            lowbit.pack_weights(np.zeros((4, 4), np.int8), "4.6bit", **params)
    else:
        assert Q.levels_46(**params) == (want["act_levels"], want["weight_levels"])


def test_residual_refines_the_worst_channels():
    w = _data("t3", (128, 32), 5)
    base = Q.quantize(w, "int4", method="mmse", axis=1)
    r = Q.quantize_residual(w, "int4", axis=1, budget=0.25, base=base)
    assert r.channels.size == 8
    err = Q.relative_channel_error(w, base.dequantize(), 1)
    assert set(r.channels) == set(np.argsort(-err)[:8])
    e_base = Q.relative_channel_error(w, base.dequantize(), 1)
    e_ref = Q.relative_channel_error(w, r.dequantize(), 1)
    assert np.all(e_ref[r.channels] < e_base[r.channels])
    others = np.setdiff1d(np.arange(32), r.channels)
    assert np.array_equal(e_ref[others], e_base[others])
    assert Q.quantize_residual(w, "int4", axis=1, budget=0.0).residual is None
    with pytest.raises(ValueError):
        Q.quantize_residual(w, "int4", budget=1.5)


@pytest.mark.parametrize("method", ["minmax", "percentile", "mmse"])
@pytest.mark.parametrize("fmt,params", [("int8", {}), ("int4", {}), ("4.6bit", {}),
                                        ("dybit", {"bits": 4})])
def test_values_near_the_float64_limit_stay_finite(method, fmt, params):
    # (hi - lo) and squared errors overflow float64 here; the result must still be finite.
    x = np.array([1e308, -1e308, 0.5, 1.7e308])
    with np.errstate(all="raise"):
        qt = Q.quantize(x, fmt, method=method, **params)
        d = qt.dequantize()
    assert np.all(np.isfinite(d))
    step = qt.scale[0]
    assert abs(d[0] - 1e308) <= step and abs(d[1] + 1e308) <= step
