"""The PP-OCRv4 study: executor, exactness on real layers, missing model, shape suite."""

import json
import zipfile

import numpy as np
import pytest

for _mod in ("onnx", "onnxruntime", "scipy", "matplotlib", "tabulate"):
    pytest.importorskip(_mod)

import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402

import lowbit  # noqa: E402
from lowbit.accuracy import ocr, ocr_data, ocr_model  # noqa: E402
from lowbit.accuracy.ocr_exec import (LowbitExecutor, Plan, attention_exact,  # noqa: E402
                                      depthwise_exact, gemm_rows, im2col_nchw,
                                      quantize_activation)
from lowbit.accuracy.report import ocr_section, pareto_front  # noqa: E402
from lowbit.nn import QuantLinear  # noqa: E402


@pytest.fixture(scope="module")
def rec():
    try:
        paths = ocr_model.ensure_models()
    except ocr_model.ModelUnavailable as exc:
        pytest.skip(f"PP-OCRv4 model unavailable: {exc}")
    return paths, onnx.load(paths["rec"])


@pytest.fixture(scope="module")
def lines():
    x, texts, meta = ocr_data.make_lines(ocr_data.LineSetConfig(lines=2, seed=5))
    return x, texts, meta


def test_lines_are_deterministic_and_preprocessed(lines):
    x, texts, meta = lines
    x2, texts2, _ = ocr_data.make_lines(ocr_data.LineSetConfig(lines=2, seed=5))
    np.testing.assert_array_equal(x, x2)
    assert texts == texts2 and all(1 <= len(t) <= 20 for t in texts)
    assert x.shape == (2, 3, 48, 320) and x.dtype == np.float32
    assert x.min() >= -1.0 and x.max() <= 1.0
    for i, m in enumerate(meta):  # zero padding right of the line, content left of it
        assert np.all(x[i, :, :, m["width"]:] == 0) and np.any(x[i, :, :, :m["width"]] != 0)


def test_executor_fp32_matches_onnxruntime(rec, lines):
    import onnxruntime as ort

    paths, model = rec
    x, _, _ = lines
    want = ort.InferenceSession(str(paths["rec"]), providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    plan = Plan()  # fp32: every Conv (depthwise too) and MatMul on lowbit's fp32 kernel
    got = LowbitExecutor(model, plan)(x)
    assert got.shape == want.shape == (2, 40, 6625)
    np.testing.assert_allclose(got, want, atol=1e-4)
    chars = ocr_model.characters(model)
    assert [ocr.ctc_decode(p.argmax(1), chars) for p in got] == \
        [ocr.ctc_decode(p.argmax(1), chars) for p in want]
    # 38 Conv + 13 MatMul nodes ran through QuantLinear; 4 of them are attention products
    assert len(plan.shapes) == 51 and sum(not s[5] for s in plan.shapes.values()) == 4


def _layer_input(model, node_name, x):
    ev = LowbitExecutor(model, Plan()).evaluator
    inter = ev.run(None, {"x": x}, intermediate=True)
    node = next(n for n in model.graph.node if n.name == node_name)
    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    consts.update({n.output[0]: numpy_helper.to_array(n.attribute[0].t)
                   for n in model.graph.node if n.op_type == "Constant"})
    return inter[node.input[0]], consts[node.input[1]], node


@pytest.mark.parametrize("fmt,params", [("int8", {}), ("int4", {}), ("4.6bit", {}),
                                        ("dybit", {"bits": 8})])
def test_integer_path_on_real_layers_is_exact(rec, lines, fmt, params):
    _, model = rec
    x, _, _ = lines
    # A dense 1x1 conv (K = 480): the kernel's int32 result equals the int64 reference.
    xin, w, _ = _layer_input(model, "p2o.Conv.28", x[:1])
    w2 = w.reshape(w.shape[0], -1).T
    cols = np.ascontiguousarray(xin.transpose(0, 2, 3, 1)).reshape(-1, w2.shape[0])
    lin = QuantLinear(w2, None, fmt, calib=cols, per_channel=False, **params)
    xq = lin.quantize_input(cols)
    _, _, wq = lin.integer_weights()[0]
    ref = lin.input_values(xq) @ wq  # int64
    if fmt == "dybit":  # decoded values, unsigned digits: compare the layer's int64 sum
        got = (lin.gemm_codes(xq.codes, xq) - lin.bias) / (xq.scale[0] * lin.terms[0].scale)
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-3)
    else:
        [(_, slices)] = lin.terms[0].digits
        [(_, _, _, _, packed)] = slices
        acc = lowbit.matmul(xq.codes, packed, zero_point=int(xq.zero_point[0]))
        assert acc.dtype == np.int32
        np.testing.assert_array_equal(acc.astype(np.int64), ref)
    # A depthwise 5x5 conv: the numpy integer path equals one kernel call per channel.
    xin, w, node = _layer_input(model, "p2o.Conv.25", x[:1])
    c = w.shape[0]
    for pc in (False, True):
        lin = QuantLinear(w.reshape(c, -1).T, np.zeros(c), fmt, calib=xin, per_channel=pc,
                          groups=c, **params)
        xq = lin.quantize_input(xin)
        cols, oh, ow = im2col_nchw(xq.codes, 5, 5, (1, 1), (2, 2, 2, 2), (1, 1),
                                   lin.zero_code(xq), c)
        kernel = lin.gemm_codes(cols, xq).reshape(1, oh, ow, c).transpose(0, 3, 1, 2)
        fast = depthwise_exact(lin, xin, 5, 5, (1, 1), (2, 2, 2, 2), (1, 1))
        np.testing.assert_array_equal(fast, kernel)


