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
    assert "2.00x" in rows["`avx2` (papers' situation)"]    # int8@avx2 / fp32@avx2
    assert "classes of this run in that situation are `avx512`, `avx2`" in md


# A Sapphire Rapids-like CPU: every x86 class, int8 on AMX, int4/4.6-bit on avx512vnni, fp32 on
# avx512 at the top. GOP/s differ per tier so that a number from the wrong tier shows.
SPR_GOPS = {
    ("fp32", "avx512"): 20.0, ("fp32", "avx2"): 12.0, ("fp32", "scalar"): 2.0,
    ("int8", "amx"): 160.0, ("int8", "avx512vnni"): 80.0, ("int8", "avxvnni"): 48.0,
    ("int8", "avx512"): 30.0, ("int8", "avx2"): 18.0, ("int8", "scalar"): 1.0,
    ("int4", "avx512vnni"): 100.0, ("int4", "avxvnni"): 60.0, ("int4", "avx512"): 50.0,
    ("int4", "avx2"): 30.0, ("int4", "scalar"): 3.0,
    ("4.6bit", "avx512vnni"): 96.0, ("4.6bit", "avxvnni"): 57.0, ("4.6bit", "avx512"): 48.0,
    ("4.6bit", "avx2"): 28.0, ("4.6bit", "scalar"): 3.0}


def spr_table(cap=None):
    from test_bench_classes import VNNI_TABLE

    t = dict(VNNI_TABLE)
    if cap:
        names = [c["name"] for c in t["classes"]]
        t["classes"] = t["classes"][names.index(cap):]
        t.update(top=cap, cap=cap,
                 papers_classes=[c for c in t["papers_classes"] if c in names[names.index(cap):]])
        t["papers_class"] = (t["papers_classes"] or [None])[0]
    return t


def spr_doc(cap=None):
    t = spr_table(cap)
    tiers = {c["name"] for c in t["classes"]}
    bs = [bench("lowbit", f, tier, 256, 256, 256, g, shape="square.256", group="square",
                check={"exact": True}) for (f, tier), g in SPR_GOPS.items() if tier in tiers]
    bs.append(bench("ort-matmulinteger", "int8", "native", 256, 256, 256, 80.0,
                    shape="square.256", group="square", check={"exact": True}))
    bs += [bench("torch-int-mm", "int8", c, 256, 256, 256, 40.0, shape="square.256",
                 group="square", check={"exact": True}) for c in tiers]
    return doc(bs, cls=t, max_tier=cap)


def test_vnni_cpu_report_by_class(tmp_path):
    """The VNNI-CPU defects of issue 11: fp32 '–' in vnni/amx rows, the narrative's tiers,
    peers compared at the tier int8 really uses, the papers' classes, the reference."""
    md = render(spr_doc(), tmp_path / "r.md", plots=False)
    summary = md.split("## Summary by CPU class")[1].split("## Machine")[0]
    rows = {line.split("|")[1].strip(): line.split("|")[2:7] for line in summary.splitlines()
            if line.startswith("| `")}
    assert list(rows) == ["`amx` (this CPU)", "`avx512vnni`", "`avxvnni`",
                          "`avx512` (papers' situation)", "`avx2` (papers' situation)",
                          "`scalar` (reference, not a CPU)"]
    assert all(not cell.strip().startswith("–") for r in rows.values() for cell in r)
    # int8/fp32, int4/fp32, int4/int8 under amx: 160/20, 100/20, 100/160.
    assert [c.split()[0] for c in rows["`amx` (this CPU)"][:3]] == ["8.00x", "5.00x", "0.62x"]
    assert rows["`avxvnni`"][0].split()[0] == "4.00x"  # int8 avxvnni / fp32 avx2
    text = md.split("## What this means")[1].split("## Summary")[0]
    assert ("Under the class `amx` (this CPU's class) (kernels: fp32 `avx512`, int8 `amx`, "
            "int4 `avx512vnni`, 4.6bit `avx512vnni`") in text
    assert "kernels: fp32 `avx2`, int8 `avxvnni`" in text
    # Peers at the tier int8 really uses: int8 amx 160 vs onnxruntime 80, torch capped to amx.
    assert "Against the peers under `amx`" in text
    assert "lowbit int8 reaches 2.00x the throughput of ort-matmulinteger" in text
    assert "lowbit int8 reaches 4.00x the throughput of torch-int-mm" in text
    assert "classes of this run in that situation are `avx512`, `avx2`" in text
    assert "Under `avx512`: int4/fp32 2.50x (paper: 2.9x)" in text
    assert "scalar tier is the portable C++ reference, not a CPU" in text
    assert "## Class `amx` (this CPU), 1 thread(s)" in md
    assert "## Scalar reference (portable C++, not a CPU)" in md
    sec = md.split("### square: class `avx512vnni`")[1].split("###")[0]
    assert "| fp32 (avx512) " in sec and "| int8 (avx512vnni) " in sec
    assert "ort-matmulinteger (native)" in sec


def test_capped_run_is_labelled_by_its_cap_not_as_this_cpu(tmp_path):
    md = render(spr_doc(cap="avx2"), tmp_path / "r.md", plots=False)
    assert "`avx2` (LOWBIT_MAX_TIER=avx2, papers' situation)" in md
    assert "this CPU" not in md.split("## Machine")[0]
    assert "Under the class `avx2` (the cap LOWBIT_MAX_TIER=avx2)" in md


def test_speedup_plot_has_no_zero_bars():
    """A ratio that cannot be formed is None (drawn as n/a), never 0."""
    from lowbit.bench.plots import speedup_bars
    from lowbit.bench.tables import View

    v = View(spr_doc())
    classes_, series = speedup_bars(v, 1)
    assert classes_ == ["amx", "avx512vnni", "avxvnni", "avx512", "avx2", "scalar"]
    assert dict(series)["int8 / fp32"][:3] == pytest.approx([8.0, 4.0, 4.0])
    assert all(x is not None and x > 0 for _, vals in series for x in vals)
    # Without fp32 under a class the bar is None, not 0.
    d = spr_doc()
    d["benchmarks"] = [b for b in d["benchmarks"] if b["extra_info"]["tier"] != "avx2"]
    _, series = speedup_bars(View(d), 1)
    assert dict(series)["int8 / fp32"][2] is None
    assert dict(series)["int8 / fp32"][0] == pytest.approx(8.0)


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
