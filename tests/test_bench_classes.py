"""CPU classes: which kernel each format runs under a LOWBIT_MAX_TIER class, and the
headline on every class (it used to crash on VNNI CPUs: no fp32 kernel for avx512vnni)."""

import os
import subprocess
import sys

import pytest

import lowbit
from lowbit import _core
from lowbit.bench.classes import class_table, kernel_tier

X86_FEATURES = {
    "amx": ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512vnni", "amx-tile",
            "amx-int8"],
    "avx512vnni": ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512vnni"],
    "avxvnni": ["avx2", "fma", "avxvnni"], "avx512": ["avx2", "fma", "avx512f", "avx512bw",
                                                      "avx512vl"],
    "avx2": ["avx2", "fma"], "scalar": []}


def test_best_kernel_under_a_class_follows_the_feature_rule():
    fp32 = ["avx512", "avx2", "scalar"]
    int8 = ["amx", "avx512vnni", "avxvnni", "avx512", "avx2", "scalar"]
    feats = X86_FEATURES.__getitem__
    under = lambda ts, c: kernel_tier(ts, set(X86_FEATURES[c]), feats)  # noqa: E731
    assert under(fp32, "avx512vnni") == "avx512" and under(int8, "avx512vnni") == "avx512vnni"
    assert under(fp32, "avxvnni") == "avx2" and under(int8, "avxvnni") == "avxvnni"
    assert under(int8, "amx") == "amx" and under(fp32, "amx") == "avx512"
    assert under(int8, "avx512") == "avx512" and under(int8, "scalar") == "scalar"


def test_this_machine_has_a_class_table_with_a_kernel_for_every_format():
    t = class_table()
    names = [c["name"] for c in t["classes"]]
    assert names[-1] == "scalar" and t["top"] == (names[0] if len(names) > 1 else "scalar")
    # this_cpu is the CPU's own class whatever the cap: the best tier it can run.
    assert t["this_cpu"] == next(x for x in lowbit.all_tiers()
                                 if "cannot run" not in _core.tier_unavailable_reason(x)
                                 and "refused" not in _core.tier_unavailable_reason(x))
    assert t["cap"] == (_core.max_tier() or None)
    for c in t["classes"]:
        for f in lowbit.FORMATS:
            assert c["kernels"][f] in lowbit.tiers(f)
            assert set(_core.tier_features(c["kernels"][f])) <= set(c["features"])
    assert t["papers_classes"] == [c["name"] for c in t["classes"]
                                   if c["name"] != "scalar" and not c["int8_dot_product"]]
    if t["papers_class"]:
        assert t["papers_class"] == t["papers_classes"][0]