@pytest.mark.parametrize("fmt,params", [("int8", {}), ("int4", {}),
                                        ("4.6bit", {"act_levels": 29, "weight_levels": 19})])
def test_blockwise_activation_quantizer_and_row_blocks_are_exact(rec, lines, fmt, params):
    _, model = rec
    x, _, _ = lines
    xin, w, _ = _layer_input(model, "p2o.Conv.28", x)  # a real post-hardswish tensor
    w2 = w.reshape(w.shape[0], -1).T
    cols = np.ascontiguousarray(xin.transpose(0, 2, 3, 1)).reshape(-1, w2.shape[0])
    lin = QuantLinear(w2, None, fmt, calib=cols, per_channel=True, **params)
    assert cols.size > 4 * 65536 and cols.shape[0] > 512  # several blocks of each kind
    fast, ref = quantize_activation(lin, cols), lin.quantize_input(cols)
    np.testing.assert_array_equal(fast.codes, ref.codes)
    assert fast.codes.dtype == ref.codes.dtype
    np.testing.assert_array_equal(gemm_rows(lin, fast.codes, fast), lin(cols))
    with pytest.raises(ValueError, match="NaN"):
        quantize_activation(lin, np.full((2, w2.shape[0]), np.nan, np.float32))


@pytest.mark.parametrize("fmt,params", [("int8", {}), ("int4", {}), ("4.6bit", {}),
                                        ("dybit", {"bits": 4})])
def test_vectorised_attention_equals_one_quantlinear_per_head(rec, lines, fmt, params):
    # The attention products' numpy path is the kernel path's numbers: same per-head
    # calibration (min-max and MMSE, per tensor and per column), same integers, same rescale.
    _, model = rec
    x, _, _ = lines
    ev = LowbitExecutor(model, Plan()).evaluator
    inter = ev.run(None, {"x": x}, intermediate=True)
    node = next(n for n in model.graph.node if n.name == "p2o.MatMul.2")  # q @ k^T
    a, b = inter[node.input[0]], inter[node.input[1]]
    a3, b3 = a.reshape((-1,) + a.shape[-2:]), b.reshape((-1,) + b.shape[-2:])
    signed = bool(a.min() < 0)
    from lowbit.quant import calibrate

    p = dict(params) | ({"signed": signed} if fmt == "dybit" else {})
    s, z = calibrate(a, fmt, role="activation", **p)
    for method in ("minmax", "mmse"):
        for pc in (False, True):
            plan = Plan(fmt=fmt, params=params, w_method=method, per_channel=pc, grid=16,
                        act_qparams={node.name: (s, z, signed)})
            fast = attention_exact(plan, node.name, a3, b3)
            kernel = np.stack([plan.make(node.name, b3[i], None, residual=False)(a3[i])
                               for i in range(a3.shape[0])])
            np.testing.assert_array_equal(fast, kernel)


