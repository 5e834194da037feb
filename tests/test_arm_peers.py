"""The onnxruntime peers are exact on this machine: MatMulInteger (u8 x s8 -> int32) and
MatMulNBits (4-bit block-quantized weights), built as lowbit-bench builds them
(src/lowbit/bench/impls.py).

This is what `make arm-test` runs in the arm64 image, where onnxruntime and onnx come from
the aarch64 wheels (docker/peers.sh): under QEMU the peers are checked for exactness only;
their timings are never reported.  Off the image the tests run wherever onnxruntime is
installed and skip where it is not; in the image (the peers' stamp file is there) a
missing peer fails instead of skipping.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np
import pytest

PEERS = os.environ.get("LOWBIT_PEERS")
IN_IMAGE = bool(PEERS) and (Path(PEERS) / ".lowbit-peers").is_file()
AARCH64 = platform.machine() in ("aarch64", "arm64")
# Under QEMU everything is ~30x slower: fewer, smaller shapes (still K past any 16-bit sum).
EMULATED = os.environ.get("LOWBIT_TEST_PROFILE") == "emulated"
SHAPES = [(1, 17, 33), (7, 64, 300), (33, 47, 1000)] + ([] if EMULATED else [(64, 96, 4099)])


def _ort():
    try:
        import onnx  # noqa: F401
        import onnxruntime
    except ImportError as exc:
        if IN_IMAGE:
            pytest.fail(f"the image carries the peers ({PEERS}) but they do not import: {exc}")
        pytest.skip(f"onnxruntime/onnx not installed ({exc})")
    return onnxruntime


def _run(model, x: np.ndarray) -> np.ndarray:
    from lowbit.bench.impls import _ort_session

    return _ort_session(model.SerializeToString(), threads=1).run(None, {"A": x})[0]


def test_peers_present_in_image():
    """Inside the image the peers are the platform's wheels, never silently absent."""
    if not IN_IMAGE:
        pytest.skip("not in a lowbit image with peers")
    ort = _ort()
    assert "CPUExecutionProvider" in ort.get_available_providers()
    assert Path(ort.__file__).resolve().is_relative_to(Path(PEERS).resolve())


@pytest.mark.parametrize("M,N,K", SHAPES)
@pytest.mark.parametrize("extreme", [False, True], ids=["random", "extreme"])
def test_matmulinteger_exact(M, N, K, extreme):
    _ort()
    from lowbit.bench.impls import matmulinteger_model

    if not AARCH64:
        # MLAS's AVX2 u8 x s8 path sums byte pairs in saturating int16 (vpmaddubsw):
        # full-range operands come out inexact there (the bench records it per case).
        pytest.skip("exactness of full-range u8 x s8 is asserted on aarch64 only")
    rng = np.random.default_rng(M * 7919 + N * 31 + K)
    if extreme:
        x = np.full((M, K), 255, np.uint8)
        w = np.full((K, N), -128, np.int8)
        zx = 0
    else:
        x = rng.integers(0, 256, (M, K), dtype=np.uint8)
        w = rng.integers(-128, 128, (K, N), dtype=np.int8)
        zx = 128
    y = _run(matmulinteger_model(w, zx), x)
    want = (x.astype(np.int64) - zx) @ w.astype(np.int64)
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize("M,N,K", SHAPES)
@pytest.mark.parametrize("accuracy_level", [0, 4])
def test_matmulnbits_exact_on_lossless_operands(M, N, K, accuracy_level):
    """Weights whose 4-bit block quantization is lossless (every 32-block spans -7..7, so
    its scale is 1) and activations in {0, 127} with 127 in every block of 32 (their int8
    quantization, symmetric or asymmetric, is lossless up to fp32 rounding of its scale):
    MatMulNBits must then give the exact integer product: bit for bit with fp32 compute
    (accuracy_level 0), to fp32 rounding of the scales with int8 compute (4)."""
    _ort()
    from onnx import helper

    from lowbit.bench.impls import MATMULNBITS_BLOCK, matmulnbits_model

    rng = np.random.default_rng(M + 13 * N + 101 * K)
    blk = MATMULNBITS_BLOCK
    w = rng.integers(-7, 8, (K, N)).astype(np.float32)
    w[::blk, :] = 7.0  # each block of 32 along K holds a 7: scale 7/7 = 1
    x = np.where(rng.random((M, K)) < 0.5, 127.0, 0.0).astype(np.float32)
    x[:, ::blk] = 127.0
    model = matmulnbits_model(w)
    for attr in model.graph.node[0].attribute:
        if attr.name == "accuracy_level":
            attr.CopyFrom(helper.make_attribute("accuracy_level", accuracy_level))
    y = _run(model, x)
    want = x.astype(np.float64) @ w.astype(np.float64)
    assert y.shape == (M, N) and y.dtype == np.float32
    if accuracy_level == 0:
        # fp32 compute on integer values whose partial sums stay below 2**24: exact.
        np.testing.assert_array_equal(y, want)
    else:
        # int8 compute is exact; only the activation scale (127/255 when asymmetric) and
        # the per-block fp32 sums round.
        np.testing.assert_allclose(y, want, rtol=0, atol=1e-5 * float(np.abs(want).max()))