def test_a_capped_process_knows_this_cpus_class(tmp_path):
    """Under LOWBIT_MAX_TIER the table has the classes at and below the cap, and still names
    the CPU's own class (the headline and the report say "capped", not "this CPU")."""
    env = dict(os.environ, LOWBIT_MAX_TIER="scalar")
    out = subprocess.run([sys.executable, "-c", "import json; from lowbit.bench.classes import "
                          "class_table; print(json.dumps(class_table()))"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    t = json.loads(out.stdout)
    assert [c["name"] for c in t["classes"]] == ["scalar"] and t["top"] == "scalar"
    assert t["cap"] == "scalar" and t["this_cpu"] == class_table()["this_cpu"]
    assert t["papers_classes"] == [] and t["papers_class"] is None


# A VNNI CPU's table (as class_table() writes it there), for the headline's words on any CPU.
VNNI_TABLE = {
    "this_cpu": "amx", "top": "amx", "cap": None, "reference": "scalar",
    "papers_class": "avx512", "papers_classes": ["avx512", "avx2"],
    "classes": [{"name": n, "features": X86_FEATURES[n], "int8_dot_product": dot,
                 "kernels": {"fp32": f, "int8": i, "int4": i4, "4.6bit": i4}}
                for n, dot, f, i, i4 in [
                    ("amx", True, "avx512", "amx", "avx512vnni"),
                    ("avx512vnni", True, "avx512", "avx512vnni", "avx512vnni"),
                    ("avxvnni", True, "avx2", "avxvnni", "avxvnni"),
                    ("avx512", False, "avx512", "avx512", "avx512"),
                    ("avx2", False, "avx2", "avx2", "avx2"),
                    ("scalar", False, "scalar", "scalar", "scalar")]]}


def test_headline_describes_each_class_of_a_vnni_cpu():
    from lowbit.bench.headline import describe_class, pick_class

    def words(cls, **table):
        t = dict(VNNI_TABLE, **table)
        return " ".join(describe_class(t, pick_class(t, cls)))

    top = words(None)
    assert "`amx` (this CPU's class)" in top and "fp32 `avx512`, int8 `amx`" in top
    assert "not the papers' situation" in top and "--class avx512" in top
    assert "as lowbit does" in top
    vnni = words("avx512vnni", cap="avx512vnni", top="avx512vnni")
    assert "capped by LOWBIT_MAX_TIER=avx512vnni; this CPU's class is `amx`" in vnni
    assert "fp32 `avx512`, int8 `avx512vnni`" in vnni and "not the papers' situation" in vnni
    assert "the class does not cap" in vnni
    assert "capped by --class" in words("avxvnni") and "fp32 `avx2`" in words("avxvnni")
    for papers in ("avx512", "avx2"):
        assert "the papers' situation (ARMv8 NEON without one), so their figures are " \
            "comparable" in words(papers)
    ref = words("scalar")
    assert "portable C++ reference, not a CPU" in ref and "not set against the papers" in ref
    with pytest.raises(ValueError, match="unknown or unavailable CPU class 'amx'.*"
                       "LOWBIT_MAX_TIER=avx2.*avx2, scalar"):
        pick_class(dict(VNNI_TABLE, cap="avx2", classes=VNNI_TABLE["classes"][-2:]), "amx")


def _papers_or_none():
    t = class_table()
    return t["papers_class"] if t["papers_class"] != t["top"] else None


@pytest.mark.skipif(os.environ.get("LOWBIT_TEST_PROFILE") in ("sanitize", "emulated"),
                    reason="timed runs of the CLI: minutes under ASan or QEMU; the native run covers it")
@pytest.mark.parametrize("cap", [None, "scalar", "papers"])
def test_headline_runs_capped_and_uncapped(cap, tmp_path):
    pytest.importorskip("scipy")
    table = class_table()
    if cap == "papers":
        cap = _papers_or_none()
        if cap is None:
            pytest.skip("this CPU's own class is the papers' situation (run uncapped above)")
    env = dict(os.environ)
    env.pop("LOWBIT_MAX_TIER", None)
    if cap:
        env["LOWBIT_MAX_TIER"] = cap
    out = subprocess.run([sys.executable, "-c", "import sys; from lowbit.bench.cli import main; "
                          "sys.exit(main(['headline', '--repeat', '1', '--size', '64']))"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    want = cap or table["top"]
    if want == "scalar":
        assert "CPU class `scalar`: the portable C++ reference, not a CPU" in out.stdout
    elif want == table["this_cpu"]:
        assert f"CPU class `{want}` (this CPU's class)" in out.stdout
    else:
        assert (f"CPU class `{want}` (capped by LOWBIT_MAX_TIER={cap}; this CPU's class is "
                f"`{table['this_cpu']}`)") in out.stdout
    entry = next(c for c in table["classes"] if c["name"] == want)
    assert ("not the papers' situation" in out.stdout) == (entry["int8_dot_product"]
                                                           and want != "scalar")
    assert "load average" in out.stdout
    rows = [line for line in out.stdout.splitlines() if line.startswith("| ") and "x |" in line]
    assert len(rows) >= 8  # 5 format ratios + 3 GEMV rows (+ peers when installed)
    k = entry["kernels"]
    assert f"int4 ({k['int4']}) / int8 ({k['int8']})" in out.stdout
    assert f"int8 ({k['int8']}) / fp32 ({k['fp32']})" in out.stdout
    paper = next(line for line in rows if f"int4 ({k['int4']}) / fp32" in line)
    assert "| 2.9x |" in paper
