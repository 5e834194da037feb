"""Per-layer evidence for the OCR study: where each format loses the signal.

For a few test lines, every quantized Conv/MatMul layer of the recogniser is run on its fp32
input (the input the float network gives it) and compared with its fp32 output, as a signal
to quantization-noise ratio, SQNR = 10 log10(|y|^2 / |y - y_fp32|^2) in dB:

- "layer": the layer as the study runs it (activation and weight quantized, lowbit kernels);
- "act only" / "weight only": the fp32 layer on the dequantized input / weights alone;
- "kernel vs fake": the kernel path against the same quantization simulated in float
  (dequantized input times dequantized weights): a large value means the integer pipeline
  (codes, zero points, scales, per-channel handling, K splits) computes what the format
  holds; a pipeline bug shows up here, not in the first three.

Then the whole network quantized ("cumulative"): each layer's output in the quantized run
against the fp32 run, which shows how the per-layer noise compounds to the output.
"""

from __future__ import annotations

import numpy as np

from . import ocr_exec
from .ocr_exec import LowbitExecutor, Plan


def sqnr_db(ref: np.ndarray, y: np.ndarray) -> float:
    ref = np.asarray(ref, np.float64)
    err = np.asarray(y, np.float64) - ref
    e, s = float(np.sum(err * err)), float(np.sum(ref * ref))
    return float("inf") if e == 0 else 10.0 * np.log10(max(s, 1e-300) / e)


class _Recorder:
    """Wraps ocr_exec's Conv/MatMul functions to keep every layer's inputs and output."""

    def __init__(self):
        self.layers: dict = {}

    def __enter__(self):
        self._conv, self._matmul = ocr_exec._conv, ocr_exec._matmul
        rec = self.layers
        conv, matmul = self._conv, self._matmul

        def conv_hook(plan, node, x, w, b, attrs):
            y = conv(plan, node, x, w, b, attrs)
            rec[node] = ("conv", x, w, b, attrs, y)
            return y

        def matmul_hook(plan, node, a, b, constant):
            y = matmul(plan, node, a, b, constant)
            rec[node] = ("matmul", a, b, constant, None, y)
            return y

        ocr_exec._conv, ocr_exec._matmul = conv_hook, matmul_hook
        return self

    def __exit__(self, *exc):
        ocr_exec._conv, ocr_exec._matmul = self._conv, self._matmul
        return False


def record(model, plan: Plan, x: np.ndarray) -> tuple[dict, np.ndarray]:
    """({node: (kind, input, weight, bias/constant, attrs, output)}, network output)."""
    with _Recorder() as r:
        out = LowbitExecutor(model, plan)(x)
    return r.layers, out


def layer_study(model, x: np.ndarray, plan_of, float_layers) -> dict:
    """{"layers": [per-layer rows], "cumulative": {...}} for one quantized plan.

    plan_of(): a fresh Plan of the case (the depthwise/attention paths of the accuracy runs).
    """
    ref, ref_out = record(model, Plan(), x)
    plan = plan_of()
    rows = []
    for node, (kind, a, b, c, attrs, y_ref) in ref.items():
        if node in float_layers:
            continue
        f32 = Plan()
        if kind == "conv":
            y = ocr_exec._conv(plan, node, a, b, c, attrs)
        else:
            y = ocr_exec._matmul(plan, node, a, b, c)
        row = {"node": node, "kind": kind, "layer_db": sqnr_db(y_ref, y)}
        if kind == "conv" or c:  # a weight tensor: split the error into its two sources
            lin = plan.layers[node]
            wq = lin.weight_q[0][1].dequantize()
            w_deq = (wq.T.reshape(b.shape) if kind == "conv" else wq).astype(np.float32)
            x_deq = ocr_exec.quantize_activation(lin, a).dequantize().astype(np.float32)
            if kind == "conv":
                groups = int(attrs.get("group") or 1)
                row["kind"] = "depthwise" if groups > 1 else "conv"
                ya = ocr_exec._conv(f32, node + "/a", x_deq, b, c, attrs)
                yw = ocr_exec._conv(f32, node + "/w", a, w_deq, c, attrs)
                yf = ocr_exec._conv(f32, node + "/f", x_deq, w_deq, c, attrs)
            else:
                ya = ocr_exec._matmul(f32, node + "/a", x_deq, b, True)
                yw = ocr_exec._matmul(f32, node + "/w", a, w_deq, True)
                yf = ocr_exec._matmul(f32, node + "/f", x_deq, w_deq, True)
            if len(lin.weight_q) == 1:  # a residual term is not in w_deq
                row["kernel_vs_fake_db"] = sqnr_db(yf, y)
            row.update(act_db=sqnr_db(y_ref, ya), weight_db=sqnr_db(y_ref, yw))
        else:
            row["kind"] = "attention"
        rows.append(row)
    q, q_out = record(model, plan_of(), x)
    cumulative = {node: sqnr_db(ref[node][5], q[node][5]) for node in ref}
    last = [n for n in ref if n not in float_layers][-1]
    return {"layers": rows, "cumulative": cumulative, "last_quantized": last,
            "output_db": sqnr_db(ref_out, q_out)}


def summary(study: dict) -> dict:
    """Median / worst per-layer SQNR and the compounded SQNR at the end (report rows)."""
    rows = study["layers"]
    med = {k: float(np.median([r[k] for r in rows if k in r]))
           for k in ("layer_db", "act_db", "weight_db")}
    worst = min(rows, key=lambda r: r["layer_db"])
    fake = [r["kernel_vs_fake_db"] for r in rows if "kernel_vs_fake_db" in r]
    by_kind = {}
    for kind in ("conv", "depthwise", "attention"):
        v = [r["layer_db"] for r in rows if r["kind"] == kind]
        if v:
            by_kind[kind] = float(np.median(v))
    return {"median": med, "median_by_kind": by_kind, "worst": (worst["node"], worst["layer_db"]),
            "kernel_vs_fake_min_db": min(fake) if fake else None,
            "last_quantized_cumulative_db": study["cumulative"][study["last_quantized"]],
            "output_db": study["output_db"]}
