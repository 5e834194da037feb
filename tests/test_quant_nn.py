"""lowbit.nn: the quantized GEMM chain is exact on the quantized operands."""

import numpy as np
import pytest

from lowbit import quant as Q
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
    assert Q.quantize is not None
