"""Report rendering on a tiny fake results file with known numbers."""

import re

import pytest

pytest.importorskip("tabulate")  # the [bench] extra; not in every test environment
pytest.importorskip("matplotlib")

from lowbit.bench import results as R  # noqa: E402
from lowbit.bench.cli import main  # noqa: E402
from lowbit.bench.report import render  # noqa: E402

# GOPS by (format, tier) for both shapes: int4 = 4x fp32 and 2x int8 at avx2.
GOPS = {("fp32", "avx2"): 10.0, ("int8", "avx2"): 20.0, ("int4", "avx2"): 40.0,
        ("4.6bit", "avx2"): 38.0, ("fp32", "scalar"): 2.0, ("int8", "scalar"): 1.0,
        ("int4", "scalar"): 3.0, ("4.6bit", "scalar"): 3.0}
SHAPES = [("resnet18.layer1.conv", 3136, 64, 576, ["cnn"]), ("llm.attn_proj.m1", 1, 4096, 4096,
                                                              ["llm"])]


def fake_doc():
    doc = R.new_results("default", {"tiers": {"fp32": ["avx2", "scalar"]}, "threads": [1],
                                    "budget_s": 0.1, "min_samples": 5, "max_samples": 200,
                                    "repeat": None},
                        {"cpu_model": "Fake CPU 9000", "isa_flags": ["avx2", "fma"],
                         "cores": 2, "commit": "abc123", "versions": {"numpy": "2.0"}})
    doc["peak"] = {"avx2": {"formats": {}, "fp32_gflops": 20.0, "int8_gops": 30.0,
                            "int_best_gops": 80.0},
                   "scalar": {"formats": {}, "fp32_gflops": 4.0, "int8_gops": 2.0,
                              "int_best_gops": 6.0}}
    doc["peers"] = {"numpy": {"available": True, "version": "2.0"},
                    "torch-fbgemm": {"available": False, "version": None,
                                     "reason": "torch (or a dependency) is not installed"}}
    for name, M, N, K, groups in SHAPES:
        ops = 2 * M * N * K
        for (fmt, tier), g in GOPS.items():
            t = ops / (g * 1e9)
            R.add_record(doc, {"impl": "lowbit", "format": fmt, "tier": tier, "M": M, "N": N,
                               "K": K, "threads": 1, "median_s": t, "iqr_s": 0.0,
                               "samples_s": [t] * 5, "inner": 1, "gops": g, "pack_s": 1e-3,
                               "shapes": [name], "groups": groups, "check": {"exact": True}})
        t = ops / 15e9
        R.add_record(doc, {"impl": "numpy", "format": "fp32", "tier": "native", "M": M, "N": N,
                           "K": K, "threads": 1, "median_s": t, "iqr_s": 0.0,
                           "samples_s": [t] * 5, "inner": 1, "gops": 15.0, "pack_s": None,
                           "shapes": [name], "groups": groups})
    doc["complete"] = True
    return doc


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("report")
    out = tmp_path / "latest.md"
    md = render(fake_doc(), out, results_path="fake.json")
    return tmp_path, md


def test_tables_have_gops_speedups_and_peak(rendered):
    _, md = rendered
    assert "Fake CPU 9000" in md and "abc123" in md
    assert "### cnn: tier `avx2`, 1 thread(s)" in md and "### llm: tier `scalar`" in md
    row = next(line for line in md.splitlines() if line.startswith("| resnet18.layer1.conv")
               and "3136" in line and "40.0" in line)
    assert "10.0" in row and "15.0" in row  # fp32 and the numpy peer on the same row
    srow = next(line for line in md.splitlines() if line.startswith("| resnet18.layer1.conv")
                and "4.00x" in line)
    assert "2.00x" in srow  # int4 / int8
    assert "50%" in srow  # int4 40 GOPS of the 80 GOPS integer peak
    assert "**skipped**: torch" in md


def test_plots_are_written_and_embedded(rendered):
    tmp, md = rendered
    pngs = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", md)
    assert len(pngs) == 3  # speedup bars + one GOPS plot per tier
    for p in pngs:
        assert (tmp / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_narrative_follows_the_numbers(rendered):
    _, md = rendered
    text = md.split("## What this means")[1].split("## Machine")[0]
    assert "int4 runs at 4.00x fp32 and 2.00x int8" in text
    assert "int4 on 2 of 2" in text  # fastest lowbit format per shape at avx2
    assert "fp32 on 2 of 2" not in text.split("`scalar`")[0]
    assert "5% more time than int4" in text  # 40 vs 38 GOPS


def test_accuracy_section_included_or_noted(tmp_path):
    out = tmp_path / "latest.md"
    md = render(fake_doc(), out, plots=False)
    assert "No accuracy study found" in md
    (tmp_path / "accuracy.md").write_text("# Accuracy\n\nint4 top-1: 42%\n")
    md = render(fake_doc(), out, plots=False)
    assert "[accuracy.md](accuracy.md)" in md and "int4 top-1: 42%" in md
    assert "\n### Accuracy" in md  # its headings are nested under ours


def test_cli_report(tmp_path):
    src = tmp_path / "r.json"
    R.write_atomic(src, fake_doc())
    out = tmp_path / "rep" / "latest.md"
    assert main(["report", str(src), "--out", str(out), "--no-plots"]) == 0
    assert out.read_text().startswith("# lowbit benchmark report: suite `default`")
