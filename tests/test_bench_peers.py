"""`lowbit-bench peers` (the driver against onnxruntime / numpy, paired interleaved timing),
run on the quick suite with one round: every shape gets a row per format and thread count, the
summary and per-call lines are printed, big shapes are skipped with a word, bad input is a
clear error."""

import os
import re
import subprocess
import sys

import pytest

CATALOG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench",
                       "shapes.toml")


def _peers(args, tmp_path):
    return subprocess.run([sys.executable, "-c", "import sys; from lowbit.bench.cli import main; "
                           f"sys.exit(main(['peers', '--catalog', {CATALOG!r}, *{args!r}]))"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)


@pytest.mark.skipif(os.environ.get("LOWBIT_TEST_PROFILE") in ("sanitize", "emulated"),
                    reason="timed runs of the CLI: minutes under ASan or QEMU; the native run covers it")
def test_peers_quick_suite(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("threadpoolctl")
    from lowbit.bench.catalog import load_catalog

    md = tmp_path / "peers" / "quick.md"
    out = _peers(["--suite", "quick", "--repeat", "1", "--threads", "1,2", "--x127",
                  "--max-gop", "0.05", "--out", str(md)], tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert md.read_text() == out.stdout  # --out: the same markdown, written when complete
    shapes = load_catalog(CATALOG).suite("quick")
    for s in shapes:
        rows = [l for l in out.stdout.splitlines()
                if l.startswith(f"| {s.name} | {s.M}x{s.N}x{s.K} | ")]
        if s.M * s.N * s.K / 1e9 > 0.05:
            assert len(rows) == 1 and "skipped" in rows[0]
            continue
        assert len(rows) == 4, rows  # int8, fp32 x threads 1, 2
        for r in rows:
            assert re.search(r"\| \d+\.\d\dx \|", r), r
        assert sum("ort exact" in r for r in rows) == 2  # 0..127: onnxruntime is exact
    for fmt in ("int8", "fp32"):
        for t in (1, 2):
            assert re.search(rf"^\| quick \| {fmt} \| {t} \| \d+\.\d\dx \|", out.stdout, re.M)
        assert f"per-call cost {fmt} M=1 K=N=128" in out.stdout
    # Thread scaling: one paired row per measured shape and format, and the summary lines.
    measured = [s for s in shapes if s.M * s.N * s.K / 1e9 <= 0.05]
    for s in measured:
        for fmt in ("int8", "fp32"):
            assert re.search(rf"^\| {re.escape(s.name)} \| {fmt} \| \d+ \| \d+\.\d\dx \| (yes|no) \|$",
                             out.stdout, re.M), (s.name, fmt)
    assert re.search(r"^2 threads: (min speedup over shapes >= 200 us|no shape >= 200 us)",
                     out.stdout, re.M)


def test_peers_rejects_bad_input(tmp_path):
    out = _peers(["--formats", "int4", "--suite", "quick"], tmp_path)
    assert out.returncode == 2 and "int8 and fp32 only" in out.stderr
    out = _peers(["--suite", "nope"], tmp_path)
    assert out.returncode == 2 and "unknown suite" in out.stderr


@pytest.mark.skipif(os.environ.get("LOWBIT_TEST_PROFILE") in ("sanitize", "emulated"),
                    reason="timed runs of the CLI: minutes under ASan or QEMU; the native run covers it")
def test_peers_shapes_filter(tmp_path):
    """--shapes: only the named entries of the suite (rows and scaling), unknown names a clear
    error that lists the suite's shapes."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("threadpoolctl")
    from lowbit.bench.catalog import load_catalog

    names = [s.name for s in load_catalog(CATALOG).suite("quick")
             if s.M * s.N * s.K / 1e9 <= 0.05][:2]
    assert len(names) == 2
    out = _peers(["--suite", "quick", "--repeat", "1", "--formats", "fp32", "--max-gop", "0.05",
                  "--shapes", ",".join(names)], tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [l for l in out.stdout.splitlines() if re.match(r"^\| \S+ \| \d+x\d+x\d+ \| ", l)]
    assert sorted({r.split(" | ")[0][2:] for r in rows}) == sorted(names), rows
    assert len(rows) == 4  # fp32 x threads 1, 2 for each
    out = _peers(["--suite", "quick", "--shapes", "nope"], tmp_path)
    assert out.returncode == 2 and "no shape 'nope' in suite 'quick'" in out.stderr
    assert names[0] in out.stderr
