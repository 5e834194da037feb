"""The GEMM driver (kernels/src/driver.cpp, pack.cpp): partitions, fused corrections,
data-dependent paths, concurrency and the reliability cases of issue 10."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import lowbit
from lowbit import _core
from testutil import SLOW, assert_matches_reference, format_tiers, random_operands

INT_FORMATS = ("int8", "int4", "4.6bit")


def reference(x, w, zx=0, zw=0):
    return (x.astype(np.int64) - zx) @ (w.astype(np.int64) - zw)


# Shapes that force each split of the 2D partition for 1..5 threads: tall-skinny (M split
# only: N is one panel), short-wide (N split only: M is one micro-panel), square (both),
# and shapes whose units do not divide evenly by the thread count.
PARTITION_SHAPES = [
    (3000, 16, 70),     # one N panel: M blocks only
    (1, 3000, 300),     # one row: N panels only
    (6, 2000, 200),     # one micro-panel of the big tile
    (400, 400, 64),     # both
    (517, 93, 301),     # ragged everywhere
    (97, 1037, 129),
    (45, 1100, 40),     # B block in half of L2, rows >= 1024 columns: A-panel-outer order,
                        # kept by an M split up to 4 threads (4 micro-panels); at 5 threads
                        # an N split, BLIS order in its narrower regions
    (30, 3000, 176),    # int8 B block over half of a 1 MB L2: column blocks cut to fit it;
                        # fp32 avx512: K within 5/4 of KC, one depth block
]


@pytest.fixture
def every_split():
    """Small calls normally run on one thread (too little work per thread): lift that cap so
    these shapes take every split of the partition."""
    before = _core.thread_min_macs()
    _core.thread_min_macs(0)
    yield
    _core.thread_min_macs(before)


def test_thread_min_macs_round_trips():
    before = _core.thread_min_macs()
    assert before > 0
    try:
        assert _core.thread_min_macs(12345) == 12345
        assert _core.thread_min_macs() == 12345
    finally:
        _core.thread_min_macs(before)


@pytest.mark.parametrize("fmt,tier", format_tiers())
@pytest.mark.parametrize("M,N,K", PARTITION_SHAPES)
@pytest.mark.parametrize("cap", ["every_split", "default_cap"])
def test_every_partition_is_exact(fmt, tier, M, N, K, cap, request):
    if cap == "every_split":
        request.getfixturevalue("every_split")
    rng = np.random.default_rng(M * 7 + N * 3 + K)
    params = {"act_levels": 25, "weight_levels": 21} if fmt == "4.6bit" else {}
    x, w = random_operands(rng, fmt, M, N, K, **params)
    spec = lowbit.format_spec(fmt, **params)
    zx = 0 if fmt == "fp32" else int(spec.zx_range[1]) // 2 + 1
    zw = 0 if fmt == "fp32" else int(spec.zw_range[0])
    p = lowbit.pack_weights(w, fmt, zero_point=zw, tier=tier, **params)
    first = None
    kept = []  # alive: a freed result's buffer would be reused, hiding rows never written
    for threads in (1, 2, 3, 4, 5):
        c = lowbit.matmul(x, p, zero_point=zx, threads=threads)
        kept.append(c)
        assert_matches_reference(c, x, w, fmt, zx, zw)
        if fmt != "fp32":
            continue
        # fp32: the partition must not change the summation order of any element.
        if first is None:
            first = c
        np.testing.assert_array_equal(c, first)


@pytest.mark.usefixtures("every_split")
@pytest.mark.parametrize("fmt,tier", [ft for ft in format_tiers() if ft[0] != "fp32"])
def test_fused_corrections_zero_points_at_both_ends(fmt, tier):
    """Row, column and offset terms at the extreme zero points, over full and edge tiles and
    over several depth blocks (K beyond any KC)."""
    rng = np.random.default_rng(5)
    params = {"act_levels": 25, "weight_levels": 21} if fmt == "4.6bit" else {}
    spec = lowbit.format_spec(fmt, **params)
    zx_choices = sorted(set(spec.zx_range))
    zw_choices = sorted(set(spec.zw_range))
    for M, N, K in ((13, 37, 5000 if not SLOW else 1500), (64, 64, 64), (1, 20, 3)):
        x, w = random_operands(rng, fmt, M, N, K, **params)
        for zw in zw_choices:
            p = lowbit.pack_weights(w, fmt, zero_point=zw, tier=tier, **params)
            for zx in zx_choices:
                for threads in (1, 3):
                    c = lowbit.matmul(x, p, zero_point=zx, threads=threads)
                    assert_matches_reference(c, x, w, fmt, zx, zw)


def _family_mrs(fmt, tier):
    """(main tile's mr, sorted mrs of its shorter companions) from the registry."""
    mine = [v for v in lowbit.variants() if v.format == fmt and v.tier == tier]
    main = max(v.mr for v in mine)
    return main, sorted({v.mr for v in mine if v.mr < main})


@pytest.mark.usefixtures("every_split")
@pytest.mark.parametrize("fmt,tier", format_tiers())
@pytest.mark.parametrize("b_vs_l2", ["B fits L2", "B beyond L2"])
def test_m_split_with_and_without_l2_blocks_is_exact(fmt, tier, b_vs_l2):
    """M-split calls pack and consume A in L2-sized blocks when all of B fits in L2, and in
    one range per task when it does not: both, on 1..5 threads (a range end once overflowed
    when B did not fit, and every task but the first computed nothing)."""
    l2 = _core.cache_sizes()["l2"] or (1 << 20)
    spec = lowbit.format_spec(fmt)
    bits = {"fp32": 32, "int8": 8}.get(fmt, 4)
    N = 16  # one B panel: the partition is an M split
    K = max(8, int((l2 * (0.25 if b_vs_l2 == "B fits L2" else 1.5)) * 8 // bits // N))
    if SLOW:
        K = min(K, 20000)
    rng = np.random.default_rng(K)
    x, w = random_operands(rng, fmt, 61, N, K)
    zx = 0 if fmt == "fp32" else int(spec.zx_range[1])
    p = lowbit.pack_weights(w, fmt, tier=tier)
    # Every result kept alive: a freed result's buffer is handed to the next call, and rows
    # a call never wrote would still hold the previous call's (right) values.
    kept = [lowbit.matmul(x, p, zero_point=zx, threads=threads) for threads in (1, 2, 3, 5)]
    for c in kept:
        assert_matches_reference(c, x, w, fmt, zx)


@pytest.mark.parametrize("fmt,tier", format_tiers())
def test_tail_rows_run_the_shortest_companion_that_holds_them(fmt, tier):
    """M = q*mr + r (q >= 1): the full micro-panels run the main tile, the last r rows the
    shortest companion tile with mr >= r (none: the main tile, padded)."""
    main, small = _family_mrs(fmt, tier)
    spec = lowbit.format_spec(fmt)
    w = np.zeros((40, 24), dtype=spec.w_dtype)
    p = lowbit.pack_weights(w, fmt, tier=tier)
    for M in range(main, 3 * main + 1):
        head, tail = _core.call_tiles(p, M)
        assert f"_{main}x" in head, (M, head)
        r = M % main
        want = min((m for m in small if m >= r), default=None) if r else None
        if want is None:
            assert tail is None, (M, tail)
        else:
            assert tail is not None and f"_{want}x" in tail, (M, want, tail)
    with pytest.raises(ValueError, match="M must be >= 1"):
        _core.call_tiles(p, 0)


@pytest.mark.usefixtures("every_split")
@pytest.mark.parametrize("fmt,tier", [ft for ft in format_tiers() if ft[0] in ("fp32", "int8")])
def test_in_place_rows_crowding_l1_take_an_8_row_tile(fmt, tier):
    """A read in place by a vector tile (few B panels) with a row stride that is a multiple
    of 2 KB (fp32 K a multiple of 512, int8 of 2048: every row in one or two of L1's 64
    sets): a main tile taller than 8 rows gives way to the family's 8-row in-place tile.
    Other strides, wide calls and calls that pack A (int8 with a weight zero point) keep the
    main tile, as do tiers whose main tile is at most 8 rows or has no in-place form.
    Results exact (fp32: within tolerance, the same bits at every thread count)."""
    main, small = _family_mrs(fmt, tier)
    mine = [v for v in lowbit.variants() if v.format == fmt and v.tier == tier]
    top = next(v for v in mine if v.mr == main)
    eight = any(v.mr == 8 and v.in_place for v in mine)
    can = top.in_place and main > 8 and eight and not tier == "amx"
    unit = 512 if fmt == "fp32" else 2048
    zw = 0 if fmt == "fp32" else 3
    rng = np.random.default_rng(29)
    cases = [(35, unit, 0, True), (64, 2 * unit, 0, True), (35, unit + 16, 0, False),
             (35, unit // 2 + 8, 0, False), (300, unit, 0, False)]
    if fmt != "fp32":
        cases += [(35, unit, zw, False), (64, unit // 2, 0, False)]  # packed A; four sets
    for N, K, zero_w, crowded in cases:
        x, w = random_operands(rng, fmt, 45, N, K)
        p = lowbit.pack_weights(w, fmt, zero_point=zero_w, tier=tier)
        head, tail = _core.call_tiles(p, 45)
        want = 8 if crowded and can else main
        assert f"_{want}x" in head, (N, K, zero_w, head)
        shorter = [m for m in small if 45 % want <= m < want]
        if 45 % want and shorter:
            assert tail is not None and f"_{min(shorter)}x" in tail, (N, K, tail)
        else:
            assert tail is None, (N, K, tail)
        first = None
        for threads in (1, 2, 3):
            c = lowbit.matmul(x, p, threads=threads)
            assert_matches_reference(c, x, w, fmt, 0, zero_w)
            first = c if first is None else first
            np.testing.assert_array_equal(c, first)


@pytest.mark.usefixtures("every_split")
@pytest.mark.parametrize("fmt,tier", format_tiers())
def test_tail_tile_rows_are_exact(fmt, tier):
    """Every remainder r = M % mr, on one and several threads, over several depth blocks
    (K beyond KC and the 16-bit flush period) and at the extreme zero points: the rows the
    companion tile computes are as exact as the others (fp32: the same bits at every thread
    count, and within the K-scaled tolerance)."""
    main, _ = _family_mrs(fmt, tier)
    rng = np.random.default_rng(main)
    spec = lowbit.format_spec(fmt)
    zx = 0 if fmt == "fp32" else int(spec.zx_range[1])
    zw = 0 if fmt == "fp32" else int(spec.zw_range[0])
    N = 37
    for K in (3, 300, 1500 if SLOW else 4500):
        x_all, w = random_operands(rng, fmt, 3 * main, N, K)
        p = lowbit.pack_weights(w, fmt, zero_point=zw, tier=tier)
        for M in range(main + 1, 2 * main + 1):
            x = np.ascontiguousarray(x_all[:M])
            first = None
            for threads in (1, 2, 3):
                c = lowbit.matmul(x, p, zero_point=zx, threads=threads)
                assert_matches_reference(c, x, w, fmt, zx, zw)
                if fmt == "fp32":
                    first = c if first is None else first
                    np.testing.assert_array_equal(c, first)


@pytest.mark.parametrize("fmt,tier", format_tiers())
def test_edge_panels_of_every_width_are_exact(fmt, tier):
    """The last B panel with 1..nr real columns (a half-width edge kernel serves those with
    at most nr/2), on full tiles and tail tiles, full-range and (int8) 7-bit codes."""
    rng = np.random.default_rng(17)
    nr = max(v.nr for v in lowbit.variants() if v.format == fmt and v.tier == tier)
    K = 300
    for N in range(1, 2 * nr + 2):
        x, w = random_operands(rng, fmt, 15, N, K)
        p = lowbit.pack_weights(w, fmt, tier=tier)
        xs = [x, (x >> 1).astype(x.dtype)] if fmt == "int8" else [x]  # 0..127: the 7-bit path
        for xv in xs:
            for M in (1, 6, 15):
                c = lowbit.matmul(np.ascontiguousarray(xv[:M]), p)
                assert_matches_reference(c, xv[:M], w, fmt)


def test_fp32_in_place_a_gives_the_packed_bits(tmp_path):
    """fp32 calls with few B panels read A in place (no packing) on tiers with an in-place
    tile; each element must sum in the packed tile's order: the same bits with the in-place
    path turned off (LOWBIT_F32_DIRECT=0, read once per process, so in a child process)."""
    rng = np.random.default_rng(19)
    shapes = [(600, 16, 300), (37, 100, 1000), (13, 128, 2), (7, 40, 5000), (61, 129, 77),
              (45, 35, 512), (29, 70, 1024)]  # the last two: rows crowding L1 (8-row tile)
    ops = [(rng.standard_normal((M, K), dtype=np.float32),
            rng.standard_normal((K, N), dtype=np.float32)) for M, N, K in shapes]
    np.savez(tmp_path / "ops.npz", *[a for pair in ops for a in pair])
    code = textwrap.dedent(f"""
        import numpy as np, lowbit
        from lowbit import _core
        _core.thread_min_macs(0)
        z = np.load({str(tmp_path / "ops.npz")!r})
        a = [z[f"arr_{{i}}"] for i in range(len(z.files))]
        out = {{}}
        for t in lowbit.tiers("fp32"):
            for i in range(0, len(a), 2):
                p = lowbit.pack_weights(a[i + 1], "fp32", tier=t)
                for threads in (1, 3):
                    out[f"{{t}}_{{i}}_{{threads}}"] = lowbit.matmul(a[i], p, threads=threads)
        np.savez({str(tmp_path)!r} + "/out_" + __import__("os").environ.get("LOWBIT_F32_DIRECT", "1"), **out)
    """)
    import os

    for flag in ("1", "0"):
        subprocess.run([sys.executable, "-c", code], check=True,
                       env={**os.environ, "LOWBIT_F32_DIRECT": flag})
    on, off = np.load(tmp_path / "out_1.npz"), np.load(tmp_path / "out_0.npz")
    assert sorted(on.files) == sorted(off.files) and on.files
    for k in on.files:
        np.testing.assert_array_equal(on[k], off[k], err_msg=k)
        i = int(k.split("_")[-2])
        x, w = ops[i // 2]
        assert_matches_reference(on[k], x, w, "fp32")


def test_blocking_override_keeps_results_exact(tmp_path):
    """LOWBIT_BLOCKING=KC,MC,NC (read once per process, so in a child): tiny blocks force
    many depth blocks, A blocks and B blocks on a small call; every format stays exact and
    fp32 stays within its tolerance.  A malformed value is ignored (computed blocking)."""
    code = textwrap.dedent("""
        import numpy as np, lowbit
        rng = np.random.default_rng(5)
        M, N, K = 37, 70, 300
        for fmt in lowbit.FORMATS:
            spec = lowbit.format_spec(fmt)
            for t in lowbit.tiers(fmt):
                if fmt == "fp32":
                    x = rng.standard_normal((M, K), dtype=np.float32)
                    w = rng.standard_normal((K, N), dtype=np.float32)
                    ref = x.astype(np.float64) @ w.astype(np.float64)
                    c = lowbit.matmul(x, lowbit.pack_weights(w, fmt, tier=t), threads=2)
                    assert np.abs(c - ref).max() <= 1e-5 * K * np.abs(ref).max(), t
                    continue
                (xl, xh), (wl, wh) = spec.x_range, spec.w_range
                x = rng.integers(xl, xh + 1, (M, K)).astype(spec.x_dtype)
                w = rng.integers(wl, wh + 1, (K, N)).astype(spec.w_dtype)
                c = lowbit.matmul(x, lowbit.pack_weights(w, fmt, tier=t), threads=2)
                assert np.array_equal(c, x.astype(np.int64) @ w.astype(np.int64)), (fmt, t)
        print("ok")
    """)
    import os

    for value in ("8,1,1", "64,30,64", "junk"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             cwd=tmp_path, env={**os.environ, "LOWBIT_BLOCKING": value})
        assert out.returncode == 0 and "ok" in out.stdout, (value, out.stderr[-2000:])


def int8_avx2_or_skip():
    if "avx2" not in lowbit.tiers("int8"):
        pytest.skip("no avx2 int8 tier here")


@pytest.mark.usefixtures("every_split")
@pytest.mark.parametrize("where", ["none", "first", "last", "middle"])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_seven_bit_path_boundary(where, threads):
    """Activations 0..127 take the vpmaddubsw path on avx2 (exact only for them); one code
    of 128 anywhere, however late, must send the whole call down the full-range path."""
    int8_avx2_or_skip()
    rng = np.random.default_rng(11)
    M, N, K = 300, 45, 700
    x = rng.integers(0, 128, (M, K), dtype=np.uint8)
    x[rng.random((M, K)) < 0.3] = 127  # many codes at the 7-bit edge
    # The worst case for a saturating int16 pair sum: 127/128 codes times -128 weights.
    w = rng.integers(-128, 128, (K, N), dtype=np.int8)
    w[:, :5] = -128
    if where == "first":
        x[0, 0] = 128
    elif where == "last":
        x[-1, -1] = 128
    elif where == "middle":
        x[M // 2, K // 2] = 255
    x[:, :4] = 127 if where == "none" else x[:, :4]
    p = lowbit.pack_weights(w, "int8", tier="avx2")
    for zx in (0, 127, 128, 255):
        c = lowbit.matmul(x, p, zero_point=zx, threads=threads)
        np.testing.assert_array_equal(c, reference(x, w, zx))


@pytest.mark.usefixtures("every_split")
def test_seven_bit_path_tail_tile():
    """The 7-bit path's tail rows run its own short companion (qu7s8 2-row tile for M = 8 on
    the 6-row tile), exact; one code of 128 in the tail rows sends the call to the full path."""
    int8_avx2_or_skip()
    rng = np.random.default_rng(13)
    w = rng.integers(-128, 128, (2000, 40), dtype=np.int8)
    w[:, :3] = -128
    p = lowbit.pack_weights(w, "int8", tier="avx2")
    head, tail = _core.call_tiles(p, 8, narrow=True)
    assert head.startswith("qu7s8_gemm_6x") and tail.startswith("qu7s8_gemm_2x"), (head, tail)
    for M in (7, 8, 9, 10, 11, 13):
        for hi in (127, 128):
            x = rng.integers(0, 128, (M, 2000), dtype=np.uint8)
            x[rng.random(x.shape) < 0.3] = 127
            x[-1, -1] = hi  # in the tail rows
            for threads in (1, 2):
                np.testing.assert_array_equal(lowbit.matmul(x, p, zero_point=0, threads=threads),
                                              reference(x, w, 0))


@pytest.mark.usefixtures("every_split")
def test_seven_bit_path_small_m_and_gemv():
    int8_avx2_or_skip()
    rng = np.random.default_rng(12)
    w = rng.integers(-128, 128, (1000, 70), dtype=np.int8)
    p = lowbit.pack_weights(w, "int8", tier="avx2")
    for M in (1, 2, 3, 4, 5, 6, 7):
        for hi in (127, 128):
            x = rng.integers(0, hi + 1, (M, 1000), dtype=np.uint8)
            x[:, -1] = hi
            np.testing.assert_array_equal(lowbit.matmul(x, p, zero_point=3), reference(x, w, 3))


@pytest.mark.parametrize("tier", lowbit.tiers("fp32"))
@pytest.mark.parametrize("K", [1, 2, 7, 300, 2001])
def test_fp32_gemv_wide_path_same_bits_as_one_panel(tier, K):
    """M = 1 fp32 runs a several-panel tile (several B streams) on runs of full panels and the
    one-panel tile on the rest: within the bound of the reference, and every column with the
    bits it gets when computed alone (a one-panel pack of just that panel), for every
    thread count (each split of N groups the panels differently)."""
    rng = np.random.default_rng(K)
    N = 16 * 51 + 5  # 51 full panels (groups + leftovers) and an edge panel
    x = rng.standard_normal((1, K), dtype=np.float32)
    w = rng.standard_normal((K, N), dtype=np.float32)
    p = lowbit.pack_weights(w, "fp32", tier=tier)
    alone = np.concatenate([lowbit.matmul(x, lowbit.pack_weights(
        np.ascontiguousarray(w[:, j:j + 16]), "fp32", tier=tier)) for j in range(0, N, 16)],
        axis=1)
    for threads in (1, 2, 3, 4, 5):
        c = lowbit.matmul(x, p, threads=threads)
        assert_matches_reference(c, x, w, "fp32")
        np.testing.assert_array_equal(c, alone)


@pytest.mark.usefixtures("every_split")
@pytest.mark.parametrize("fmt,tier", format_tiers())
def test_concurrent_callers_share_one_packed_weight(fmt, tier):
    """Python threads calling matmul at once (GIL released) on one PackedWeights, each with
    its own activations and thread count, get exact results."""
    rng = np.random.default_rng(13)
    params = {"act_levels": 25, "weight_levels": 21} if fmt == "4.6bit" else {}
    K, N = 300, 90
    _, w = random_operands(rng, fmt, 1, N, K, **params)
    p = lowbit.pack_weights(w, fmt, tier=tier, **params)
    xs = [random_operands(rng, fmt, M, N, K, **params)[0] for M in (1, 7, 150, 401)]
    if fmt == "int8":
        xs.append(rng.integers(0, 128, (250, K), dtype=np.uint8))  # 7-bit path concurrently
    errors = []

    def worker(i):
        try:
            for r in range(4 if SLOW else 12):
                x = xs[(i + r) % len(xs)]
                c = lowbit.matmul(x, p, threads=1 + (i + r) % 3)
                assert_matches_reference(c, x, w, fmt)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors[0]


# ---- reliability ----------------------------------------------------------------------

def test_threads_are_capped_by_pool_and_work():
    """threads=10000 runs on the pool (at most max_threads() workers), with the same result."""
    assert 1 <= _core.max_threads() <= 256
    rng = np.random.default_rng(14)
    x = rng.integers(0, 256, (20000, 64), dtype=np.uint8)
    w = rng.integers(-128, 128, (64, 16), dtype=np.int8)
    p = lowbit.pack_weights(w, "int8")
    before = threading.active_count()
    c = lowbit.matmul(x, p, zero_point=9, threads=10000)
    np.testing.assert_array_equal(c, reference(x, w, 9))
    assert threading.active_count() == before  # pool threads are not Python threads
    with open("/proc/self/status") as f:
        n_threads = next(int(line.split()[1]) for line in f if line.startswith("Threads:"))
    assert n_threads <= _core.max_threads() + 64  # numpy/BLAS and pytest threads aside


@pytest.mark.skipif(SLOW, reason="address-space limits misfire under ASan shadow memory / QEMU")
def test_thread_creation_failure_raises_and_process_survives(tmp_path):
    """Under an address-space limit too small for more worker stacks, a many-thread call
    raises RuntimeError and the process goes on working."""
    code = textwrap.dedent("""
        import resource, numpy as np, lowbit
        from lowbit import _core
        x = np.ones((4000, 256), np.uint8); w = np.ones((256, 512), np.int8)
        p = lowbit.pack_weights(w, "int8")
        ref = lowbit.matmul(x, p)
        with open("/proc/self/status") as f:
            vm = next(int(l.split()[1]) for l in f if l.startswith("VmSize:")) * 1024
        # Room for the call's buffers but not for the workers' stacks (8 MiB each).
        resource.setrlimit(resource.RLIMIT_AS, (vm + (12 << 20), resource.RLIM_INFINITY))
        try:
            lowbit.matmul(x, p, threads=_core.max_threads())
            print("no error")
        except RuntimeError as e:
            print("RuntimeError:", e)
        resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        assert (lowbit.matmul(x, p, threads=1) == ref).all()
        assert (lowbit.matmul(x, p, threads=2) == ref).all()
        print("alive")
    """)
    # From a directory without the source tree (whose src/lowbit/ has no built extension).
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "alive" in r.stdout
    if "no error" in r.stdout:
        pytest.skip("the address-space limit did not stop thread creation here")
    assert "could not start worker thread" in r.stdout


@pytest.mark.parametrize("fmt", ["int8", "fp32"])
def test_huge_threads_and_zero_point_are_value_errors(fmt):
    rng = np.random.default_rng(15)
    x, w = random_operands(rng, fmt, 3, 5, 7)
    p = lowbit.pack_weights(w, fmt)
    for bad in (2**31, 2**63, 2**70):
        with pytest.raises(ValueError, match="threads"):
            lowbit.matmul(x, p, threads=bad)
        with pytest.raises(ValueError, match="zero.point"):
            lowbit.matmul(x, p, zero_point=bad)
        with pytest.raises(ValueError, match="zero.point"):
            lowbit.matmul(x, p, zero_point=-bad)
        with pytest.raises(ValueError, match="zero.point"):
            lowbit.pack_weights(w, fmt, zero_point=bad)
    with pytest.raises(ValueError, match="threads"):
        lowbit.matmul(x, p, threads=0)


@pytest.mark.parametrize("threads", [1, 2])
def test_exact_minus_two_to_the_31_is_accepted(threads):
    """128 * -128 * 131072 = -2^31 exactly: int32 holds it."""
    K = 131072
    x = np.full((2, K), 128, np.uint8)
    w = np.full((K, 3), -128, np.int8)
    p = lowbit.pack_weights(w, "int8")
    c = lowbit.matmul(x, p, threads=threads)
    assert c.dtype == np.int32
    assert (c == -(2**31)).all()
    # One more product and it no longer fits.
    x2 = np.full((1, K + 1), 128, np.uint8)
    p2 = lowbit.pack_weights(np.full((K + 1, 3), -128, np.int8), "int8")
    with pytest.raises(ValueError, match="int32"):
        lowbit.matmul(x2, p2, threads=threads)
    # +2^31 does not fit either: 128 * 128 ... with a zero point making x - zx = -128.
    with pytest.raises(ValueError, match="int32"):
        lowbit.matmul(np.zeros((1, K), np.uint8), p, zero_point=128, threads=threads)


@pytest.mark.usefixtures("every_split")
def test_bad_code_error_names_first_offender_with_threads():
    rng = np.random.default_rng(16)
    x = rng.integers(0, 16, (500, 300), dtype=np.uint8)
    x[123, 45] = 16
    x[400, 2] = 200
    w = rng.integers(0, 16, (300, 40), dtype=np.uint8)
    p = lowbit.pack_weights(w, "int4")
    for threads in (1, 2, 5):
        with pytest.raises(ValueError, match=r"activation code 16 at \[123, 45\]"):
            lowbit.matmul(x, p, threads=threads)


@pytest.mark.usefixtures("every_split")
def test_concurrent_writer_never_gets_an_unchecked_code_multiplied():
    """A Python thread rewriting x during calls: every call either raises the range error or
    returns a result in which every code was valid -- never the wrap-around of an unchecked
    code (the checked codes are the multiplied ones: pack_a's staged copy)."""
    rng = np.random.default_rng(17)
    M, K, N = 600, 512, 16
    w = np.ones((K, N), np.uint8)  # int4 weights of 1: each output is a row sum of x
    p = lowbit.pack_weights(w, "int4")
    x = rng.integers(0, 16, (M, K), dtype=np.uint8)
    stop = threading.Event()

    def writer():
        v = np.uint8(255)
        while not stop.is_set():
            x[:, 100] = v
            x[:, 100] = 15
    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(30 if not SLOW else 5):
            try:
                c = lowbit.matmul(x, p, threads=2)
            except ValueError as e:
                assert "activation code 255" in str(e)
                continue
            # With only valid codes (0..15) every row sum is <= 15 * K.
            assert (c >= 0).all() and (c <= 15 * K).all()
            assert (c == c[:, :1]).all()  # all columns of a row equal
    finally:
        stop.set()
        t.join()


def test_blocking_inputs_are_reported():
    cs = _core.cache_sizes()
    assert set(cs) == {"l1d", "l2", "l3"}
    assert all(v >= 0 for v in cs.values())


def _sysfs_cache(level):
    from pathlib import Path

    for d in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            if int((d / "level").read_text()) == level and (d / "type").read_text().strip() != "Instruction":
                size = (d / "size").read_text().strip()
                return int(size[:-1]) << {"K": 10, "M": 20}[size[-1]] if size[-1] in "KM" else int(size)
        except (OSError, ValueError):
            return None
    return None


def test_cache_sizes_are_the_kernels_view():
    """Where Linux's sysfs lists the caches, the blocking uses its sizes (what lscpu prints),
    not glibc's sysconf (which said L3 = 256 MiB for a 32 MiB L3 on an EPYC guest)."""
    cs = _core.cache_sizes()
    want = {"l1d": _sysfs_cache(1), "l2": _sysfs_cache(2), "l3": _sysfs_cache(3)}
    if None in want.values():
        pytest.skip("no sysfs cache description here")
    assert cs == want


# ---- int8 A read in place: no packing where nothing about a row needs computing first ----

DIRECT_SHAPES = [(31, 32, 27), (32, 32, 64), (33, 40, 70), (95, 64, 288), (1000, 35, 27),
                 (70, 96, 2000), (64, 32, 3100), (29, 16, 61), (45, 49, 130),
                 (60, 300, 1000)]  # > 8 B panels: in place only because the rows spread in L1
# Runnable int8 tiers whose main tile has an in-place form (amx, avx512vnni, avxvnni).
IN_PLACE_INT8 = sorted({v.tier for v in lowbit.variants("int8") if v.runnable and v.in_place})


@pytest.mark.skipif(not IN_PLACE_INT8, reason="no int8 tier with an in-place tile here")
@pytest.mark.usefixtures("every_split")
@pytest.mark.parametrize("M,N,K", DIRECT_SHAPES)
@pytest.mark.parametrize("zx", [0, 77, 255])
def test_int8_in_place_a_is_exact(M, N, K, zx):
    """zw = 0 (no row term): full micro-panels read x in place, the last rows packed; also
    through a strided x (rows wider than K: the loads past K read the next row's bytes, which
    meet B's zero padding), with several depth blocks (K > KC) and narrow last panels (the
    in-place edge kernel)."""
    rng = np.random.default_rng(M + N + K + zx)
    wide = rng.integers(0, 256, (M, K + 45), dtype=np.uint8)
    w = rng.integers(-128, 128, (K, N), dtype=np.int8)
    for tier in IN_PLACE_INT8:
        p = lowbit.pack_weights(w, "int8", tier=tier)
        for x in (np.ascontiguousarray(wide[:, :K]), wide[:, :K]):
            ref = reference(x, w, zx)
            for threads in (1, 2, 3):
                np.testing.assert_array_equal(
                    lowbit.matmul(x, p, zero_point=zx, threads=threads), ref, err_msg=tier)
        # A weight zero point brings a row term back: packed path, same exactness.
        p = lowbit.pack_weights(w, "int8", zero_point=3, tier=tier)
        x = np.ascontiguousarray(wide[:, :K])
        np.testing.assert_array_equal(lowbit.matmul(x, p, zero_point=zx), reference(x, w, zx, 3),
                                      err_msg=tier)


_GUARD_PAGE = r"""
import ctypes, mmap, sys
import numpy as np
import lowbit
M, N, K = map(int, sys.argv[1:4])
page = mmap.PAGESIZE
n = M * K
size = (n + page - 1) // page * page
buf = mmap.mmap(-1, size + page)
base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
libc = ctypes.CDLL(None, use_errno=True)
assert libc.mprotect(ctypes.c_void_p(base + size), ctypes.c_size_t(page), 0) == 0
x = np.frombuffer(buf, np.uint8, count=n, offset=size - n).reshape(M, K)
x[:] = np.random.default_rng(0).integers(0, 256, (M, K), dtype=np.uint8)
w = np.random.default_rng(1).integers(-128, 128, (K, N), dtype=np.int8)
ref = x.astype(np.int64) @ w.astype(np.int64)
for tier in sys.argv[4:]:
    p = lowbit.pack_weights(w, "int8", tier=tier)
    for t in (1, 2):
        assert np.array_equal(lowbit.matmul(x, p, threads=t), ref), tier
print("ok")
"""


@pytest.mark.skipif(not IN_PLACE_INT8, reason="no int8 tier with an in-place tile here")
@pytest.mark.skipif(SLOW, reason="mprotect guard pages misfire under ASan / QEMU")
@pytest.mark.parametrize("M,N,K", [(64, 32, 27), (96, 32, 100), (33, 32, 64), (128, 64, 200),
                                   (28, 16, 13), (42, 35, 7), (64, 300, 200)])
def test_int8_in_place_a_never_reads_past_x(M, N, K, tmp_path):
    """x ends right before an inaccessible page: a load past its end would fault."""
    out = subprocess.run([sys.executable, "-c", _GUARD_PAGE, str(M), str(N), str(K),
                          *IN_PLACE_INT8],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0 and "ok" in out.stdout, (out.returncode, out.stderr[-2000:])
