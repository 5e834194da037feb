"""The digits CNN through the kernels, and the accuracy study's report files."""

import json

import numpy as np
import pytest

# The study needs the [bench] extra (scikit-learn, tabulate, threadpoolctl); the sanitizer venv
# installs only [test].
for _mod in ("sklearn", "tabulate", "threadpoolctl"):
    pytest.importorskip(_mod)

from lowbit.accuracy import digits_cnn, render_markdown
from lowbit.accuracy.cli import main as cli_main
from lowbit.accuracy.network import KernelDigitsNet, numpy_logits


@pytest.fixture(scope="module")
def trained():
    cfg = digits_cnn.TrainConfig()
    params, _ = digits_cnn.load_or_train(cfg)
    return params, digits_cnn.load_digits_split(cfg)


def _acc(net, x, y):
    return float(np.mean(net(x).argmax(1) == y))


def test_fp32_kernel_network_matches_numpy(trained):
    params, (x_tr, _, x_te, y_te) = trained
    net = KernelDigitsNet(params, "fp32", x_tr[:64])
    got, want = net(x_te), numpy_logits(params, x_te)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert _acc(net, x_te, y_te) > 0.95  # the network learned the task


@pytest.mark.parametrize("calib", [
    {"w_method": "minmax", "a_method": "minmax", "per_channel": False},
    {"w_method": "mmse", "a_method": "mmse", "per_channel": True},
])
def test_int8_accuracy_within_one_point_of_fp32(trained, calib):
    params, (x_tr, _, x_te, y_te) = trained
    fp32 = _acc(KernelDigitsNet(params, "fp32", x_tr[:256]), x_te, y_te)
    int8 = _acc(KernelDigitsNet(params, "int8", x_tr[:256], **calib), x_te, y_te)
    assert abs(int8 - fp32) <= 0.01


def test_training_is_deterministic_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("LOWBIT_CACHE_DIR", str(tmp_path))
    cfg = digits_cnn.TrainConfig(epochs=1, seed=7, train_samples=256)
    p1, cached1 = digits_cnn.load_or_train(cfg)
    files = list(tmp_path.glob("digits_cnn-*.npz"))
    assert not cached1 and len(files) == 1 and cfg.key() in files[0].name
    p2, cached2 = digits_cnn.load_or_train(cfg)
    assert cached2 and all(np.array_equal(p1[k], p2[k]) for k in p1)
    # A broken cache is regenerated, not trusted; retraining gives the same weights.
    files[0].write_bytes(b"damaged")
    p4, cached4 = digits_cnn.load_or_train(cfg)
    assert not cached4 and all(np.array_equal(p1[k], p4[k]) for k in p1)


def test_study_writes_the_report(tmp_path, trained, capsys):
    assert cli_main(["--out", str(tmp_path), "--quick"]) == 0
    # the quick run writes its own files and leaves the full report's names alone
    md = (tmp_path / "accuracy-quick.md").read_text()
    result = json.loads((tmp_path / "results" / "accuracy-quick.json").read_text())
    assert not list(tmp_path.rglob("*.tmp"))
    assert not (tmp_path / "accuracy.md").exists()
    assert not (tmp_path / "results" / "accuracy.json").exists()
    for label in ["fp32", "int8", "int4", "4.6bit (29,19)", "4.6bit (25,21)", "4.6bit (23,23)",
                  "DyBit-4", "DyBit-8"]:
        assert f"| {label} " in md
    assert "DyBit value tables (reconstruction)" in md and "stay in **fp32**" in md
    rows = result["end_to_end"]["rows"]
    assert rows[0]["format"] == "fp32" and all(0 <= r["accuracy"] <= 1 for r in rows)
    assert all(0 < r["quantized_kernel_time_s"] < r["kernel_time_s"] < r["time_s"] for r in rows)
    es = result["error_study"]
    assert len(es["rows"]) == 7 * 5 and "digits conv2" in es["cases"]
    # The report is a pure function of the result.
    assert render_markdown(result) == md
    assert "wrote" in capsys.readouterr().out
    # The OCR section is there: measured, or skipped with its reason (no model, no network).
    ocr = result["ocr"]
    assert ("skipped" in ocr and "**Skipped**" in md) or (
        ocr["rows"][0]["format"] == "fp32" and "PP-OCRv4 text recogniser" in md
        and (tmp_path / "plots" / "accuracy-quick-ocr-pareto.png").stat().st_size > 0
        and "](plots/accuracy-quick-ocr-pareto.png)" in md
        and not (tmp_path / "plots" / "accuracy-ocr-pareto.png").exists())
