"""The Python API contract, and clear errors for bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading

import numpy as np
import pytest
from testutil import assert_matches_reference, random_operands

import lowbit


def test_formats_constant():
    assert lowbit.FORMATS == ("fp32", "int8", "int4", "4.6bit")


@pytest.mark.parametrize("fmt", lowbit.FORMATS)
def test_tiers_best_first_end_with_scalar(fmt):
    tiers = lowbit.tiers(fmt)
    assert tiers[-1] == "scalar"
    order = lowbit.all_tiers()
    assert [order.index(t) for t in tiers] == sorted(order.index(t) for t in tiers)
    # best tier is what pack_weights picks by default
    w = random_operands(np.random.default_rng(0), fmt, 1, 3, 5)[1]
    assert lowbit.pack_weights(w, fmt).tier == tiers[0]


def test_tier_table_read_alike_by_cmake_and_the_registry():
    """kernels/src/tiers.def has two readers: CMake (which compiles each tier's TU with the
    row's flags, recorded in build_info) and the C++ registry (ranks, features, flags)."""
    from lowbit import _core

    rows = [_core.tier_info(t) for t in lowbit.all_tiers()]
    assert [r["rank"] for r in rows] == sorted((r["rank"] for r in rows), reverse=True)
    assert rows[-1]["name"] == "scalar" and rows[-1]["flags"] == ""
    compiled = dict(part.split(": ", 1) for part in
                    _core.build_info()["tier_flags"].split(" | ") if part)
    assert compiled == {r["name"]: r["flags"] for r in rows[:-1]}
    for r in rows:
        assert r["features"] == list(_core.tier_features(r["name"]))
        assert {v.tier for v in lowbit.variants()} >= {r["name"]}  # every row has kernels


def test_variants_registry_covers_every_tier():
    vs = lowbit.variants()
    names = [v.name for v in vs]
    assert len(names) == len(set(names))
    for fmt in lowbit.FORMATS:
        for tier in lowbit.tiers(fmt):
            assert any(v.format == fmt and v.tier == tier and v.runnable for v in vs)
    for v in vs:
        assert v.tier in lowbit.all_tiers()
        assert v.format in lowbit.FORMATS
        assert v.name.endswith("__" + v.tier)


def test_packed_weights_attributes(rng):
    w = rng.integers(0, 16, (100, 37)).astype(np.uint8)
    p = lowbit.pack_weights(w, "int4", zero_point=7)
    assert (p.format, p.k, p.n, p.zero_point, p.params) == ("int4", 100, 37, 7, {})
    assert p.kernel in [v.name for v in lowbit.variants("int4")]
    # nibbles: int4 packed weights take about half the bytes of int8 on the same tier (the
    # best tier that has both: a tier need not provide every format)
    tier = next(t for t in lowbit.tiers("int4") if t in lowbit.tiers("int8"))
    w8 = rng.integers(-128, 128, (100, 37)).astype(np.int8)
    p4 = lowbit.pack_weights(w, "int4", zero_point=7, tier=tier)
    p8 = lowbit.pack_weights(w8, "int8", tier=tier)
    if tier != "scalar":
        assert p4.nbytes <= 0.6 * p8.nbytes
    q = lowbit.pack_weights(rng.integers(-9, 10, (10, 3)).astype(np.int8), "4.6bit",
                            act_levels=29, weight_levels=19)
    assert q.params == {"act_levels": 29, "weight_levels": 19}


def test_cpu_info():
    info = lowbit.cpu_info()
    assert info["arch"] in ("x86_64", "aarch64")
    assert isinstance(info["features"], list)
    assert "compiler" in info["build"]


# ---- bad input -------------------------------------------------------------------------

def test_wrong_dtypes(rng):
    w8 = rng.integers(-128, 128, (8, 4)).astype(np.int8)
    with pytest.raises(TypeError, match="dtype"):
        lowbit.pack_weights(w8.astype(np.int16), "int8")
    with pytest.raises(TypeError, match="dtype"):
        lowbit.pack_weights(w8.astype(np.float64), "fp32")
    p = lowbit.pack_weights(w8, "int8")
    with pytest.raises(TypeError, match="dtype"):
        lowbit.matmul(np.zeros((2, 8), np.int8), p)
    with pytest.raises(TypeError, match="numpy"):
        lowbit.matmul([[1] * 8], p)
    with pytest.raises(TypeError, match="pack_weights"):
        lowbit.matmul(np.zeros((2, 8), np.uint8), w8)
    with pytest.raises(ValueError, match="2-D"):
        lowbit.matmul(np.zeros(8, np.uint8), p)
    with pytest.raises(ValueError, match=r"got shape \(2, 8, 1\)"):
        lowbit.matmul(np.zeros((2, 8, 1), np.uint8), p)
    with pytest.raises(TypeError, match="pack_weights, got NoneType"):
        lowbit.matmul(np.zeros((2, 8), np.uint8), None)


def test_integer_arguments_of_matmul(rng):
    """matmul's checks run in C++: numpy integers and int subclasses are integers, bools and
    floats are not, for threads and zero_point alike (the same rules as pack_weights)."""
    import enum

    class Two(enum.IntEnum):
        TWO = 2

    w = rng.integers(-128, 128, (8, 4)).astype(np.int8)
    x = rng.integers(0, 256, (3, 8)).astype(np.uint8)
    p = lowbit.pack_weights(w, "int8")
    want = lowbit.matmul(x, p, zero_point=3)
    for zp in (np.int64(3), np.uint8(3), np.int16(3)):
        np.testing.assert_array_equal(lowbit.matmul(x, p, zero_point=zp), want)
    for t in (np.int32(2), Two.TWO):
        np.testing.assert_array_equal(lowbit.matmul(x, p, zero_point=3, threads=t), want)
    for name in ("threads", "zero_point"):
        for bad in (True, np.bool_(True), 1.0, np.float32(1), "1", None):
            with pytest.raises(TypeError, match=f"{name} must be an integer, got"):
                lowbit.matmul(x, p, **{name: bad})


def test_shape_mismatch(rng):
    p = lowbit.pack_weights(rng.integers(-128, 128, (8, 4)).astype(np.int8), "int8")
    with pytest.raises(ValueError, match="K=8"):
        lowbit.matmul(np.zeros((2, 9), np.uint8), p)
    with pytest.raises(ValueError, match="K >= 1"):
        lowbit.pack_weights(np.zeros((0, 4), np.int8), "int8")


@pytest.mark.parametrize("fmt", ["int8", "int4", "4.6bit"])
def test_codes_out_of_range(fmt, rng):
    spec = lowbit.format_spec(fmt)
    for tier in lowbit.tiers(fmt):
        x, w = random_operands(rng, fmt, 3, 5, 20)
        if spec.w_range != (-128, 127):
            bad = w.copy()
            bad[4, 2] = spec.w_range[1] + 1
            with pytest.raises(ValueError, match=r"weight code .* outside"):
                lowbit.pack_weights(bad, fmt, tier=tier)
        p = lowbit.pack_weights(w, fmt, tier=tier)
        if spec.x_range != (0, 255):
            bad = x.copy()
            bad[1, 7] = spec.x_range[1] + 1
            with pytest.raises(ValueError, match=r"activation code .* at \[1, 7\] outside"):
                lowbit.matmul(bad, p)


def test_zero_point_out_of_range(rng):
    w4 = rng.integers(0, 16, (8, 4)).astype(np.uint8)
    with pytest.raises(ValueError, match="zero_point"):
        lowbit.pack_weights(w4, "int4", zero_point=16)
    p = lowbit.pack_weights(w4, "int4")
    with pytest.raises(ValueError, match="zero_point"):
        lowbit.matmul(np.zeros((1, 8), np.uint8), p, zero_point=-1)
    with pytest.raises(ValueError, match="zero_point"):
        lowbit.pack_weights(rng.integers(-3, 4, (8, 4)).astype(np.int8), "4.6bit", zero_point=1)
    with pytest.raises(ValueError, match="zero point"):
        pf = lowbit.pack_weights(np.ones((8, 4), np.float32), "fp32")
        lowbit.matmul(np.ones((1, 8), np.float32), pf, zero_point=1)
    with pytest.raises(TypeError, match="integer"):
        lowbit.matmul(np.zeros((1, 8), np.uint8), p, zero_point=1.5)


def test_unknown_format_and_tier():
    w = np.zeros((4, 4), np.int8)
    with pytest.raises(ValueError, match="unknown format"):
        lowbit.pack_weights(w, "int3")
    with pytest.raises(ValueError, match="unknown format"):
        lowbit.tiers("int2")
    with pytest.raises(ValueError, match="unknown tier"):
        lowbit.pack_weights(w, "int8", tier="sse9")
    with pytest.raises(TypeError, match="parameter"):
        lowbit.pack_weights(w, "int8", levels=3)
    with pytest.raises(ValueError, match="no parameters"):
        lowbit.pack_weights(w, "int8", weight_levels=3)


def test_tier_this_cpu_cannot_run():
    w = np.zeros((4, 4), np.int8)
    missing = [t for t in lowbit.all_tiers() if t not in lowbit.tiers("int8")]
    for tier in missing:
        with pytest.raises(ValueError, match=f"tier '{tier}'"):
            lowbit.pack_weights(w, "int8", tier=tier)
    if not missing:
        pytest.skip("this CPU runs every tier of the build")


def test_46bit_pair_rule():
    w = np.zeros((4, 4), np.int8)
    for nx, nw in [(25, 21), (29, 19), (23, 23)]:
        assert lowbit.pack_weights(w, "4.6bit", act_levels=nx, weight_levels=nw).params == {
            "act_levels": nx, "weight_levels": nw}
    for nx, nw in [(27, 21), (25, 20), (25, 257), (255, 1), (16, 16)]:
        with pytest.raises(ValueError, match="4.6bit"):
            lowbit.pack_weights(w, "4.6bit", act_levels=nx, weight_levels=nw)
    # only weight_levels: the rule gives act_levels
    assert lowbit.pack_weights(w, "4.6bit", weight_levels=19).params["act_levels"] == 29


def test_int32_overflow_refused():
    """An exact result beyond int32 raises instead of wrapping."""
    K = 70000  # 70000 * 255 * 128 > 2**31
    x = np.full((1, K), 255, np.uint8)
    p = lowbit.pack_weights(np.full((K, 1), -128, np.int8), "int8")
    with pytest.raises(ValueError, match="int32"):
        lowbit.matmul(x, p)
    # the same K with small values is fine and exact
    x_small = np.full((1, K), 1, np.uint8)
    assert lowbit.matmul(x_small, p)[0, 0] == -128 * K


@pytest.mark.parametrize("fmt", lowbit.FORMATS)
def test_non_contiguous_inputs(fmt, rng):
    x, w = random_operands(rng, fmt, 20, 30, 40)
    wt = np.asfortranarray(w)
    xs = np.ascontiguousarray(np.concatenate([x, x], axis=1))[:, ::2]  # strided view
    assert not xs.flags.c_contiguous
    p = lowbit.pack_weights(wt, fmt)
    assert_matches_reference(lowbit.matmul(xs, p), xs, w, fmt)
    xT = np.ascontiguousarray(x.T).T  # Fortran-ordered view
    assert_matches_reference(lowbit.matmul(xT, p), x, w, fmt)


def test_threads_argument(rng):
    x, w = random_operands(rng, "int8", 3, 4, 5)
    p = lowbit.pack_weights(w, "int8")
    with pytest.raises(ValueError, match="threads"):
        lowbit.matmul(x, p, threads=0)


def test_empty_m(rng):
    x, w = random_operands(rng, "int8", 0, 4, 5)
    c = lowbit.matmul(x, lowbit.pack_weights(w, "int8"))
    assert c.shape == (0, 4) and c.dtype == np.int32


def test_concurrent_python_threads(rng):
    """Calls from several Python threads (GIL released) stay correct."""
    cases = []
    for i, fmt in enumerate(lowbit.FORMATS * 2):
        x, w = random_operands(rng, fmt, 50 + i, 60, 300)
        cases.append((fmt, x, w, lowbit.pack_weights(w, fmt)))
    errors = []

    def work(case):
        fmt, x, w, p = case
        try:
            for _ in range(3):
                assert_matches_reference(lowbit.matmul(x, p, threads=2), x, w, fmt)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(c,)) for c in cases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def _run_with_env(code: str, **env) -> subprocess.CompletedProcess:
    e = dict(os.environ, **env)
    # run outside the source tree so `import lowbit` finds the installed package
    return subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True,
                          cwd=tempfile.gettempdir())


