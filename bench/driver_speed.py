"""Driver speed against the production peers, measured interleaved in one process.

    .venv/bin/python bench/driver_speed.py [--suite cnn] [--threads 1,2] [--repeat 5]
        [--max-gop 20] [--tier avx2] [--x127]

For every shape of a catalog suite and every thread count: lowbit int8 (best tier) against
onnxruntime MatMulInteger and lowbit fp32 against numpy/OpenBLAS.  Each ratio is the median
over `repeat` rounds of interleaved best-of-3 timings, so both sides see the same load.
--x127 draws int8 activations from 0..127, where onnxruntime's AVX2 path (vpmaddubsw,
saturating int16 pair sums) is exact; without it the full 0..255 range is used and the
exactness of onnxruntime's result is printed.  Also prints the 2-thread speedup of every
shape whose one-thread time is >= 200 us and the per-call cost at M=1, K=N=128.
Prints markdown.  Shapes above --max-gop giga-MACs are skipped (said so in the output).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys

import numpy as np

import lowbit
from lowbit.bench.catalog import load_catalog
from lowbit.bench.impls import _ort_session, matmulinteger_model

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from headline import best_of  # noqa: E402


def per_call(fn, n: int = 20000, rounds: int = 5) -> float:
    """Best over rounds of the mean time of n back-to-back calls."""
    for _ in range(1000):
        fn()
    return min(best_of(lambda: [fn() for _ in range(n)], 1) / n for _ in range(rounds))


def interleaved(fa, fb, repeat: int):
    """(median time a, median time b, median of tb/ta) over rounds."""
    fa(), fb()
    ta, tb, r = [], [], []
    for _ in range(repeat):
        a, b = best_of(fa), best_of(fb)
        ta.append(a), tb.append(b), r.append(b / a)
    return statistics.median(ta), statistics.median(tb), statistics.median(r)


def geomean(v):
    return math.exp(sum(math.log(x) for x in v) / len(v)) if v else float("nan")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="default")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--max-gop", type=float, default=20.0)
    ap.add_argument("--tier", default=None)
    ap.add_argument("--x127", action="store_true")
    ap.add_argument("--formats", default="int8,fp32")
    args = ap.parse_args(argv)
    from threadpoolctl import threadpool_limits

    threads = [int(t) for t in args.threads.split(",")]
    formats = args.formats.split(",")
    here = os.path.dirname(os.path.abspath(__file__))
    shapes = load_catalog(os.path.join(here, "shapes.toml")).suite(args.suite)
    rng = np.random.default_rng(0)
    print(f"CPU: {lowbit.cpu_info()['model']}; load {os.getloadavg()}; suite {args.suite}; "
          f"int8 activations 0..{127 if args.x127 else 255}\n")
    print("| shape | MxNxK | fmt | threads | lowbit us | peer us | lowbit/peer speed | note |")
    print("|---|---|---|---|---|---|---|---|")
    ratios: dict = {}
    times: dict = {}
    for s in shapes:
        gop = s.M * s.N * s.K / 1e9
        if gop > args.max_gop:
            print(f"| {s.name} | {s.M}x{s.N}x{s.K} | - | - | - | - | - | skipped (> {args.max_gop} GMAC) |")
            continue
        for fmt in formats:
            if fmt == "int8":
                x = rng.integers(0, 128 if args.x127 else 256, (s.M, s.K), dtype=np.uint8)
                w = rng.integers(-128, 128, (s.K, s.N), dtype=np.int8)
                tier = args.tier or lowbit.tiers("int8")[0]
                pw = lowbit.pack_weights(w, "int8", tier=tier)
                model = matmulinteger_model(w, 0).SerializeToString()
            else:
                x = rng.standard_normal((s.M, s.K), dtype=np.float32)
                w = rng.standard_normal((s.K, s.N), dtype=np.float32)
                tier = args.tier or lowbit.tiers("fp32")[0]
                pw = lowbit.pack_weights(w, "fp32", tier=tier)
            for t in threads:
                note = ""
                if fmt == "int8":
                    sess = _ort_session(model, t)
                    feed = {"A": x}
                    peer = lambda: sess.run(None, feed)[0]  # noqa: E731
                    exact = np.array_equal(peer(), x.astype(np.int64) @ w.astype(np.int64))
                    note = "ort exact" if exact else "ort NOT exact"
                    mine = lambda t=t: lowbit.matmul(x, pw, threads=t)  # noqa: E731
                    ta, tb, r = interleaved(mine, peer, args.repeat)
                else:
                    mine = lambda t=t: lowbit.matmul(x, pw, threads=t)  # noqa: E731
                    with threadpool_limits(t, user_api="blas"):
                        ta, tb, r = interleaved(mine, lambda: x @ w, args.repeat)
                ratios.setdefault((fmt, t), []).append((s.name, r))
                times[(s.name, fmt, t)] = ta
                print(f"| {s.name} | {s.M}x{s.N}x{s.K} | {fmt} ({tier}) | {t} | {ta * 1e6:.0f} | "
                      f"{tb * 1e6:.0f} | {r:.2f}x | {note} |", flush=True)

    peer_name = {"int8": "onnxruntime MatMulInteger", "fp32": "numpy/OpenBLAS"}
    print(f"\n| suite | fmt | threads | geomean vs {'/'.join(peer_name[f] for f in formats)} | "
          "worst shape | shapes < 0.8x |\n|---|---|---|---|---|---|")
    for (fmt, t), v in ratios.items():
        worst = min(v, key=lambda p: p[1])
        below = sum(1 for _, r in v if r < 0.8)
        print(f"| {args.suite} | {fmt} | {t} | {geomean([r for _, r in v]):.2f}x | "
              f"{worst[0]} {worst[1]:.2f}x | {below}/{len(v)} |")
    if 1 in threads and 2 in threads:
        print("\n| shape | fmt | 1-thread us | 2-thread speedup |\n|---|---|---|---|")
        for (name, fmt, t), t1 in times.items():
            if t == 1 and t1 >= 200e-6 and (name, fmt, 2) in times:
                print(f"| {name} | {fmt} | {t1 * 1e6:.0f} | {t1 / times[(name, fmt, 2)]:.2f}x |")
    # Per-call fixed cost: M=1, K=N=128 (binding + driver set-up dominate).
    for fmt in formats:
        if fmt == "int8":
            x = rng.integers(0, 128, (1, 128), dtype=np.uint8)
            w = rng.integers(-128, 128, (128, 128), dtype=np.int8)
        else:
            x = rng.standard_normal((1, 128), dtype=np.float32)
            w = rng.standard_normal((128, 128), dtype=np.float32)
        pw = lowbit.pack_weights(w, fmt)
        line = (f"\nper-call cost {fmt} M=1 K=N=128: lowbit.matmul "
                f"{per_call(lambda: lowbit.matmul(x, pw)) * 1e6:.2f} us, _core.matmul "
                f"{per_call(lambda: lowbit._core.matmul(x, pw, 0, 1)) * 1e6:.2f} us")
        print(line)
    print(f"\nload after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
