"""lowbit.nn: the quantized GEMM chain is exact on the quantized operands."""

import numpy as np
import pytest

from lowbit.nn import QuantConv2d, QuantLinear, _byte_digits, im2col

CASES = [
    ("int8", {}), ("int4", {}), ("4.6bit", {"act_levels": 29, "weight_levels": 19}),
    ("4.6bit", {}), ("4.6bit", {"act_levels": 23, "weight_levels": 23}),
    ("dybit", {"bits": 4}), ("dybit", {"bits": 8}),
]


def _dequantized_product(layer, x):
    """float64 product of the exact operands the layer quantized: the GEMM's truth."""
    xq = layer.quantize_input(x)
    y = np.zeros((x.shape[0], layer.n)) + layer.bias
    for cols, wq in layer.weight_q:
        part = xq.dequantize() @ wq.dequantize()
        if cols is None:
            y += part
        else:
            y[:, cols] += part
    return y


@pytest.mark.parametrize("fmt,params", CASES)
@pytest.mark.parametrize("per_channel,budget", [(True, 0.0), (False, 0.0), (True, 0.3)])
def test_linear_equals_product_of_quantized_operands(fmt, params, per_channel, budget):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((70, 13)) * np.linspace(0.2, 3, 13)
    x = np.maximum(rng.standard_normal((37, 70)), 0)
    b = rng.standard_normal(13)
    layer = QuantLinear(w, b, fmt, calib=x[:20], per_channel=per_channel,
                        residual_budget=budget, **params)
    got = layer(x)
    want = _dequantized_product(layer, x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * np.abs(want).max())


def test_per_channel_zero_points_are_corrected():
    # int4 weights with per-channel zero points that differ: the kernel takes one zero point,
    # the rest is the exact row-sum correction.
    rng = np.random.default_rng(1)
    w = rng.uniform(-1, 3, (40, 6)) * np.array([1, 2, 3, 4, 5, 6])
    layer = QuantLinear(w, None, "int4", per_channel=True, w_method="minmax")
    zps = layer.weight_q[0][1].zero_point
    assert len(set(zps.tolist())) > 1
    x = rng.uniform(0, 2, (9, 40))
    np.testing.assert_allclose(layer(x), _dequantized_product(layer, x), rtol=2e-5, atol=1e-4)


def test_fp32_linear():
    rng = np.random.default_rng(2)
    w, x = rng.standard_normal((20, 5)), rng.standard_normal((4, 20))
    np.testing.assert_allclose(QuantLinear(w, None, "fp32")(x), x @ w, rtol=1e-5, atol=1e-5)


def test_byte_digits_recombine():
    v = np.arange(-448, 449)
    d = _byte_digits(v, signed=True)
    assert all(np.abs(x).max() <= 64 for _, x in d)
    assert np.array_equal(sum(p * x for p, x in d), v)
    u = np.arange(0, 1025)
    d = _byte_digits(u, signed=False)
    assert all(x.max() <= 255 and x.min() >= 0 for _, x in d)
    assert np.array_equal(sum(p * x for p, x in d), u)


def test_im2col_matches_direct_convolution():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 6, 3))
    w = rng.standard_normal((3, 3, 3, 4))
    cols = im2col(x, 3, 3, pad=1)
    y = (cols @ w.reshape(-1, 4)).reshape(2, 5, 6, 4)
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    direct = np.zeros((2, 5, 6, 4))
    for dy in range(3):
        for dx in range(3):
            direct += np.einsum("nhwc,co->nhwo", xp[:, dy:dy + 5, dx:dx + 6], w[dy, dx])
    np.testing.assert_allclose(y, direct, atol=1e-12)


@pytest.mark.parametrize("fmt,params", [("fp32", {}), ("int8", {}), ("4.6bit", {}),
                                        ("dybit", {"bits": 4})])
def test_conv_pads_with_real_zero(fmt, params):
    rng = np.random.default_rng(4)
    x = np.maximum(rng.standard_normal((2, 6, 6, 4)), 0) + 0.1  # zero never in the data
    w = rng.standard_normal((3, 3, 4, 5))
    conv = QuantConv2d(w, None, fmt, pad=1, calib=x, **params)
    got = conv(x)
    lin = conv.linear
    if fmt == "fp32":
        xd = x
    else:
        xd = lin.quantize_input(x).dequantize()
    wd = w.reshape(-1, 5) if fmt == "fp32" else lin.weight_q[0][1].dequantize()
    want = (im2col(xd, 3, 3, pad=1) @ wd).reshape(got.shape)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


@pytest.mark.parametrize("call", [
    lambda: QuantLinear(np.ones((3, 2)), None, "int5"),
    lambda: QuantLinear(np.ones(3), None, "int8"),
    lambda: QuantLinear(np.ones((3, 2)), None, "int8")(np.ones((2, 4))),
    lambda: QuantLinear(np.ones((3, 2)), None, "fp32", residual_budget=0.5),
    lambda: QuantConv2d(np.ones((3, 3, 2)), None, "int8"),
])
def test_bad_layer_input_raises(call):
    with pytest.raises(ValueError):
        call()


def test_relative_error_orders_formats():
    # Sanity of the chain on a real-size GEMM: more levels, less error.
    rng = np.random.default_rng(5)
    w = rng.standard_normal((256, 32)) / 16
    x = np.maximum(rng.standard_normal((128, 256)), 0)
    ref = x @ w

    def err(fmt, **p):
        y = QuantLinear(w, None, fmt, calib=x, **p)(x)
        return np.linalg.norm(y - ref) / np.linalg.norm(ref)

    assert err("int8") < err("4.6bit") < err("int4")