def test_max_tier_cap():
    out = _run_with_env("import lowbit; print(lowbit.tiers('int8'))", LOWBIT_MAX_TIER="scalar")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['scalar']"
    best = lowbit.tiers("int8")[0]
    out = _run_with_env("import lowbit; print(lowbit.tiers('int8')[0])", LOWBIT_MAX_TIER=best)
    assert out.stdout.strip() == best
    code = ("import lowbit, numpy as np\n"
            "try:\n lowbit.pack_weights(np.zeros((2,2),np.int8),'int8',tier='%s')\n"
            "except ValueError as e: print('refused', e)\n") % best
    if best != "scalar":
        out = _run_with_env(code, LOWBIT_MAX_TIER="scalar")
        assert "refused" in out.stdout and "LOWBIT_MAX_TIER" in out.stdout
    out = _run_with_env("import lowbit; lowbit.tiers('int8')", LOWBIT_MAX_TIER="pentium")
    assert out.returncode != 0 and "LOWBIT_MAX_TIER" in out.stderr


def test_cap_is_a_cpu_class():
    """Capping at a tier keeps exactly the tiers whose features that CPU class has."""
    from lowbit import _core

    for cap in lowbit.all_tiers():
        feats = set(_core.tier_features(cap))
        expected = [t for t in lowbit.all_tiers()
                    if set(_core.tier_features(t)) <= feats and _core.tier_unavailable_reason(t) == ""]
        out = _run_with_env("import lowbit; print(','.join(lowbit.tiers('int8')))",
                            LOWBIT_MAX_TIER=cap)
        got = out.stdout.strip().split(",")
        int8_tiers = {v.tier for v in lowbit.variants("int8")}
        assert got == [t for t in expected if t in int8_tiers], (cap, got)


def test_sanitizer_profile_runs_a_sanitized_build():
    """`make test-sanitize` must exercise an ASan/UBSan build, not a plain one."""
    from testutil import PROFILE

    if PROFILE != "sanitize":
        pytest.skip("only meaningful under LOWBIT_TEST_PROFILE=sanitize")
    assert lowbit.cpu_info()["build"]["sanitize"] is True
