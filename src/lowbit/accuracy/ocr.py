"""The PP-OCRv4 text recogniser through the lowbit kernels: accuracy and GEMM time per format.

run(quick=...) -> dict (the report's "ocr" section), or {"skipped": reason} when the model is
unavailable.  Steps: fetch/cache the model (ocr_model), render the test and calibration lines
(ocr_data), onnxruntime fp32 as the reference, activation statistics from the calibration
lines (an fp32 pass of the executor), every case through ocr_exec.LowbitExecutor, and the
network's GEMM time per case from per-layer kernel timings in one process per CPU class.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import ocr_data, ocr_model
from .digits_cnn import cache_dir, write_npz
from .ocr_exec import LowbitExecutor, Plan

# The papers keep the first and the last layer in float: the image convolution and the CTC
# classifier (120 -> 6625 classes).
FLOAT_LAYERS = ("p2o.Conv.0", "p2o.MatMul.24")


@dataclass(frozen=True)
class OcrConfig:
    test_lines: int = 256
    calib_lines: int = 64
    # lines per evaluator run: bigger batches cost more per line on this machine (their
    # float64/int64 temporaries leave the cache), smaller ones pay onnx's per-op overhead
    batch: int = 4
    test_seed: int = 1
    calib_seed: int = 2  # a different seed: calibration lines are not test lines
    grid: int = 32  # MMSE search points
    residual_layers: int = 4  # layers that get a second weight tensor in the residual cases
    timing_reps: int = 5
    timing_min_s: float = 0.02
    jobs: int = 1  # worker processes for the cases (a shared 2-core machine: one)
    check_lines: int = 8  # lines the lowbit fp32 executor is compared with onnxruntime on
    layer_lines: int = 4  # lines of the per-layer SQNR study (ocr_layers), MMSE per channel
    # Every case first reads `probe_lines` lines drawn at random from the test set (seeded);
    # one whose character accuracy there is below `hopeless` stops and is reported on those
    # lines only (a network that reads nothing does not need 256 lines to show it).
    probe_lines: int = 64
    probe_seed: int = 3
    hopeless: float = 0.05


QUICK = OcrConfig(test_lines=8, calib_lines=4, batch=4, timing_reps=1, timing_min_s=0.0,
                  check_lines=2, probe_lines=8, layer_lines=1)

# (label, w_method, a_method, per_channel, residual)
CALIBRATIONS = (
    ("min-max, per tensor", "minmax", "minmax", False, False),
    ("MMSE, per channel", "mmse", "mmse", True, False),
    ("min-max, per channel", "minmax", "minmax", True, False),
    ("MMSE, per tensor", "mmse", "mmse", False, False),
    ("MMSE, per channel + residual", "mmse", "mmse", True, True),
)
# Every format with every calibration: min-max and MMSE, weights per tensor and per channel,
# and the residual refinement on top of MMSE per channel.
ALL_CALIBRATIONS = tuple(range(len(CALIBRATIONS)))
FULL_CASES = {label: ALL_CALIBRATIONS for label in (
    "int8", "int4", "4.6bit (29,19)", "4.6bit (25,21)", "4.6bit (23,23)", "DyBit-4",
    "DyBit-8")}
QUICK_CASES = {"int8": (1,), "int4": (1,)}


def _formats():
    from .study import FORMATS

    return {label: (fmt, params) for label, fmt, params in FORMATS}


def cases(quick: bool) -> list[dict]:
    """Every (format, calibration) case of the table, fp32 first."""
    out = []
    fmts = _formats()
    pairs = [(label, i) for label, idx in (QUICK_CASES if quick else FULL_CASES).items()
             for i in idx]
    for label, i in pairs:
        c_label, wm, am, pc, res = CALIBRATIONS[i]
        fmt, params = fmts[label]
        out.append({"format": label, "fmt": fmt, "params": dict(params), "calibration": c_label,
                    "w_method": wm, "a_method": am, "per_channel": pc, "residual": res})
    return out


# -- decoding and metrics -----------------------------------------------------------------------

def ctc_decode(indices: np.ndarray, chars: list[str]) -> str:
    """Greedy CTC: collapse repeats, drop blanks (class 0); outer spaces stripped."""
    idx = np.asarray(indices)
    keep = np.ones(idx.size, bool)
    keep[1:] = idx[1:] != idx[:-1]
    return "".join(chars[i] for i in idx[keep & (idx != 0)]).strip()


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def metrics(pred: list[str], truth: list[str], fp32: list[str] | None = None) -> dict:
    errors = sum(edit_distance(p, t) for p, t in zip(pred, truth))
    chars = sum(len(t) for t in truth)
    out = {"char_accuracy": 1.0 - errors / chars,
           "line_accuracy": float(np.mean([p == t for p, t in zip(pred, truth)]))}
    if fp32 is not None:
        out["agreement_with_fp32"] = float(np.mean([p == f for p, f in zip(pred, fp32)]))
    return out


# -- the pieces that are cached ------------------------------------------------------------------

def _key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _cached_npz(name: str, key: str, make):
    """{array name: array} from .cache/lowbit/<name>-<key>.npz, computed by make() if absent."""
    path = cache_dir() / f"{name}-{key}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}, True
        except (OSError, ValueError):
            pass  # damaged: recomputed
    data = make()
    write_npz(path, data)
    return data, False


def _run_batches(fn, x: np.ndarray, plan_batches) -> list[np.ndarray]:
    """fn(batch input) per batch; returns per-line argmax class indices in line order
    (None for lines in no batch)."""
    out = [None] * len(x)
    for idx, width in plan_batches:
        probs = fn(x[idx][..., :width])
        for j, i in enumerate(idx):
            out[i] = probs[j].argmax(axis=1).astype(np.int32)
    return out


def split_probe(n: int, probe: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(probe line indices, the others), both sorted: a seeded random subset of the lines."""
    pick = np.sort(np.random.default_rng(seed).permutation(n)[:min(probe, n)])
    return pick, np.setdiff1d(np.arange(n), pick)