# -- issue 12: QuantLinear bugs --------------------------------------------------------------

@pytest.mark.parametrize("bits", [4, 8])
def test_dybit_signed_activations(bits):
    # Negative inputs used to be clamped to 0 silently; now they use the signed table.
    rng = np.random.default_rng(1)
    w = rng.standard_normal((40, 6))
    x = rng.standard_normal((25, 40))
    for calib in (None, x):
        layer = QuantLinear(w, None, "dybit", calib=calib, bits=bits)
        got = layer(x)
        np.testing.assert_allclose(got, _dequantized_product(layer, x), rtol=1e-5,
                                   atol=1e-5 * np.abs(got).max())
        ref = x @ w
        # the quantized result follows the signed product (clamping would lose about half)
        assert np.linalg.norm(got - ref) / np.linalg.norm(ref) < (0.35 if bits == 4 else 0.02)
    relu = QuantLinear(w, None, "dybit", calib=np.abs(x), act_signed=False, bits=bits)
    with pytest.raises(ValueError, match="negative activation"):
        relu(x)
    with pytest.raises(ValueError, match="DyBit only"):
        QuantLinear(w, None, "int8", act_signed=True)


@pytest.mark.parametrize("fmt,params,k", [("int8", {}, 70_000), ("dybit", {"bits": 8}, 300_000)])
def test_depth_beyond_int32_is_split(fmt, params, k):
    # K so deep that one kernel call could overflow int32: the layer splits K itself.
    w = np.full((k, 3), -1.0)
    w[0] = 1.0  # the range includes 0 and +1, so the zero point is off-centre
    x = np.full((2, k), 1.0)
    x[:, 0] = -1.0
    layer = QuantLinear(w, None, fmt, per_channel=False, w_method="minmax", **params)
    got = layer(x)
    want = _dequantized_product(layer, x)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    slices = layer.terms[0].digits[0][1]
    assert len(slices) > 1 and slices[-1][1] == k


@pytest.mark.parametrize("fmt,params", [("fp32", {})] + CASES)
def test_empty_batch_gives_zero_rows(fmt, params):
    rng = np.random.default_rng(2)
    w = rng.standard_normal((9, 4))
    layer = QuantLinear(w, np.ones(4), fmt, calib=None if fmt == "fp32" else rng.random((5, 9)),
                        **params)
    out = layer(np.zeros((0, 9)))
    assert out.shape == (0, 4) and out.dtype == np.float32
    conv = QuantConv2d(rng.standard_normal((3, 3, 2, 4)), None, fmt, pad=1, **params)
    assert conv(np.zeros((0, 5, 5, 2))).shape == (0, 5, 5, 4)


@pytest.mark.parametrize("fmt,params", [("fp32", {})] + CASES)
def test_layers_pickle_and_deepcopy(fmt, params):
    import copy
    import pickle

    import lowbit

    rng = np.random.default_rng(3)
    w = rng.standard_normal((33, 7))
    x = rng.standard_normal((6, 33))
    kw = {} if fmt == "fp32" else {"calib": x}
    layer = QuantLinear(w, None, fmt, **kw, **params)
    want = layer(x)
    for clone in (pickle.loads(pickle.dumps(layer)), copy.deepcopy(layer)):
        np.testing.assert_array_equal(clone(x), want)
    packed = lowbit.pack_weights(rng.integers(-128, 128, (5, 3), dtype=np.int8), "int8",
                                 zero_point=2)
    again = pickle.loads(pickle.dumps(packed))
    assert (again.k, again.n, again.zero_point, again.format) == (5, 3, 2, "int8")
    xa = rng.integers(0, 256, (4, 5), dtype=np.uint8)
    np.testing.assert_array_equal(lowbit.matmul(xa, again), lowbit.matmul(xa, packed))


@pytest.mark.parametrize("fmt,params", [("fp32", {})] + CASES)
@pytest.mark.parametrize("per_channel", [False, True])
def test_grouped_layer_equals_per_group_products(fmt, params, per_channel):
    rng = np.random.default_rng(4)
    groups, kg, ng, m = 3, 10, 2, 8
    w = rng.standard_normal((kg, groups * ng)) * np.linspace(0.5, 2, groups * ng)
    x = rng.standard_normal((m, groups * kg))
    kw = {} if fmt == "fp32" else {"calib": x, "per_channel": per_channel}
    layer = QuantLinear(w, None, fmt, groups=groups, **kw, **params)
    got = layer(x)
    if fmt == "fp32":
        xd, wd = x, w
    else:
        xd, wd = layer.quantize_input(x).dequantize(), layer.weight_q[0][1].dequantize()
    want = np.concatenate([xd[:, g * kg:(g + 1) * kg] @ wd[:, g * ng:(g + 1) * ng]
                           for g in range(groups)], axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    if fmt != "fp32":  # the group-major layout gives the same bits
        xq = layer.quantize_input(x)
        gm = np.ascontiguousarray(xq.codes.reshape(m, groups, kg).transpose(1, 0, 2))
        np.testing.assert_array_equal(layer.gemm_codes(gm, xq), layer.gemm_codes(xq.codes, xq))