def test_missing_model_gives_a_clear_skip(tmp_path, monkeypatch):
    monkeypatch.setenv("LOWBIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv(ocr_model.WHEEL_ENV, str(tmp_path / "nowhere.whl"))
    with pytest.raises(ocr_model.ModelUnavailable, match="nowhere.whl"):
        ocr_model.ensure_models()
    messages = []
    result = ocr.run(quick=True, progress=messages.append)
    assert "nowhere.whl" in result["skipped"] and "skipped" in messages[-1]
    md = ocr_section(result)
    assert "**Skipped**" in md and "nowhere.whl" in md
    # a wheel without the model files is refused with its name
    bad = tmp_path / "bad.whl"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("rapidocr_onnxruntime/__init__.py", "")
    monkeypatch.setenv(ocr_model.WHEEL_ENV, str(bad))
    with pytest.raises(ocr_model.ModelUnavailable, match="bad.whl"):
        ocr_model.ensure_models()


def test_ppocr_suite_is_the_generated_one(rec):
    from lowbit.bench.catalog import load_catalog

    paths, model = rec
    block = ocr_model.suite_toml(
        ocr_model.gemm_layers(model, ocr_model.REC_INPUT),
        ocr_model.gemm_layers(onnx.load(paths["det"]), ocr_model.DET_INPUT))
    text = (ocr_model.Path(__file__).parents[1] / "bench" / "shapes.toml").read_text()
    assert text.endswith(block), "bench/shapes.toml's ppocr suite is stale: run " \
        "`python -m lowbit.accuracy.ocr_model --write-suite bench/shapes.toml`"
    suite = load_catalog(ocr_model.Path(__file__).parents[1] / "bench" / "shapes.toml") \
        .suite("ppocr")
    rec_layers = ocr_model.gemm_layers(model, ocr_model.REC_INPUT)
    assert len(rec_layers) == 51
    assert sum(s.count for s in suite if ".rec." in s.name) == \
        sum(g.count for g in rec_layers)
    # the recogniser's classifier: 40 time steps x 120 features -> 6625 classes
    assert any((s.M, s.K, s.N) == (40, 120, 6625) for s in suite)


def test_metrics_and_decoding():
    chars = ["<blank>", "a", "b", " "]
    assert ocr.ctc_decode(np.array([0, 1, 1, 0, 1, 2, 2, 3, 0]), chars) == "aab"
    assert ocr.edit_distance("kitten", "sitting") == 3 and ocr.edit_distance("", "ab") == 2
    m = ocr.metrics(["ab", "cd"], ["ab", "ce"], ["ab", "cd"])
    assert m == {"char_accuracy": 0.75, "line_accuracy": 0.5, "agreement_with_fp32": 1.0}
    assert pareto_front([(1, 90), (2, 95), (2, 80), (3, 95)]) == [0, 1]


def test_quick_study(rec, monkeypatch, tmp_path):
    # The CI path in miniature: a few lines, one quantized case, serial.
    monkeypatch.setattr(ocr, "QUICK_CASES", {"int8": (1,)})
    cfg = ocr.OcrConfig(test_lines=3, calib_lines=2, batch=3, timing_reps=1, timing_min_s=0.0,
                        jobs=1, check_lines=1)
    result = ocr.run(quick=True, cfg=cfg, progress=lambda *_: None)
    rows = result["rows"]
    assert [r["format"] for r in rows] == ["fp32", "int8"]
    assert rows[0]["agreement_with_fp32"] == 1.0
    assert 0.0 <= rows[1]["frame_agreement_with_fp32"] <= 1.0
    assert result["lowbit_fp32_check"]["max_abs_prob_diff"] < 1e-3
    tiers = [t for t in result["gemm_timings_s"] if "error" not in result["gemm_timings_s"][t]]
    assert tiers and "scalar" in tiers
    for r in rows:
        for t in tiers:
            g = r["gemm_s"][t]
            assert 0 < g["dense"] < g["total"] and g["depthwise"] > 0
    # per-layer evidence: the integer pipeline computes what int8 holds (fake quantization in
    # float agrees far beyond the format's own noise), and int8 layers keep most of the signal
    sm = result["layer_sqnr"]["int8"]["summary"]
    assert sm["kernel_vs_fake_min_db"] > 80 > 15 < sm["median"]["layer_db"]
    assert sm["median"]["layer_db"] < sm["kernel_vs_fake_min_db"] - 40
    md = ocr_section(json.loads(json.dumps(result, default=str)))
    assert "| int8 " in md and "Float layers" in md and "Per-layer evidence" in md
