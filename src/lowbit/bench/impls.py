"""In-process implementations: lowbit's kernels and the numpy / onnxruntime peers.

Each `prepare_*` builds everything a case needs outside the timed region (weights packed or
turned into initializers; that time is returned as pack_s) and returns the call to time.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np

from .operands import make_operands


@dataclass
class Prepared:
    fn: Callable[[], object]
    pack_s: float | None
    extra: dict = field(default_factory=dict)
    context: contextlib.AbstractContextManager = field(default_factory=contextlib.nullcontext)
    # Called once on the first output: {"exact": bool} for integer results, {"max_rel_err": x}
    # for float ones. A sanity check on a corner of C (cheap for every shape), not a test.
    check: Callable[[object], dict] | None = None


CHECK_ROWS, CHECK_COLS = 8, 64


def exact_check(op) -> Callable[[object], dict]:
    """Compare a corner of an integer result with int64 numpy truth."""
    def check(y) -> dict:
        y = np.asarray(y)
        r, c = min(CHECK_ROWS, y.shape[0]), min(CHECK_COLS, y.shape[1])
        xs = op.x[:r].astype(np.int64) - op.zero_point_x
        ws = op.w[:, :c].astype(np.int64) - op.zero_point_w
        return {"exact": bool(np.array_equal(y[:r, :c], xs @ ws))}
    return check


def float_check(x: np.ndarray, w: np.ndarray) -> Callable[[object], dict]:
    def check(y) -> dict:
        y = np.asarray(y, dtype=np.float64)
        r, c = min(CHECK_ROWS, y.shape[0]), min(CHECK_COLS, y.shape[1])
        ref = x[:r].astype(np.float64) @ w[:, :c].astype(np.float64)
        scale = max(float(np.abs(ref).max()), 1e-30)
        return {"max_rel_err": float(np.abs(y[:r, :c] - ref).max() / scale)}
    return check


def _timed(make):
    t0 = time.perf_counter()
    out = make()
    return out, time.perf_counter() - t0


# ---------------------------------------------------------------- lowbit
def prepare_lowbit(fmt: str, tier: str, M: int, N: int, K: int, threads: int) -> Prepared:
    import lowbit

    op = make_operands(fmt, M, N, K)
    packed, pack_s = _timed(lambda: lowbit.pack_weights(
        op.w, fmt, zero_point=op.zero_point_w, tier=tier, **op.params))
    x, zx = op.x, op.zero_point_x
    extra = {"kernel": getattr(packed, "kernel", None),
             "flush_period": getattr(packed, "flush_period", None),
             "weight_bytes": getattr(packed, "nbytes", None)}
    check = float_check(op.x, op.w) if fmt == "fp32" else exact_check(op)
    return Prepared(lambda: lowbit.matmul(x, packed, zero_point=zx, threads=threads),
                    pack_s, extra, check=check)


# ---------------------------------------------------------------- numpy
def prepare_numpy(M: int, N: int, K: int, threads: int) -> Prepared:
    from threadpoolctl import threadpool_info, threadpool_limits

    op = make_operands("fp32", M, N, K)
    x, w = op.x, op.w
    blas = [f"{i.get('internal_api')} {i.get('version')}" for i in threadpool_info()
            if i.get("user_api") == "blas"]
    # Limit BLAS threads for the whole measurement (threads=1 -> single-threaded OpenBLAS).
    return Prepared(lambda: x @ w, None, {"blas": blas},
                    context=threadpool_limits(limits=threads, user_api="blas"),
                    check=float_check(x, w))


# ---------------------------------------------------------------- onnxruntime
MATMULNBITS_BLOCK = 32  # weights per scale along K (ONNX Runtime's usual block size)


def _ort_session(model, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # No spinning: spin-waiting worker threads would steal the other core from peers.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, so,
                                providers=["CPUExecutionProvider"])


def _model(node, inputs, outputs, initializers):
    from onnx import helper

    graph = helper.make_graph([node], "gemm", inputs, outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    return model


def matmulinteger_model(w: np.ndarray, zero_point_x: int):
    """MatMulInteger: u8 activations x s8 weights (the fast MLAS path), weights as initializers."""
    from onnx import TensorProto, helper, numpy_helper

    K, N = w.shape
    node = helper.make_node("MatMulInteger", ["A", "B", "a_zero_point"], ["Y"])
    return _model(
        node,
        [helper.make_tensor_value_info("A", TensorProto.UINT8, ["M", K])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, ["M", N])],
        [numpy_helper.from_array(np.ascontiguousarray(w, dtype=np.int8), "B"),
         numpy_helper.from_array(np.array(zero_point_x, dtype=np.uint8), "a_zero_point")])


def quantize_nbits(w: np.ndarray, block: int = MATMULNBITS_BLOCK):
    """4-bit block quantization in MatMulNBits' layout: B (N, k_blocks, block/2) uint8 with codes
    packed low nibble first along K, scales (N * k_blocks,), implicit zero point 8."""
    K, N = w.shape
    kb = -(-K // block)
    wt = np.zeros((N, kb * block), dtype=np.float32)
    wt[:, :K] = w.T
    wt = wt.reshape(N, kb, block)
    amax = np.abs(wt).max(axis=2)
    scale = np.where(amax > 0, amax / 7.0, 1.0).astype(np.float32)
    codes = np.clip(np.rint(wt / scale[:, :, None]) + 8, 0, 15).astype(np.uint8)
    packed = (codes[:, :, 0::2] | (codes[:, :, 1::2] << 4)).astype(np.uint8)
    return packed, scale.reshape(-1)


def dequantize_nbits(packed: np.ndarray, scales: np.ndarray, K: int) -> np.ndarray:
    N, kb, half = packed.shape
    codes = np.empty((N, kb, 2 * half), dtype=np.float32)
    codes[:, :, 0::2] = packed & 0x0F
    codes[:, :, 1::2] = packed >> 4
    w = (codes - 8) * scales.reshape(N, kb)[:, :, None]
    return w.reshape(N, -1)[:, :K].T


def matmulnbits_model(w: np.ndarray, block: int = MATMULNBITS_BLOCK):
    """com.microsoft MatMulNBits: fp32 activations, 4-bit block-quantized weights,
    accuracy_level=4 (activations quantized to int8 inside, int8 compute)."""
    from onnx import TensorProto, helper, numpy_helper

    K, N = w.shape
    packed, scales = quantize_nbits(w, block)
    node = helper.make_node("MatMulNBits", ["A", "B", "scales"], ["Y"], domain="com.microsoft",
                            K=K, N=N, bits=4, block_size=block, accuracy_level=4)
    return _model(
        node,
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, ["M", K])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["M", N])],
        [numpy_helper.from_array(packed, "B"), numpy_helper.from_array(scales, "scales")])


@lru_cache(maxsize=2)
def _matmulinteger_bytes(N: int, K: int) -> bytes:
    op = make_operands("int8", 1, N, K)
    return matmulinteger_model(op.w, op.zero_point_x).SerializeToString()


@lru_cache(maxsize=2)
def _matmulnbits_bytes(N: int, K: int) -> bytes:
    return matmulnbits_model(make_operands("fp32", 1, N, K).w).SerializeToString()


def prepare_ort_matmulinteger(M: int, N: int, K: int, threads: int) -> Prepared:
    op = make_operands("int8", M, N, K)
    model = _matmulinteger_bytes(N, K)
    # pack_s: session creation from the serialized model (ORT prepacks initializers there).
    sess, pack_s = _timed(lambda: _ort_session(model, threads))
    feed = {"A": op.x}
    # MLAS' AVX2 u8 x s8 path sums pairs in saturating int16 (vpmaddubsw), so full-range
    # operands can come out inexact: the check records it.
    return Prepared(lambda: sess.run(None, feed)[0], pack_s, check=exact_check(op))


def prepare_ort_matmulnbits(M: int, N: int, K: int, threads: int) -> Prepared:
    op = make_operands("fp32", M, N, K)
    model = _matmulnbits_bytes(N, K)
    sess, pack_s = _timed(lambda: _ort_session(model, threads))
    feed = {"A": op.x}
    # Error against fp32 x @ w: includes the 4-bit weight and int8 activation quantization.
    return Prepared(lambda: sess.run(None, feed)[0], pack_s,
                    {"block_size": MATMULNBITS_BLOCK, "accuracy_level": 4},
                    check=float_check(op.x, op.w))


# ---------------------------------------------------------------- torch
def prepare_torch(impl: str, M: int, N: int, K: int, threads: int) -> Prepared:
    """torch._int_mm or fbgemm's quantized linear. Runs in a process of its own per ISA cap
    (ONEDNN_MAX_CPU_ISA is read once, when oneDNN initialises)."""
    import os
    import warnings

    import torch

    warnings.simplefilter("ignore")  # torch's quantized-tensor deprecation notices
    torch.set_num_threads(threads)
    op = make_operands("int8", M, N, K)
    extra = {"torch": torch.__version__, "onednn_isa_cap": os.environ.get("ONEDNN_MAX_CPU_ISA")}
    if impl == "torch-int-mm":
        # _int_mm is s8 x s8 -> s32: shift the u8 activations by their zero point (exact).
        x = torch.from_numpy((op.x.astype(np.int16) - op.zero_point_x).astype(np.int8))
        w = torch.from_numpy(np.array(op.w))
        return Prepared(lambda: torch._int_mm(x, w).numpy(), None, extra, check=exact_check(op))
    if impl == "torch-fbgemm":
        if "fbgemm" not in torch.backends.quantized.supported_engines:
            raise PeerUnavailable("this torch build has no fbgemm engine")
        torch.backends.quantized.engine = "fbgemm"
        xq = torch._make_per_tensor_quantized_tensor(torch.from_numpy(np.array(op.x)), 1.0,
                                                     op.zero_point_x)
        wq = torch._make_per_tensor_quantized_tensor(
            torch.from_numpy(np.ascontiguousarray(op.w.T)), 1.0, 0)
        packed, pack_s = _timed(lambda: torch.ops.quantized.linear_prepack(wq, None))
        out_scale = float(128 * 64 * max(K, 1) ** 0.5)  # keeps requantized outputs in range
        # Output is requantized to u8, so there is no exact result to check.
        return Prepared(lambda: torch.ops.quantized.linear(xq, packed, out_scale, 0), pack_s,
                        extra)
    raise ValueError(f"unknown torch impl {impl!r}")


class PeerUnavailable(RuntimeError):
    """A peer cannot run here (reported as skipped with this reason, never as an error)."""


# Python distribution each peer needs (and its extra dependencies).
PEER_DISTS = {"numpy": ("numpy", "threadpoolctl"), "ort-matmulinteger": ("onnxruntime", "onnx"),
              "ort-matmulnbits": ("onnxruntime", "onnx"), "torch-int-mm": ("torch",),
              "torch-fbgemm": ("torch",)}


def prepare(case: dict) -> Prepared:
    """Everything one benchmark case needs, outside the timed region."""
    import importlib.util

    impl, M, N, K, t = case["impl"], case["M"], case["N"], case["K"], case["threads"]
    if impl == "lowbit":
        return prepare_lowbit(case["format"], case["tier"], M, N, K, t)
    missing = [d for d in PEER_DISTS[impl] if importlib.util.find_spec(d) is None]
    if missing:
        raise PeerUnavailable(f"{', '.join(missing)} not installed")
    if impl.startswith("torch-"):
        return prepare_torch(impl, M, N, K, t)
    return {"numpy": prepare_numpy, "ort-matmulinteger": prepare_ort_matmulinteger,
            "ort-matmulnbits": prepare_ort_matmulnbits}[impl](M, N, K, t)