def _batches_of(meta: list[dict], idx: np.ndarray, size: int) -> list[tuple[np.ndarray, int]]:
    """ocr_data.batches over the lines idx, with indices into the whole set."""
    return [(idx[b], w) for b, w in ocr_data.batches([meta[i] for i in idx], size)]


def ort_runner(model_path):
    """batch -> probabilities through onnxruntime's fp32 CPU provider (one thread)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # a shared machine; the cost is small next to the cases
    sess = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return lambda batch: sess.run(None, {name: batch})[0]


def onnxruntime_fp32(model_path, x, plan_batches) -> list[np.ndarray]:
    return _run_batches(ort_runner(model_path), x, plan_batches)


def activation_samples(model, x_cal, plan_batches) -> dict:
    """{node: float32 sample of its input} from an fp32 pass over the calibration lines."""
    plan = Plan(record=True)
    ex = LowbitExecutor(model, plan)
    for idx, width in plan_batches:
        ex(x_cal[idx][..., :width])
    return {k: np.concatenate(v) for k, v in plan.samples.items()}


def act_qparams(samples: dict, fmt: str, params: dict, method: str, grid: int) -> dict:
    """{node: (scale, zero_point, signed)}: static per-tensor activation quantization."""
    from lowbit.quant import calibrate

    out = {}
    for node, v in samples.items():
        signed = bool(v.min() < 0)
        p = dict(params)
        if fmt == "dybit":
            p["signed"] = signed
        s, z = calibrate(v, fmt, method=method, role="activation", grid=grid, **p)
        out[node] = (s, z, signed)
    return out


def worst_layers(model, fmt: str, params: dict, grid: int, count: int,
                 quantized: list[str]) -> list[tuple[str, float]]:
    """The `count` quantized layers whose weights MMSE-per-channel quantization fits worst
    (relative Frobenius error), with their errors: the residual cases refine those."""
    from onnx import numpy_helper

    from lowbit.quant import quantize

    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    errs = []
    for n in model.graph.node:
        if n.name not in quantized or n.input[1] not in consts:
            continue
        w = consts[n.input[1]].astype(np.float64)
        w2 = w.reshape(w.shape[0], -1).T if n.op_type == "Conv" else w
        q = quantize(w2, fmt, method="mmse", axis=1, grid=grid,
                     **({"bits": params["bits"]} if fmt == "dybit" else params))
        errs.append((n.name, float(np.linalg.norm(w2 - q.dequantize()) / np.linalg.norm(w2))))
    errs.sort(key=lambda e: -e[1])
    return errs[:count]


# -- the cases ------------------------------------------------------------------------------------

_W: dict = {}  # worker state (set before the pool forks)


def _eval_case(case: dict) -> dict:
    w = _W
    t0 = time.perf_counter()
    check = case["fmt"] == "fp32"  # the lowbit fp32 cross-check: kernel path, a few lines
    plan = Plan(fmt=case["fmt"], params=case["params"], w_method=case["w_method"],
                per_channel=case["per_channel"], grid=w["grid"],
                float_layers=frozenset(FLOAT_LAYERS), depthwise="kernel" if check else "numpy",
                attention="kernel" if check else "numpy",
                residual_layers=frozenset(case.get("residual_nodes", ())),
                act_qparams=case.get("act_qparams", {}))
    ex = LowbitExecutor(w["model"], plan)
    if check:
        idx = w["check_idx"]
        x = w["x"][idx]
        got = ex(x)
        ref = w["ort"](x)
        pred = [ctc_decode(p.argmax(axis=1), w["chars"]) for p in got]
        return {"pred": pred, "lines": [int(i) for i in idx], "eval_s": time.perf_counter() - t0,
                "max_abs_diff": float(np.abs(got - ref).max()), "weight_digits": {}}
    idx = _run_batches(ex, w["x"], w["probe_batches"])
    probe = [i for b, _ in w["probe_batches"] for i in b]
    pred = {i: ctc_decode(idx[i], w["chars"]) for i in probe}
    stopped = bool(w["rest_batches"]) and metrics(
        [pred[i] for i in probe], [w["truth"][i] for i in probe])["char_accuracy"] < w["hopeless"]
    if not stopped:
        rest = _run_batches(ex, w["x"], w["rest_batches"])
        for b, _ in w["rest_batches"]:
            for i in b:
                idx[i] = rest[i]
                pred[i] = ctc_decode(rest[i], w["chars"])
    lines = sorted(pred)
    # CTC frames whose most likely class is fp32's: separates cases whose text is all wrong
    frames = float(np.mean(np.concatenate([idx[i] == w["ref_idx"][i] for i in lines])))
    digits = {}
    if case["fmt"] == "dybit":  # int8 GEMMs per layer: weight digits x activation digits
        digits = {node: len(lin.terms[0].digits) for node, lin in plan.layers.items()
                  if lin.fmt == "dybit"}
    return {"pred": [pred[i] for i in lines], "lines": lines, "stopped": stopped,
            "eval_s": time.perf_counter() - t0, "weight_digits": digits,
            "frame_agreement": frames}


def _run_cases(todo: list[dict], jobs: int, progress) -> list[dict]:
    if jobs <= 1 or len(todo) <= 1:
        out = []
        for c in todo:
            out.append(_eval_case(c))
            progress(c, out[-1])
        return out
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(jobs) as pool:
        results = []
        for c, r in zip(todo, pool.imap(_eval_case, todo)):
            progress(c, r)
            results.append(r)
        return results


def layer_evidence(model, x: np.ndarray, todo: list[dict], cfg: OcrConfig) -> dict:
    """{format: {"summary", "layers", "cumulative"}}: ocr_layers on the MMSE per-channel case
    of every format (the table's best-calibrated row), on a few test lines."""
    from . import ocr_layers

    w = max(1, int(np.max(np.nonzero(np.any(x != 0, axis=(0, 1, 2)))[0], initial=0)) + 1)
    x = x[..., :-(-w // 8) * 8]
    out = {}
    for c in todo:
        if c["fmt"] == "fp32" or c["calibration"] != "MMSE, per channel":
            continue

        def plan_of(c=c):
            return Plan(fmt=c["fmt"], params=c["params"], w_method="mmse", per_channel=True,
                        grid=cfg.grid, float_layers=frozenset(FLOAT_LAYERS), depthwise="numpy",
                        attention="numpy", act_qparams=c["act_qparams"])

        study = ocr_layers.layer_study(model, x, plan_of, FLOAT_LAYERS)
        out[c["format"]] = {"summary": ocr_layers.summary(study), **study}
    return out


# -- GEMM time ---------------------------------------------------------------------------------

KERNEL_FORMATS = {"fp32": ("fp32", {}), "int8": ("int8", {}), "int4": ("int4", {}),
                  "4.6bit (29,19)": ("4.6bit", {"act_levels": 29, "weight_levels": 19}),
                  "4.6bit (25,21)": ("4.6bit", {"act_levels": 25, "weight_levels": 21}),
                  "4.6bit (23,23)": ("4.6bit", {"act_levels": 23, "weight_levels": 23})}


def cpu_classes() -> list[str]:
    import lowbit

    return list(lowbit.tiers("int8"))


def gemm_timings(layers: list, cfg: OcrConfig) -> dict:
    """{tier: {kernel format: {node: seconds}}}, one capped process per CPU class."""
    spec = json.dumps({"layers": layers, "formats": KERNEL_FORMATS, "reps": cfg.timing_reps,
                       "min_time_s": cfg.timing_min_s})
    import lowbit

    # `python -m` puts its working directory first on sys.path: run it where this process's
    # lowbit is installed, so the child imports the same (built) package, not a source tree.
    where = str(Path(lowbit.__file__).resolve().parents[1])
    out = {}
    for tier in cpu_classes():
        env = dict(os.environ, LOWBIT_MAX_TIER=tier)
        proc = subprocess.run([sys.executable, "-m", "lowbit.accuracy.ocr_timing"], input=spec,
                              capture_output=True, text=True, env=env, timeout=1800, cwd=where)
        if proc.returncode != 0:
            out[tier] = {"error": proc.stderr.strip().splitlines()[-1:]}
            continue
        res = json.loads(proc.stdout)
        out[tier] = res["seconds"]
    return out


def dybit_act_digits(bits: int) -> int:
    """Byte digits of the largest decoded (and shifted) DyBit activation value."""
    from lowbit.quant import dybit

    top = max(int(dybit.levels(bits, False)[-1]), 2 * int(dybit.levels(bits, True)[-1]))
    return 1 if top <= 255 else 2


def network_time(case: dict, times: dict, layers: list, weight_digits: dict) -> dict:
    """Kernel time this case spends on the Conv/MatMul layers: dense, depthwise and total."""
    out = {"dense": 0.0, "depthwise": 0.0}
    for node, _m, _k, _n, groups, *_ in layers:
        part = "depthwise" if groups > 1 else "dense"
        if case["fmt"] == "fp32" or node in FLOAT_LAYERS:
            out[part] += times["fp32"][node]
            continue
        if case["fmt"] == "dybit":
            calls = weight_digits.get(node, 1) * dybit_act_digits(case["params"]["bits"])
            t = calls * times["int8"][node]
        else:
            t = times[case["format"]][node]
        out[part] += t * (2 if node in case.get("residual_nodes", ()) else 1)
    out["total"] = out["dense"] + out["depthwise"]
    return out


# -- the study ---------------------------------------------------------------------------------

def _print(msg: str) -> None:
    print(msg, flush=True)


def run(*, quick: bool = False, cfg: OcrConfig | None = None, progress=_print) -> dict:
    import onnx

    cfg = cfg or (QUICK if quick else OcrConfig())
    t_start = time.perf_counter()
    try:
        paths = ocr_model.ensure_models()
    except ocr_model.ModelUnavailable as exc:
        progress(f"ocr: skipped: {exc}")
        return {"skipped": str(exc)}
    model = onnx.load(paths["rec"])
    chars = ocr_model.characters(model)
    test_cfg = ocr_data.LineSetConfig(lines=cfg.test_lines, seed=cfg.test_seed)
    cal_cfg = ocr_data.LineSetConfig(lines=cfg.calib_lines, seed=cfg.calib_seed)
    t0 = time.perf_counter()
    x, truth, meta = ocr_data.make_lines(test_cfg)
    x_cal, _, meta_cal = ocr_data.make_lines(cal_cfg)
    render_s = time.perf_counter() - t0
    probe_idx, rest_idx = split_probe(len(x), cfg.probe_lines, cfg.probe_seed)
    probe_batches = _batches_of(meta, probe_idx, cfg.batch)
    rest_batches = _batches_of(meta, rest_idx, cfg.batch)
    batches = probe_batches + rest_batches
    cal_batches = ocr_data.batches(meta_cal, cfg.batch)
    sha = ocr_model.MODELS["rec"][1]

    ref, ref_cached = _cached_npz("ocr-fp32-ort", _key(sha, asdict(test_cfg), cfg.batch,
                                                           cfg.probe_lines, cfg.probe_seed),
                                  lambda: {str(i): a for i, a in enumerate(
                                      onnxruntime_fp32(paths["rec"], x, batches))})
    ref_pred = [ctc_decode(ref[str(i)], chars) for i in range(len(x))]
    samples, cal_cached = _cached_npz("ocr-calib", _key(sha, asdict(cal_cfg), cfg.batch),
                                      lambda: activation_samples(model, x_cal, cal_batches))
    progress(f"ocr: {len(x)} test lines, {len(x_cal)} calibration lines "
             f"(fp32 reference {'cached' if ref_cached else 'computed'}, activation statistics "
             f"{'cached' if cal_cached else 'computed'})")

    todo = [{"format": "fp32 (lowbit)", "fmt": "fp32", "params": {}, "calibration": "-",
             "w_method": "minmax", "a_method": "minmax", "per_channel": False,
             "residual": False}] + cases(quick)
    quantized = [n for n in samples if n not in FLOAT_LAYERS]
    qp_cache: dict = {}
    residual_info = {}
    for c in todo:
        if c["fmt"] == "fp32":
            continue
        key = (c["format"], c["a_method"])
        if key not in qp_cache:
            qp_cache[key] = act_qparams(samples, c["fmt"], c["params"], c["a_method"], cfg.grid)
        c["act_qparams"] = qp_cache[key]
        if c["residual"]:
            if c["format"] not in residual_info:
                residual_info[c["format"]] = worst_layers(model, c["fmt"], c["params"],
                                                          cfg.grid, cfg.residual_layers,
                                                          quantized)
            c["residual_nodes"] = [n for n, _ in residual_info[c["format"]]]
            c["calibration"] = f"MMSE, per channel + residual ({len(c['residual_nodes'])} layers)"

    _W.update(model=model, x=x, probe_batches=probe_batches, rest_batches=rest_batches,
              chars=chars, grid=cfg.grid, truth=truth, hopeless=cfg.hopeless,
              ref_idx=[ref[str(i)] for i in range(len(x))],
              check_idx=np.arange(min(cfg.check_lines, len(x))), ort=ort_runner(paths["rec"]))

    def report(c, r):
        m = metrics(r["pred"], [truth[i] for i in r["lines"]])
        progress(f"ocr: {c['format']:16s} {c['calibration']:40s} chars "
                 f"{100 * m['char_accuracy']:6.2f}%  lines {100 * m['line_accuracy']:6.2f}%  "
                 f"({len(r['pred'])} lines{', stopped' if r.get('stopped') else ''}, "
                 f"{r['eval_s']:.0f} s)")

    t0 = time.perf_counter()
    results = _run_cases(todo, cfg.jobs, report)
    cases_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    layer_sqnr = layer_evidence(model, x[probe_idx[:cfg.layer_lines]], todo, cfg)
    for label, v in layer_sqnr.items():
        sm = v["summary"]
        progress(f"ocr: layers {label:16s} median SQNR {sm['median']['layer_db']:5.1f} dB, "
                 f"worst {sm['worst'][0]} {sm['worst'][1]:5.1f} dB, output "
                 f"{sm['output_db']:5.1f} dB, kernel vs fake-quant >= "
                 f"{sm['kernel_vs_fake_min_db']:.0f} dB")
    layers_s = time.perf_counter() - t0

    # layer shapes at the stated width (one fp32 line at 320), then kernel timings per tier
    shape_plan = Plan()
    LowbitExecutor(model, shape_plan)(np.zeros(ocr_model.REC_INPUT, np.float32))
    layers = [[node, *map(int, s[:5]), bool(s[5])] for node, s in shape_plan.shapes.items()]
    progress(f"ocr: timing {len(layers)} GEMM layers per format on {cpu_classes()}")
    t0 = time.perf_counter()
    timings = gemm_timings(layers, cfg)
    timing_s = time.perf_counter() - t0
    ok_tiers = {tier: t for tier, t in timings.items() if "error" not in t}

    check, rows = results[0], []
    check_truth = [truth[i] for i in check["lines"]]
    fp32_row = {"format": "fp32", "calibration": "- (onnxruntime)", "per_channel": None,
                **metrics(ref_pred, truth, ref_pred), "frame_agreement_with_fp32": 1.0,
                "lines": len(truth), "stopped_early": False,
                "residual_layers": [],
                "gemm_s": {tier: network_time({"fmt": "fp32"}, t, layers, {})
                           for tier, t in ok_tiers.items()}}
    rows.append(fp32_row)
    for c, r in zip(todo[1:], results[1:]):
        row = {k: c[k] for k in ("format", "calibration", "w_method", "a_method", "per_channel")}
        row.update(metrics(r["pred"], [truth[i] for i in r["lines"]],
                           [ref_pred[i] for i in r["lines"]]))
        row["lines"] = len(r["lines"])
        row["stopped_early"] = r["stopped"]
        row["frame_agreement_with_fp32"] = r["frame_agreement"]
        row["residual_layers"] = c.get("residual_nodes", [])
        row["eval_s"] = round(r["eval_s"], 1)
        row["gemm_s"] = {tier: network_time(c, t, layers, r["weight_digits"])
                         for tier, t in ok_tiers.items()}
        if c["fmt"] == "dybit":
            row["int8_gemms_per_layer"] = sorted(
                {d * dybit_act_digits(c["params"]["bits"]) for d in r["weight_digits"].values()})
        if c.get("residual_nodes"):
            extra = {tier: network_time(c, t, layers, r["weight_digits"])["total"]
                     - network_time(c | {"residual_nodes": []}, t, layers,
                                    r["weight_digits"])["total"]
                     for tier, t in ok_tiers.items()}
            row["residual_extra_gemm_s"] = extra
        rows.append(row)
    return {
        "config": asdict(cfg),
        "model": {"wheel": ocr_model.WHEEL, "file": ocr_model.MODELS["rec"][0], "sha256": sha,
                  "classes": len(chars), "gemm_nodes": len(layers)},
        "test_set": asdict(test_cfg) | {"fonts": list(ocr_data.FONT_FILES),
                                        "words": len(ocr_data.WORDS),
                                        "characters": sum(len(t) for t in truth),
                                        "batches": [[len(i), w] for i, w in batches]},
        "calibration_set": asdict(cal_cfg),
        "probe": {"lines": len(probe_idx), "seed": cfg.probe_seed, "hopeless": cfg.hopeless},
        "float_layers": list(FLOAT_LAYERS),
        "lowbit_fp32_check": {"lines": len(check["lines"]),
                              "max_abs_prob_diff": check["max_abs_diff"],
                              "agreement_with_onnxruntime": float(np.mean(
                                  [p == ref_pred[i] for p, i in zip(check["pred"],
                                                                    check["lines"])])),
                              **metrics(check["pred"], check_truth)},
        "layers_at_width": {"input": list(ocr_model.REC_INPUT), "layers": layers},
        "gemm_timings_s": timings,
        "residual_layers": residual_info,
        "rows": rows,
        "examples": [{"truth": truth[i], "fp32": ref_pred[i], "font": meta[i]["font"]}
                     for i in range(min(6, len(x)))],
        "layer_sqnr": layer_sqnr,
        "timing": {"render_s": round(render_s, 1), "cases_s": round(cases_s, 1),
                   "layer_sqnr_s": round(layers_s, 1),
                   "kernel_timing_s": round(timing_s, 1),
                   "total_s": round(time.perf_counter() - t_start, 1)},
    }
