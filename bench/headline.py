"""Headline ratios of the issue targets, measured back to back in one process.

    .venv/bin/python bench/headline.py [--tier avx2] [--repeat 7]

Prints a markdown table: fp32 vs numpy/OpenBLAS and int8 vs onnxruntime MatMulInteger at
1024^3 (one thread), int4 and 4.6bit vs int8 at compute-bound shapes on the chosen tier, and
int4 vs int8 on memory-bound GEMV shapes (M <= 4, K = N = 4096) on the best tier. Each
ratio is the median over `repeat` rounds of interleaved timings (best of 3 calls each), so
both sides of a ratio see the same machine load.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import lowbit


def best_of(fn, calls: int = 3) -> float:
    best = float("inf")
    for _ in range(calls):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def operands(fmt, M, N, K, rng):
    spec = lowbit.format_spec(fmt)
    if fmt == "fp32":
        return (rng.standard_normal((M, K), dtype=np.float32),
                rng.standard_normal((K, N), dtype=np.float32))
    x = rng.integers(spec.x_range[0], spec.x_range[1] + 1, (M, K)).astype(spec.x_dtype)
    w = rng.integers(spec.w_range[0], spec.w_range[1] + 1, (K, N)).astype(spec.w_dtype)
    return x, w


def ratio(fa, fb, repeat: int) -> float:
    """median over rounds of time(fb) / time(fa): > 1 means a is faster."""
    fa(), fb()
    return statistics.median(best_of(fb) / best_of(fa) for _ in range(repeat))


def ort_matmulinteger(w8: np.ndarray, M: int):
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    K, N = w8.shape
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, [M, K])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [M, N])],
        [numpy_helper.from_array(w8, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])
    return lambda x: sess.run(None, {"x": x})[0], ort.__version__


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", default=None, help="tier for the format ratios (default: best)")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    tier = args.tier or lowbit.tiers("int4")[0]
    rows = []

    n = 1024
    xf, wf = operands("fp32", n, n, n, rng)
    pf = lowbit.pack_weights(wf, "fp32", tier=tier)
    try:
        from threadpoolctl import threadpool_limits
        with threadpool_limits(1):
            r = ratio(lambda: lowbit.matmul(xf, pf), lambda: xf @ wf, args.repeat)
        rows.append((f"{n}^3", f"lowbit fp32 ({tier}) / numpy fp32", r, ""))
    except ImportError:
        rows.append((f"{n}^3", "lowbit fp32 / numpy fp32", None, "threadpoolctl missing"))

    packed, xs = {}, {}
    for fmt in ("int8", "int4", "4.6bit"):
        x, w = operands(fmt, n, n, n, rng)
        packed[fmt], xs[fmt] = lowbit.pack_weights(w, fmt, tier=tier), x
        if fmt == "int8":
            w8 = w
    run = {f: (lambda f=f: lowbit.matmul(xs[f], packed[f])) for f in packed}
    try:
        ort_run, ver = ort_matmulinteger(w8, n)
        exact = np.array_equal(ort_run(xs["int8"]),
                               lowbit.reference_matmul(xs["int8"], w8, "int8"))
        r = ratio(run["int8"], lambda: ort_run(xs["int8"]), args.repeat)
        rows.append((f"{n}^3", f"lowbit int8 ({tier}) / onnxruntime {ver} MatMulInteger", r,
                     "onnxruntime exact" if exact else "onnxruntime result NOT exact"))
    except ImportError:
        rows.append((f"{n}^3", "lowbit int8 / onnxruntime", None, "onnxruntime missing"))
    for a, b in (("int4", "int8"), ("4.6bit", "int8"), ("4.6bit", "int4")):
        rows.append((f"{n}^3", f"{a} / {b} ({tier})", ratio(run[a], run[b], args.repeat), ""))

    best = lowbit.tiers("int4")[0]
    K = N = 4096
    w8 = operands("int8", 1, N, K, rng)[1]
    w4 = operands("int4", 1, N, K, rng)[1]
    p8, p4 = lowbit.pack_weights(w8, "int8", tier=best), lowbit.pack_weights(w4, "int4", tier=best)
    for M in (1, 2, 4):
        x8, x4 = operands("int8", M, N, K, rng)[0], operands("int4", M, N, K, rng)[0]
        r = ratio(lambda: lowbit.matmul(x4, p4), lambda: lowbit.matmul(x8, p8), args.repeat)
        rows.append((f"M={M} K=N=4096", f"int4 / int8 ({best}, weights prepacked)", r,
                     f"weights {p4.nbytes >> 20} vs {p8.nbytes >> 20} MiB"))

    print(f"CPU: {lowbit.cpu_info()['model']}, one thread, ratio > 1 = first is faster\n")
    print("| shape | comparison | speed ratio | note |\n|---|---|---|---|")
    for shape, what, r, note in rows:
        print(f"| {shape} | {what} | {'-' if r is None else f'{r:.2f}x'} | {note} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
