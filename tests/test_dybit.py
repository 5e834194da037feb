"""DyBit (as reconstructed here): tables match their definition, encode/decode round trips."""

import numpy as np
import pytest

from lowbit.quant import dybit, quantize


def _from_bits(pattern: str, signed: bool) -> int:
    """The definition read off a bit string: [sign] ones-run [0] mantissa."""
    sign = -1 if signed and pattern[0] == "1" else 1
    field = pattern[1:] if signed else pattern
    m = len(field)
    run = len(field) - len(field.lstrip("1"))
    if run == m:
        return sign * m * 2 ** (m - 1)
    mant_bits = field[run + 1:]
    mant = int(mant_bits, 2) if mant_bits else 0
    return sign * (run * 2 ** (m - 1) + mant * 2 ** run)


@pytest.mark.parametrize("bits", dybit.WIDTHS)
@pytest.mark.parametrize("signed", [True, False])
def test_table_matches_definition(bits, signed):
    table = dybit.value_table(bits, signed)
    assert table.shape == (2 ** bits,)
    want = [_from_bits(format(c, f"0{bits}b"), signed) for c in range(2 ** bits)]
    assert table.tolist() == want


def test_dybit4_values():
    mags = [0, 1, 2, 3, 4, 6, 8, 12]
    assert dybit.value_table(4, True).tolist() == mags + [-m for m in mags]
    assert dybit.levels(4, False).tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20,
                                               24, 32]


@pytest.mark.parametrize("bits", dybit.WIDTHS)
@pytest.mark.parametrize("signed", [True, False])
def test_decode_encode_round_trip_on_the_grid(bits, signed):
    lv = dybit.levels(bits, signed)
    assert np.array_equal(dybit.decode(dybit.encode(lv, bits, signed), bits, signed), lv)
    codes = np.arange(2 ** bits)
    again = dybit.encode(dybit.decode(codes, bits, signed), bits, signed)
    neg_zero = (dybit.value_table(bits, signed) == 0) & (codes != 0)
    assert np.array_equal(again[~neg_zero], codes[~neg_zero])
    assert np.all(again[neg_zero] == 0)  # negative zero encodes back to +0


@pytest.mark.parametrize("bits,signed", [(4, True), (8, True), (4, False)])
def test_encode_picks_the_nearest_level(bits, signed):
    lv = dybit.levels(bits, signed).astype(float)
    u = np.random.default_rng(0).uniform(lv[0] - 3, lv[-1] + 3, 2000)
    got = dybit.decode(dybit.encode(u, bits, signed), bits, signed)
    best = np.min(np.abs(u[:, None] - lv[None, :]), axis=1)
    assert np.allclose(np.abs(u - got), best)


def test_tapered_precision():
    # Steps never shrink away from zero, and the largest is wider than the smallest.
    lv = dybit.levels(8, False)
    steps = np.diff(lv)
    assert np.all(np.diff(steps) >= 0) and steps[-1] > steps[0] == 1


def test_bad_codes_and_widths():
    with pytest.raises(ValueError):
        dybit.value_table(5)
    with pytest.raises(ValueError):
        dybit.decode(np.array([16]), 4)


def test_quantize_dybit_reconstructs_on_the_scaled_grid():
    x = np.random.default_rng(1).standard_normal(500)
    qt = quantize(x, "dybit", bits=4, method="mmse")
    assert qt.codes.dtype == np.uint8
    assert set(np.unique(qt.values())) <= set(dybit.levels(4, True).tolist())
    grid = dybit.levels(4, True) * qt.scale[0]
    nearest = grid[np.argmin(np.abs(x[:, None] - grid[None, :]), axis=1)]
    assert np.allclose(qt.dequantize(), nearest)


@pytest.mark.parametrize("bits", [4, 8])
def test_nan_is_a_clear_error(bits):
    for fn in (dybit.encode, dybit.round_to_grid):
        with pytest.raises(ValueError, match="NaN"):
            fn(np.array([0.5, np.nan]), bits)
    # infinities saturate like any out-of-range value
    top = dybit.levels(bits, True)[-1]
    assert dybit.decode(dybit.encode(np.array([np.inf]), bits), bits)[0] == top
