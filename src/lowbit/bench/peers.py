"""`lowbit-bench peers`: the driver against the production peers on a catalog suite.

For every shape of the suite and every thread count: lowbit int8 (best tier) against
onnxruntime MatMulInteger and lowbit fp32 against numpy/OpenBLAS, timed by the one paired
interleaved core (lowbit.bench.timing): every round times both sides of a pair back to back,
and each ratio is the median over `repeat` rounds of the per-round ratio, so both sides see
the same load. --x127 draws int8 activations from 0..127, where onnxruntime's AVX2 path
(vpmaddubsw, saturating int16 pair sums) is exact; without it the full 0..255 range is used
and whether onnxruntime's result is exact is printed. Also prints lowbit's thread scaling
(1 thread against each other count, paired in its own interleaved group, for every shape,
flagging those whose one-thread time is >= 200 us) and the per-call cost at M=1, K=N=128.
At more than one thread, each numpy call is followed by a busy wait until OpenBLAS's
spinning workers have parked (settle_s): a user running one library never sees the other's
spinning threads, and lowbit timed inside that window runs at its one-thread speed.
Prints markdown; shapes above --max-gop giga-MACs are skipped (said so in the output).
"""

from __future__ import annotations

import os
import sys

import numpy as np

from . import stats
from .timing import interleaved, openblas_spin_s, paired_ratios, spin, timed

PEER = {"int8": "onnxruntime MatMulInteger", "fp32": "numpy/OpenBLAS"}


def _operands(rng, fmt: str, M: int, N: int, K: int, x127: bool):
    if fmt == "int8":
        return (rng.integers(0, 128 if x127 else 256, (M, K), dtype=np.uint8),
                rng.integers(-128, 128, (K, N), dtype=np.int8))
    if fmt == "fp32":
        return (rng.standard_normal((M, K), dtype=np.float32),
                rng.standard_normal((K, N), dtype=np.float32))
    raise ValueError(f"peers compares int8 and fp32 only, got format {fmt!r}")


def _pair(fmt: str, tier: str, x, w, threads: int):
    """(lowbit call, peer call, note) for one shape, format and thread count."""
    import lowbit

    pw = lowbit.pack_weights(w, fmt, tier=tier)
    mine = lambda: lowbit.matmul(x, pw, threads=threads)  # noqa: E731
    if fmt == "fp32":
        return mine, lambda: x @ w, ""
    from .impls import _ort_session, matmulinteger_model

    sess = _ort_session(matmulinteger_model(w, 0).SerializeToString(), threads)
    feed = {"A": x}
    peer = lambda: sess.run(None, feed)[0]  # noqa: E731
    exact = np.array_equal(peer(), x.astype(np.int64) @ w.astype(np.int64))
    return mine, peer, "ort exact" if exact else "ort NOT exact"


def _scaling(fmt: str, tier: str, x, w, more, repeat: int):
    """(1-thread seconds, [paired speedup at each thread count in more]) of lowbit."""
    import lowbit

    pw = lowbit.pack_weights(w, fmt, tier=tier)
    calls = {t: (lambda t=t: lowbit.matmul(x, pw, threads=t)) for t in (1, *more)}
    spin(settle_s(fmt, max(more)), max(more))  # the peer timed just before may still hold a core
    tm = interleaved({0: calls}, repeat, subsamples=3, warmup_rounds=2, rewarm=True)[0]
    return stats.median(tm[1]), [stats.median(paired_ratios(tm, 1, t)) for t in more]


def settle_s(fmt: str, threads: int) -> float:
    """Busy-wait after a peer's multi-threaded call before timing anything else: OpenBLAS's
    workers spin ~0.1 s after a call (timing.openblas_spin_s), and lowbit's 2-thread call made
    in that window ran at its 1-thread speed. onnxruntime's spin was measured not to matter
    (lowbit int8 2-thread times the same 0 and 50 ms after an onnxruntime call)."""
    return openblas_spin_s() if fmt == "fp32" and threads > 1 else 0.0


def per_call(fn, n: int = 20000, rounds: int = 5) -> float:
    """Fastest over rounds of the mean time of n back-to-back calls."""
    timed(fn, 1000)
    return min(timed(fn, n) for _ in range(rounds))


