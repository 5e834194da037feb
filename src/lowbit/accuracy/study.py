"""The quantization-error and accuracy study (report section; docs/quantization.md).

1. GEMM output error (SQNR against fp32) per format x calibration, on synthetic weight
   distributions with post-ReLU activations and on the trained digits CNN's real layers.
2. End-to-end accuracy and inference time of the digits CNN per format, through the kernels.
3. The DyBit value tables (a reconstruction).
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import asdict

import numpy as np

import lowbit
from lowbit.bench.timing import timed
from lowbit.nn import QuantLinear, im2col, kernel_clock
from lowbit.quant import dybit

from . import digits_cnn
from .network import KernelDigitsNet, layer_inputs

# (label, format, format params): the formats of every table.
FORMATS = (
    ("int8", "int8", {}),
    ("int4", "int4", {}),
    ("4.6bit (29,19)", "4.6bit", {"act_levels": 29, "weight_levels": 19}),
    ("4.6bit (25,21)", "4.6bit", {"act_levels": 25, "weight_levels": 21}),
    ("4.6bit (23,23)", "4.6bit", {"act_levels": 23, "weight_levels": 23}),
    ("DyBit-4", "dybit", {"bits": 4}),
    ("DyBit-8", "dybit", {"bits": 8}),
)

# (label, QuantLinear keyword arguments): weights / activations calibration.
CALIBRATIONS = (
    ("min-max, per tensor", {"w_method": "minmax", "a_method": "minmax", "per_channel": False}),
    ("percentile 99.99, per tensor",
     {"w_method": "percentile", "a_method": "percentile", "per_channel": False}),
    ("MMSE, per tensor", {"w_method": "mmse", "a_method": "mmse", "per_channel": False}),
    ("MMSE, per channel", {"w_method": "mmse", "a_method": "mmse", "per_channel": True}),
    ("MMSE, per channel + residual 25%",
     {"w_method": "mmse", "a_method": "mmse", "per_channel": True, "residual_budget": 0.25}),
)

# End-to-end: the papers' setup (per-tensor min-max) and ours (MMSE, per channel).
E2E_CALIBRATIONS = (CALIBRATIONS[0], CALIBRATIONS[3])


def _weights(kind: str, shape, rng) -> np.ndarray:
    if kind == "Gaussian":
        return rng.standard_normal(shape)
    if kind == "Laplacian":
        return rng.laplace(size=shape)
    if kind == "Student-t(3)":
        return rng.standard_t(3, size=shape)
    raise ValueError(kind)


SYNTHETIC = ("Gaussian", "Laplacian", "Student-t(3)")


def sqnr_db(ref: np.ndarray, got: np.ndarray) -> float:
    err = float(np.sum((ref - got) ** 2))
    sig = float(np.sum(ref.astype(np.float64) ** 2))
    return float("inf") if err == 0 else 10.0 * np.log10(sig / err)


def _gemm_cases(params: dict, x_calib_imgs, x_eval_imgs, quick: bool, seed: int):
    """(name, W (K,N), X calibration, X evaluation) of every GEMM in the error study."""
    rng = np.random.default_rng(seed)
    m, k, n = (128, 64, 16) if quick else (1024, 256, 64)
    cases = []
    for kind in SYNTHETIC:
        w = _weights(kind, (k, n), rng) / np.sqrt(k)
        x_cal = np.maximum(rng.standard_normal((m, k)), 0)
        x_ev = np.maximum(rng.standard_normal((m, k)), 0)
        cases.append((kind + " W", w, x_cal, x_ev))
    cal_in = layer_inputs(params, x_calib_imgs)
    ev_in = layer_inputs(params, x_eval_imgs)
    for name in digits_cnn.QUANTIZED_LAYERS:
        w = params[f"{name}.w"]
        # Calibrate on the layer's input tensor itself: im2col only repeats its values.
        cases.append((f"digits {name}", w.reshape(-1, w.shape[3]).astype(np.float64),
                      cal_in[name], im2col(ev_in[name], 3, 3, 1)))
    return cases


def error_study(params: dict, data, *, quick: bool, seed: int = 0) -> dict:
    x_tr, _, x_te, _ = data
    n_img = 16 if quick else 256
    grid = 16 if quick else 64
    cases = _gemm_cases(params, x_tr[:n_img], x_te[:n_img], quick, seed)
    rows = []
    for f_label, fmt, fparams in FORMATS:
        for c_label, ckw in CALIBRATIONS:
            row = {"format": f_label, "calibration": c_label, "sqnr_db": {}, "rel_error": {}}
            for name, w, x_cal, x_ev in cases:
                layer = QuantLinear(w, None, fmt, calib=x_cal, grid=grid, **ckw, **fparams)
                got = layer(x_ev)
                ref = x_ev @ w
                row["sqnr_db"][name] = round(sqnr_db(ref, got), 3)
                row["rel_error"][name] = float(np.linalg.norm(ref - got) / np.linalg.norm(ref))
            rows.append(row)
    return {"cases": [c[0] for c in cases],
            "shapes": {c[0]: [int(c[3].shape[0]), int(c[1].shape[0]), int(c[1].shape[1])]
                       for c in cases},
            "mmse_grid": grid, "rows": rows}


def _time(net, x, reps: int) -> dict:
    """Median wall time of net(x); median time inside lowbit.matmul, all layers and conv2+conv3."""
    net(x)  # warm-up: first-touch of packed buffers and scratch
    total, kernels, quantized = [], [], []
    for _ in range(reps):
        with kernel_clock() as clock:
            total.append(timed(lambda: net(x), 1))
        kernels.append(clock.seconds)
        quantized.append(clock.layer_seconds(*net.quantized_gemms))
    return {"time_s": float(np.median(total)), "kernel_time_s": float(np.median(kernels)),
            "quantized_kernel_time_s": float(np.median(quantized))}


def end_to_end(params: dict, data, *, quick: bool, threads: int = 1) -> dict:
    x_tr, _, x_te, y_te = data
    if quick:  # tests: a slice of the test set, one timing run
        x_te, y_te = x_te[:120], y_te[:120]
    calib = x_tr[:64] if quick else x_tr[:256]
    grid = 16 if quick else 64
    reps = 1 if quick else 15
    rows = []
    fp32 = KernelDigitsNet(params, "fp32", calib, threads=threads)
    fp32_logits = fp32(x_te)
    base_acc = float(np.mean(fp32_logits.argmax(1) == y_te))
    rows.append({"format": "fp32", "calibration": "-", "levels": "-", "bits": 32,
                 "accuracy": base_acc, "agreement_with_fp32": 1.0} | _time(fp32, x_te, reps))
    for f_label, fmt, fparams in FORMATS:
        for c_label, ckw in E2E_CALIBRATIONS:
            ckw = {k: v for k, v in ckw.items() if k != "residual_budget"}
            net = KernelDigitsNet(params, fmt, calib, threads=threads, grid=grid, **ckw,
                                  **fparams)
            logits = net(x_te)
            acc = float(np.mean(logits.argmax(1) == y_te))
            times = _time(net, x_te, reps)
            rows.append({"format": f_label, "calibration": c_label, "levels": _levels(fmt, fparams),
                         "bits": _bits(fmt, fparams), "accuracy": acc,
                         "agreement_with_fp32": float(np.mean(logits.argmax(1)
                                                              == fp32_logits.argmax(1))),
                         } | times)
    return {"images": len(x_te), "calibration_images": len(calib),
            "repetitions": reps, "threads": threads,
            "mmse_grid": grid, "quantized_layers": list(digits_cnn.QUANTIZED_LAYERS),
            "float_layers": ["conv1", "fc"], "rows": rows}


def _levels(fmt: str, p: dict) -> str:
    if fmt == "int8":
        return "(256,256)"
    if fmt == "int4":
        return "(16,16)"
    if fmt == "4.6bit":
        return f"({p['act_levels']},{p['weight_levels']})"
    n_w = len(dybit.levels(p["bits"], True))
    n_x = len(dybit.levels(p["bits"], False))
    return f"({n_x},{n_w})"


def _bits(fmt: str, p: dict) -> float:
    if fmt == "4.6bit":
        return round(0.5 * float(np.log2(p["act_levels"] * p["weight_levels"])), 2)
    return {"int8": 8, "int4": 4}.get(fmt, p.get("bits"))


def dybit_tables() -> dict:
    out = {}
    for bits in dybit.WIDTHS:
        for signed in (True, False):
            key = f"{bits}-bit {'signed' if signed else 'unsigned'}"
            out[key] = {"codes": [r[0] for r in dybit.table_rows(bits, signed)],
                        "values": [r[1] for r in dybit.table_rows(bits, signed)],
                        "levels": [int(v) for v in dybit.levels(bits, signed)]}
    return out


def machine() -> dict:
    info = {"python": platform.python_version(), "numpy": np.__version__,
            "platform": platform.platform(), "cpus": os.cpu_count()}
    if hasattr(os, "getloadavg"):  # timings on a shared machine: record how busy it was
        info["loadavg_1_5_15"] = [round(v, 2) for v in os.getloadavg()]
    for name in ("cpu_info",):
        fn = getattr(lowbit, name, None)
        if fn is not None:
            try:
                info[name] = fn()
            except Exception as exc:  # noqa: BLE001 - the fingerprint is best effort
                info[name] = f"unavailable: {exc}"
    tiers = getattr(lowbit, "tiers", None)
    if tiers is not None:
        info["tiers"] = {f: list(tiers(f)) for f in ("fp32", "int8", "int4", "4.6bit")}
    return info


def run(*, quick: bool = False, seed: int = 0) -> dict:
    cfg = digits_cnn.TrainConfig(seed=seed)
    t0 = time.perf_counter()
    params, cached = digits_cnn.load_or_train(cfg)
    train_s = time.perf_counter() - t0
    data = digits_cnn.load_digits_split(cfg)
    return {
        "schema": 1,
        "quick": quick,
        "machine": machine(),
        "model": {"train_config": asdict(cfg) | {"key": cfg.key()}, "from_cache": cached,
                  "load_or_train_s": round(train_s, 3)},
        "error_study": error_study(params, data, quick=quick, seed=seed),
        "end_to_end": end_to_end(params, data, quick=quick),
        "dybit_tables": dybit_tables(),
        "ocr": ocr_study(quick),
    }


def ocr_study(quick: bool) -> dict:
    """The PP-OCRv4 section; a missing model or a failure becomes a 'skipped' note."""
    try:
        from . import ocr
    except ImportError as exc:  # onnx / onnxruntime / scipy not installed
        return {"skipped": f"needs the [bench] extra ({exc})"}
    try:
        return ocr.run(quick=quick)
    except Exception as exc:  # noqa: BLE001 - the rest of the report is still worth writing
        import traceback

        traceback.print_exc()
        return {"skipped": f"the OCR study failed: {type(exc).__name__}: {exc}"}
