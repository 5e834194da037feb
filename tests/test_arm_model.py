"""The ARM cycle models (ci/armmodel/model.py, reports/arm-model.json): llvm-mca and OSACA.

The committed JSON is the issue-6 regression baseline, so its structure and internal
arithmetic are checked on every run; regenerating it needs CMake, the aarch64 cross
compiler, QEMU user mode, llvm-mca and OSACA and is skipped only when those are missing (then
only the neon tier, to stay fast, compared exactly with the committed numbers when the tool
versions match).  The model compiles with CMake's commands and nothing of its own: checked
against compile_commands.json.
The flush periods are checked against the overflow rule itself and, on aarch64 (in the
arm64 image, `make arm-test`), against the library's own kernels.
"""

from __future__ import annotations

import importlib.util
import json
import math
import platform
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "reports/arm-model.json"


def load_model_module():
    spec = importlib.util.spec_from_file_location("armmodel", ROOT / "ci/armmodel/model.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["armmodel"] = mod  # dataclasses look their module up here
    spec.loader.exec_module(mod)
    return mod


# What the model's aarch64 graph needs (cmake/aarch64-native-tests.cmake; ci/armmodel/tools.sh
# installs the two Debian packages).
ARM_TOOLS = ("cmake", "ctest", "aarch64-linux-gnu-g++", "qemu-aarch64-static")


def missing_tools(tools) -> list[str]:
    return [t for t in tools if shutil.which(t) is None]


def check_model(m: dict, tiers: tuple[str, ...]) -> None:
    mod = load_model_module()
    assert m["schema"] == "lowbit-arm-model/2"
    assert set(m["cpus"]) == set(mod.CPUS)
    seen = {(k["format"], k["tier"]) for k in m["kernels"]}
    # Every format on the base tier, int8 on every tier asked for.
    assert {(f, "neon") for f in mod.FORMATS} <= seen
    assert {("int8", t) for t in tiers} <= seen
    for k in m["kernels"]:
        assert k["tier"] in tiers and k["format"] in mod.FORMATS
        # MACs counted from the block's multiply instructions = the tile times k.
        assert k["macs_per_iteration"] == k["mr"] * k["nr"] * k["k_per_iteration"]
        assert k["call_k"] % k["k_per_iteration"] == 0
        assert k["iterations_per_call"] == k["call_k"] // k["k_per_iteration"]
        if k["acc_bits"] == 16:
            assert k["flush_period"] == k["call_k"] and 258 <= k["flush_period"] <= 290
        else:
            assert k["flush_period"] is None
        cpus_with_tier = {c for c, feats in m["cpus"].items() if k["tier"] in feats}
        assert set(k["cpus"]) == cpus_with_tier
        for cpu, r in k["cpus"].items():
            loop, epi = r["loop_cycles_per_iteration"], r["epilogue_cycles"]
            assert loop > 0 and epi > 0
            eff = loop + epi / k["iterations_per_call"]
            assert math.isclose(r["cycles_per_iteration"], eff, abs_tol=2e-3)
            assert math.isclose(r["macs_per_cycle"], k["macs_per_iteration"] / eff, rel_tol=1e-3)
            assert math.isclose(
                r["macs_per_cycle_loop"], k["macs_per_iteration"] / loop, rel_tol=1e-3
            )
            assert r["macs_per_cycle"] <= r["macs_per_cycle_loop"]
    for cpu, s in m["speedups"].items():
        mpc = {
            k["format"]: k["cpus"][cpu]["macs_per_cycle"]
            for k in m["kernels"]
            if k["tier"] == "neon" and cpu in k["cpus"]
        }
        assert math.isclose(s["neon"]["int4/int8"], mpc["int4"] / mpc["int8"], rel_tol=2e-3)
        assert math.isclose(s["neon"]["int4/fp32"], mpc["int4"] / mpc["fp32"], rel_tol=2e-3)
        assert math.isclose(s["neon"]["4.6bit/int4"], mpc["4.6bit"] / mpc["int4"], rel_tol=2e-3)
        assert math.isclose(s["neon"]["4.6bit/int8"], mpc["4.6bit"] / mpc["int8"], rel_tol=2e-3)
    assert set(m["paper"]) == {"int4/int8", "int4/fp32", "4.6bit/int4", "4.6bit/int8"}
    check_osaca(m, mod)


def check_osaca(m: dict, mod) -> None:
    """OSACA's figures beside llvm-mca's: same kernels, same arithmetic, honest gaps."""
    assert m["osaca"]["paper_cpu"] == "a72" and set(m["osaca"]["cpus"]) == set(mod.OSACA_CPUS)
    for k in m["kernels"]:
        want = {a for a, c in mod.OSACA_CPUS.items() if k["tier"] in mod.CPUS[c]}
        assert set(k["osaca"]) == want
        for r in k["osaca"].values():
            assert r["loop_cycles_per_iteration"] == max(r["throughput_cycles"], r["lcd_cycles"])
            eff = r["loop_cycles_per_iteration"] + r["epilogue_cycles"] / k["iterations_per_call"]
            assert math.isclose(r["cycles_per_iteration"], eff, abs_tol=2e-3)
            if r["macs_per_cycle"] is not None:
                assert math.isclose(
                    r["macs_per_cycle"], k["macs_per_iteration"] / eff, rel_tol=1e-3
                )
            # A prediction is complete exactly when no loop instruction is missing.
            assert r["complete"] == (r["unknown_instructions"] == 0 == sum(r["unknown"].values()))
            assert r["unknown_instructions"] <= k["loop_instructions"]
    # OSACA's A72 table has every fp32 neon instruction and its overlay (documented forms)
    # the integer ones: the papers' core is predicted completely, every format.
    for k in m["kernels"]:
        if k["tier"] == "neon":
            assert k["osaca"]["a72"]["complete"], (k["kernel"], k["osaca"]["a72"]["unknown"])
    ov = m["osaca"]["overlays"]
    assert ov["a72"]["status"] == "documented-not-measured"
    assert all(f["group"] for o in ov.values() for f in o["forms"])  # each form cites its row
    x86_kernels = (m.get("x86") or {}).get("kernels", [])
    for k in x86_kernels:
        assert k["macs_per_iteration"] == k["mr"] * k["nr"] * k["k_per_iteration"]
        assert {c for c, _ in mod.X86_MODELS[k["tier"]]} == set(k["cpus"])
        assert {a for _, a in mod.X86_MODELS[k["tier"]]} == set(k["osaca"])
    n_pairs = sum(len(k["osaca"]) for k in m["kernels"]) + sum(
        len(mod.X86_MODELS[k["tier"]]) for k in x86_kernels)
    assert len(m["comparisons"]) == n_pairs
    assert len({c["id"] for c in m["comparisons"]}) == n_pairs
    for c in m["comparisons"]:
        o, l = c["osaca_macs_per_cycle"], c["llvm_mca_macs_per_cycle"]
        assert math.isclose(c["osaca_over_llvm_mca"], o / l, rel_tol=2e-3)
        assert c["disagree"] == (abs(o / l - 1) > mod.DISAGREE)
        # Every disagreement names the instruction behind it.
        assert (c["cause"] is not None) == c["disagree"]
        if c["disagree"]:
            assert "`" in c["cause"]


def test_committed_model_is_consistent():
    m = json.loads(REPORT.read_text())
    check_model(m, ("neon", "dotprod", "i8mm"))
    # Deterministic serialisation: the file is exactly what the model writes.
    assert REPORT.read_text() == json.dumps(m, indent=1, sort_keys=True) + "\n"
    md = (ROOT / "reports/arm-model.md").read_text()
    for k in m["kernels"]:
        assert k["kernel"] in md


def test_committed_flush_periods_are_the_deepest_safe_depth():
    """For each 16-bit kernel as its source declares it (terms per step, lane signedness,
    k per step): the committed flush period keeps the worst-case lane sum in range, and one
    more padded step of k would overflow it.  The rule is restated here, not taken from
    the model script."""
    mod = load_model_module()
    if missing_tools(ARM_TOOLS):
        pytest.skip(f"the registry dump (model.registry_dump) needs {missing_tools(ARM_TOOLS)} "
                    "(make arm-native-test installs them)")
    m = json.loads(REPORT.read_text())
    for tier in mod.TIERS:
        for d in mod.main_descs(tier):
            k = next(x for x in m["kernels"] if x["kernel"] == d.name)
            assert (k["mr"], k["nr"], k["acc_bits"]) == (d.mr, d.nr, d.acc_bits)
            if d.acc_bits != 16:
                assert k["flush_period"] is None
                continue
            if d.fmt == "int4":  # codes 0..15 on both sides
                amax = bmax = 15
            else:  # 4.6bit: codes re-centred, activations to [-a, a], weights to [-b, b]
                amax = (m["q46_params"]["act_levels"] - 1) // 2
                bmax = (m["q46_params"]["weight_levels"] - 1) // 2
            lane_max = 65535 if d.lane_unsigned else 32767
            worst = lambda depth: (depth // d.kb) * d.terms_per_step * amax * bmax
            kf = k["flush_period"]
            assert kf % d.kpad() == 0 and kf > 0
            assert worst(kf) <= lane_max, f"{d.name}: {kf} deep overflows a 16-bit lane"
            assert worst(kf + d.kpad()) > lane_max, f"{d.name}: flushes earlier than needed"


@pytest.mark.skipif(platform.machine() not in ("aarch64", "arm64"),
                    reason="the library's ARM kernels are compiled only for aarch64")
def test_committed_model_matches_the_library_kernels():
    """In the arm64 image: every modelled kernel is one the library has, with the tile,
    accumulator width and flush period the library itself reports."""
    import lowbit

    m = json.loads(REPORT.read_text())
    params = {"4.6bit": {"act_levels": m["q46_params"]["act_levels"],
                         "weight_levels": m["q46_params"]["weight_levels"]}}
    lib = {v.name: v for v in lowbit.variants()}
    for k in m["kernels"]:
        v = lib[k["kernel"]]
        assert (v.format, v.tier, v.mr, v.nr, v.acc_bits) == (
            k["format"], k["tier"], k["mr"], k["nr"], k["acc_bits"])
        assert v.flush_period(**params.get(k["format"], {})) == k["flush_period"]


def test_regenerated_neon_model(tmp_path):
    mod = load_model_module()
    mca = mod.find_llvm_mca()
    if mca is None or missing_tools(ARM_TOOLS) or importlib.util.find_spec("osaca") is None:
        pytest.skip(
            "llvm-mca, OSACA or the aarch64 cross compiler is missing "
            "(make arm-model installs them)"
        )
    out = tmp_path / "m.json"
    argv = ["--json", str(out), "--md", "", "--tiers", "neon", "--x86-tiers", "",
            "--no-measure", "--llvm-mca", mca]
    assert mod.main(argv) == 0
    fresh = json.loads(out.read_text())
    fresh["x86"] = None  # not regenerated here
    check_model(fresh, ("neon",))
    committed = json.loads(REPORT.read_text())
    same_tools = all(
        fresh["toolchain"][key] == committed["toolchain"][key]
        for key in ("cxx", "llvm_mca", "iterations")
    ) and fresh["osaca"]["version"] == committed["osaca"]["version"]
    if same_tools:
        want = [k for k in committed["kernels"] if k["tier"] == "neon"]
        assert fresh["kernels"] == want, "reports/arm-model.json is stale: run make arm-model"


def test_model_compiles_with_cmakes_commands_only(tmp_path, monkeypatch):
    """Every compiler run of the model (ARM blocks, x86 objects, the registry dump) is a
    command of CMake's compile_commands.json, read here from the file: the ARM assembly is
    the entry with -c -> -S and -DLOWBIT_MCA added, the x86 object the entry itself; only the
    output path differs, and it runs in the entry's directory.  A flag the model adds or
    drops, or a TU it compiles by hand (the registry dump's sources were), fails this."""
    x86_too = platform.machine() in ("x86_64", "AMD64")
    if missing_tools(ARM_TOOLS + (("objdump",) if x86_too else ())):
        pytest.skip(f"needs {missing_tools(ARM_TOOLS)} (make arm-model installs them)")
    mod = load_model_module()
    runs = []
    real_run = subprocess.run

    def spy(argv, *args, **kw):
        runs.append(([str(a) for a in argv], kw.get("cwd")))
        return real_run(argv, *args, **kw)

    monkeypatch.setattr(subprocess, "run", spy)
    for tier in mod.TIERS:
        assert mod.compile_regions(tier, tmp_path)
    if x86_too:
        for tier in mod.X86_MODELS:
            assert mod.x86.disassemble(tier, tmp_path)
    assert mod.registry_dump()

    entries = {}
    for graph in ("aarch64", "x86"):
        path = ROOT / "build/arm-model" / graph / "compile_commands.json"
        if path.is_file():
            entries.update({e["file"]: e for e in json.loads(path.read_text())})

    def without_output(argv):
        i = argv.index("-o")
        return argv[:i] + argv[i + 2:]

    compiled = set()
    for argv, cwd in runs:
        srcs = [a for a in argv if a.endswith((".cpp", ".cc", ".c"))]
        if not srcs:
            continue
        (src,) = srcs
        e = entries[src]  # a source the model compiles is one of CMake's, by its path
        want = without_output(shlex.split(e["command"]))
        got = without_output(argv)
        if "-S" in got:
            assert got.count("-DLOWBIT_MCA") == 1
            got = [a for a in got if a != "-DLOWBIT_MCA"]
            want = ["-S" if a == "-c" else a for a in want]
        assert got == want, src
        assert Path(cwd) == Path(e["directory"])
        compiled.add(Path(src).relative_to(ROOT).as_posix())
    assert compiled == {f"kernels/src/arm/{t}.cpp" for t in mod.TIERS} | (
        {f"kernels/src/x86/{t}.cpp" for t in mod.X86_MODELS} if x86_too else set())


CPUINFO = """processor\t: 0
vendor_id\t: {vendor}
cpu family\t: {family}
model\t\t: {model}
model name\t: some CPU
flags\t\t: {flags}
"""


def load_x86_module():
    spec = importlib.util.spec_from_file_location("armmodel_x86", ROOT / "ci/armmodel/x86.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("vendor,family,model,flags,core", [
    # A KVM guest of a Sapphire Rapids host showing a client model number: features decide.
    ("GenuineIntel", 6, 167, "avx2 avx512f avx512_vnni avx512_vbmi2 amx_tile amx_int8", "spr"),
    ("GenuineIntel", 6, 106, "avx2 avx512f avx512_vnni avx512_vbmi2", "icx"),
    ("GenuineIntel", 6, 85, "avx2 avx512f avx512_vnni", None),  # Cascade Lake: no model
    ("GenuineIntel", 6, 158, "avx2 fma", None),
    ("AuthenticAMD", 25, 33, "avx2 fma vaes", "zen3"),
    ("AuthenticAMD", 25, 97, "avx2 fma avx512f avx512bw", "zen4"),
    ("AuthenticAMD", 23, 49, "avx2 fma", None),  # Zen 2
])
def test_host_core_from_vendor_family_and_features(vendor, family, model, flags, core):
    x86 = load_x86_module()
    text = CPUINFO.format(vendor=vendor, family=family, model=model, flags=flags)
    assert x86.host_core(text) == core
    assert core is None or core in x86.CORES


def test_osaca_overlays_extend_osacas_tables_without_changing_them():
    pytest.importorskip("osaca")
    pytest.importorskip("ruamel.yaml")
    from osaca import utils
    from osaca.semantics import MachineModel

    sys.path.insert(0, str(ROOT / "ci/armmodel"))
    import osaca_model

    files = sorted(osaca_model.OVERLAY_DIR.glob("*.yml"))
    assert {f.stem for f in files} >= {"a72", "spr"}
    for f in files:
        doc = osaca_model.overlay(f.stem)
        assert doc["source"] and doc["status"]
        base = Path(utils.find_datafile(f.stem + ".yml")).read_text()
        merged = osaca_model.model_file(f.stem)
        # OSACA's own table is the untouched start of the merged one.
        assert merged.read_text().startswith(base.rstrip("\n") + "\n")
        mm = MachineModel(path_to_yaml=str(merged))
        ports = set(mm.get_ports())
        for form in doc["instruction_forms"]:
            assert form.get("group"), f"{f.name}: {form['name']} cites no source row"
            for _, where in form["port_pressure"]:
                assert set(where) <= ports, f"{f.name}: {form['name']}: port {where}"
            names = form["name"] if isinstance(form["name"], list) else [form["name"]]
            for name in names:  # OSACA finds the form under every name listed
                assert any(len(e.operands) == len(form["operands"])
                           for e in mm._data["instruction_forms_dict"][name.upper()])