def main(suite: str = "default", threads=(1, 2), repeat: int = 5, max_gop: float = 20.0,
         tier: str | None = None, x127: bool = False, formats=("int8", "fp32"),
         catalog: str | None = None, shapes=None, out=sys.stdout) -> int:
    formats = list(formats)
    for f in formats:  # before the imports: bad input is a clear error even without the extra
        if f not in PEER:
            raise ValueError(f"peers compares int8 and fp32 only, got format {f!r}")
    from .catalog import load_catalog

    wanted = list(shapes or [])
    shapes = load_catalog(catalog).suite(suite)
    if wanted:  # a few entries of the suite again (e.g. to re-measure one speedup)
        names = [s.name for s in shapes]
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise ValueError(f"no shape {', '.join(map(repr, unknown))} in suite {suite!r}; "
                             f"it has: {', '.join(names)}")
        shapes = [s for s in shapes if s.name in wanted]
    from threadpoolctl import threadpool_limits

    import lowbit

    rng = np.random.default_rng(0)
    tiers = {f: tier or lowbit.tiers(f)[0] for f in formats}
    print(f"CPU: {lowbit.cpu_info()['model']}; load {os.getloadavg()}; suite {suite}; "
          f"int8 activations 0..{127 if x127 else 255}; {repeat} paired rounds\n", file=out)
    print("| shape | MxNxK | fmt | threads | lowbit us | peer us | lowbit/peer speed | note |\n"
          "|---|---|---|---|---|---|---|---|", file=out)
    ratios: dict = {}
    times: dict = {}
    scaling: list = []  # (name, fmt, 1-thread s, paired speedup at each t > 1)
    more = [t for t in threads if t > 1]
    for s in shapes:
        if s.M * s.N * s.K / 1e9 > max_gop:
            print(f"| {s.name} | {s.M}x{s.N}x{s.K} | - | - | - | - | - | skipped "
                  f"(> {max_gop} GMAC) |", file=out)
            continue
        for fmt in formats:
            x, w = _operands(rng, fmt, s.M, s.N, s.K, x127)
            for t in threads:
                mine, peer, note = _pair(fmt, tiers[fmt], x, w, t)
                with threadpool_limits(t, user_api="blas"):
                    tm = interleaved({0: {"lowbit": mine, "peer": peer}}, repeat,
                                     subsamples=3, warmup_rounds=2,
                                     settle={"peer": settle_s(fmt, t)}, settle_threads=t)[0]
                r = stats.median(paired_ratios(tm, "peer", "lowbit"))
                ta, tb = stats.median(tm["lowbit"]), stats.median(tm["peer"])
                ratios.setdefault((fmt, t), []).append((s.name, r))
                times[(s.name, fmt, t)] = ta
                print(f"| {s.name} | {s.M}x{s.N}x{s.K} | {fmt} ({tiers[fmt]}) | {t} | "
                      f"{ta * 1e6:.0f} | {tb * 1e6:.0f} | {r:.2f}x | {note} |", file=out,
                      flush=True)
            if 1 in threads and more:
                scaling.append((s.name, fmt, *_scaling(fmt, tiers[fmt], x, w, more, repeat)))

    print(f"\n| suite | fmt | threads | geomean vs {'/'.join(PEER[f] for f in formats)} | "
          "worst shape | shapes < 0.8x |\n|---|---|---|---|---|---|", file=out)
    for (fmt, t), v in ratios.items():
        worst = min(v, key=lambda p: p[1])
        below = sum(1 for _, r in v if r < 0.8)
        print(f"| {suite} | {fmt} | {t} | {stats.geomean([r for _, r in v]):.2f}x | "
              f"{worst[0]} {worst[1]:.2f}x | {below}/{len(v)} |", file=out)
    if scaling:
        # Thread scaling timed on its own: lowbit at 1 thread and at each other count in one
        # interleaved group (paired, so load bursts cancel), every shape -- the small ones
        # show whether more threads are ever slower, the >= 200 us ones the speedup goal.
        heads = " | ".join(f"{t}-thread speedup" for t in more)
        print(f"\n| shape | fmt | 1-thread us | {heads} | 1-thread >= 200 us |\n"
              f"|---|---|---|{'---|' * len(more)}---|", file=out)
        for name, fmt, t1, sp in scaling:
            print(f"| {name} | {fmt} | {t1 * 1e6:.0f} | "
                  + " | ".join(f"{v:.2f}x" for v in sp)
                  + f" | {'yes' if t1 >= 200e-6 else 'no'} |", file=out)
        for t, col in zip(more, zip(*[sp for *_, sp in scaling])):
            big = [v for (_, _, t1, _), v in zip(scaling, col) if t1 >= 200e-6]
            small = [v for (_, _, t1, _), v in zip(scaling, col) if t1 < 200e-6]
            print(f"\n{t} threads: min speedup over shapes >= 200 us at 1 thread "
                  f"{min(big):.2f}x ({len(big)} shapes)" if big else
                  f"\n{t} threads: no shape >= 200 us at 1 thread", file=out)
            if small:
                print(f"{t} threads: min speedup over smaller shapes {min(small):.2f}x "
                      f"({sum(v < 0.95 for v in small)}/{len(small)} below 0.95x)", file=out)
    for fmt in formats:  # per-call fixed cost: binding + driver set-up dominate at M=1, K=N=128
        x, w = _operands(rng, fmt, 1, 128, 128, True)
        pw = lowbit.pack_weights(w, fmt)
        print(f"\nper-call cost {fmt} M=1 K=N=128: lowbit.matmul "
              f"{per_call(lambda: lowbit.matmul(x, pw)) * 1e6:.2f} us, _core.matmul "
              f"{per_call(lambda: lowbit._core.matmul(x, pw, 0, 1)) * 1e6:.2f} us", file=out)
    print(f"\nload after: {os.getloadavg()}", file=out)
    return 0
