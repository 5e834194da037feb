"""Report rendering on synthetic results with known numbers: organised by CPU class."""

import re

import pytest

pytest.importorskip("tabulate")  # the [bench] extra; not in every test environment
pytest.importorskip("matplotlib")

from benchdocs import AVX2, AVX512, SCALAR, VNNI, bench, classes, doc  # noqa: E402

from lowbit.bench import results as R  # noqa: E402
from lowbit.bench.cli import main  # noqa: E402
from lowbit.bench.report import render  # noqa: E402

# GOP/s by (format, tier): int4 = 4x fp32 and 2x int8 at avx2.
GOPS = {("fp32", "avx2"): 10.0, ("int8", "avx2"): 20.0, ("int4", "avx2"): 40.0,
        ("4.6bit", "avx2"): 38.0, ("fp32", "scalar"): 2.0, ("int8", "scalar"): 1.0,
        ("int4", "scalar"): 3.0, ("4.6bit", "scalar"): 3.0}
SHAPES = [("resnet18.layer1.conv", 3136, 64, 576, "cnn"), ("llm.attn_proj.m1", 1, 4096, 4096,
                                                          "llm")]
ROOF = {"peaks": {"fma.ymm": 20e9, "vpmaddwd+vpaddd.ymm": 40e9,
                  "vpmaddubsw+vpaddw.ymm": 80e9},
        "probes": {"fma.ymm": {"tier": "avx2", "what": "fma"},
                   "vpmaddwd+vpaddd.ymm": {"tier": "avx2", "what": "madd"},
                   "vpmaddubsw+vpaddw.ymm": {"tier": "avx2", "what": "maddubs"},
                   "vpdpbusd.zmm": {"tier": "avx512vnni", "what": "dpbusd"}},
        "bandwidth": {"1": [[16384, 1e12], [1 << 30, 1e12]]}, "reader": "read.ymm"}


def fake_doc():
    bs = []
    for name, M, N, K, group in SHAPES:
        for (fmt, tier), g in GOPS.items():
            bs.append(bench("lowbit", fmt, tier, M, N, K, g, shape=name, group=group,
                            check={"exact": True}))
        bs.append(bench("numpy", "fp32", "native", M, N, K, 15.0, shape=name, group=group))
    d = doc(bs, roofline=ROOF)
    d["lowbit"]["peers"] = {"numpy": {"available": True},
                            "torch-fbgemm": {"available": False, "reason": "torch not installed"}}
    return d


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("report")
    out = tmp_path / "latest.md"
    return tmp_path, render(fake_doc(), out, results_path="fake.json")


def test_summary_is_by_cpu_class_with_the_papers_row(rendered):
    _, md = rendered
    summary = md.split("## Summary by CPU class")[1].split("## Machine")[0]
    row = next(line for line in summary.splitlines() if line.startswith("| `avx2`"))
    assert "this CPU" in row and "papers' situation" in row
    # int8/fp32, int4/fp32, int4/int8, 4.6bit/int8, 4.6bit/int4
    assert re.findall(r"(\d\.\d\dx) \(", row) == ["2.00x", "4.00x", "2.00x", "1.90x", "0.95x"]
    ref = next(line for line in summary.splitlines() if line.startswith("| `scalar`"))
    assert "reference, not a CPU" in ref
    assert "| papers (ARMv8 NEON" in summary and "2.9x" in summary and "1.5-1.6x" in summary


def test_class_tables_have_gops_percent_of_bound_and_peers(rendered):
    _, md = rendered
    assert "Fake CPU 9000" in md and "abc123" in md
    sec = md.split("### cnn: class `avx2`")[1].split("###")[0]
    row = next(line for line in sec.splitlines() if line.startswith("| resnet18.layer1.conv"))
    # int4 40 GOP/s against the 80 GOP/s vpmaddubsw peak (memory far away): 50%.
    assert "40.0 (50%)" in row and "10.0 (50%)" in row and "15.0 (75%)" in row
    assert "### cnn (scalar reference)" in md
    assert "**skipped**: torch not installed" in md


def test_plots_are_written_and_embedded(rendered):
    tmp, md = rendered
    pngs = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", md)
    # speedup bars + GOP/s per shape and a roofline for the one CPU class
    assert len(pngs) == 3
    for p in pngs:
        assert (tmp / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_narrative_follows_the_numbers(rendered):
    _, md = rendered
    text = md.split("## What this means")[1].split("## Summary")[0]
    assert "Under the class `avx2` (this CPU's class)" in text
    assert "int4 runs at 4.00x fp32 and 2.00x int8" in text
    assert "int4 on 2 of 2" in text
    assert "5% more time than int4" in text  # 40 vs 38 GOP/s
    assert "in that situation is `avx2`" in text and "int4/fp32 4.00x (paper: 2.9x)" in text
    assert "scalar tier is the portable C++ reference, not a CPU" in text


def test_vnni_class_runs_fp32_on_its_avx512_kernel(tmp_path):
    """The crash of the old headline/report on VNNI CPUs: under avx512vnni, fp32 is avx512's."""
    bs = [bench("lowbit", "fp32", "avx512", 64, 64, 64, 10.0),
          bench("lowbit", "int8", "avx512vnni", 64, 64, 64, 40.0),
          bench("lowbit", "int8", "avx512", 64, 64, 64, 20.0),
          bench("lowbit", "fp32", "avx2", 64, 64, 64, 9.0),
          bench("lowbit", "int8", "avx2", 64, 64, 64, 18.0)]
    d = doc(bs, cls=classes(VNNI, AVX512, AVX2, SCALAR, papers="avx512"))
    md = render(d, tmp_path / "r.md", plots=False)
    rows = {line.split("|")[1].strip(): line for line in md.splitlines()
            if line.startswith("| `avx")}
    assert "4.00x" in rows["`avx512vnni` (this CPU)"]      # int8@vnni / fp32@avx512
    assert "2.00x" in rows["`avx512` (papers' situation)"]  # int8@avx512 / fp32@avx512
    assert "class of this run in that situation is `avx512`" in md


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
    R.write(src, fake_doc())
    out = tmp_path / "rep" / "latest.md"
    assert main(["report", str(src), "--out", str(out), "--no-plots"]) == 0
    assert out.read_text().startswith("# lowbit benchmark report: suite `default`")
