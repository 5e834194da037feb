"""`lowbit-bench`: run suites, render reports, compare results, headline ratios, peers,
roofline."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

RESULTS_DIR = Path("reports") / "results"


def _csv(s: str | None) -> list[str] | None:
    if s is None:
        return None
    return [x.strip() for x in s.split(",") if x.strip()]


def _threads(s: str) -> list[int]:
    try:
        out = [int(x) for x in _csv(s)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"threads must be integers, got {s!r}") from None
    if not out or any(t < 1 for t in out):
        raise argparse.ArgumentTypeError("threads must be >= 1")
    return out


def _positive_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def _number(s: str, accept, what: str) -> float:
    try:
        v = float(s)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and accept(v)):
        raise argparse.ArgumentTypeError(f"expected {what}, got {s!r}")
    return v


def _seconds(s: str) -> float:
    return _number(s, lambda v: v > 0, "a positive, finite number of seconds")


def _probability(s: str) -> float:
    return _number(s, lambda v: 0 < v < 1, "a significance level in (0, 1)")


def _fraction(s: str) -> float:
    return _number(s, lambda v: v >= 0, "a finite fraction >= 0")


def _cmd_run(a) -> int:
    from .catalog import load_catalog
    from .runner import run_suite

    catalog = load_catalog(a.catalog)
    out = a.out or str(RESULTS_DIR / f"{a.suite}.json")
    peers = [] if a.peers == "none" else _csv(a.peers)
    doc = run_suite(catalog, a.suite, out, formats=_csv(a.formats), tiers=_csv(a.tiers),
                    threads=a.threads, peers=peers, budget_s=a.budget, repeat=a.repeat,
                    resume=not a.no_resume, progress=not a.no_progress)
    lb = doc["lowbit"]
    print(f"{len(doc['benchmarks'])} cases measured, {len(lb['skipped'])} skipped, "
          f"{len(lb['errors'])} errors, {lb.get('wall_s', 0):.0f} s -> {out}")
    return 0


def _cmd_report(a) -> int:
    from . import results as R
    from .report import render

    src = a.results or str(RESULTS_DIR / "default.json")
    doc = R.load(src)
    render(doc, a.out, results_path=src, accuracy_md=a.accuracy, plots=not a.no_plots)
    print(f"wrote {a.out}")
    return 0


def _cmd_compare(a) -> int:
    from . import results as R
    from .compare import REGRESSION, compare_docs, render
    from .atomic import write_text

    da, db = R.load(a.a), R.load(a.b)
    comps, only_a, only_b = compare_docs(da, db, a.alpha, a.threshold)
    md = render(comps, only_a, only_b, a.alpha, a.threshold, a.a, a.b)
    if a.out:
        write_text(a.out, md)
    print(md, end="")
    if a.fail_on_regression and any(c.verdict == REGRESSION for c in comps):
        return 1
    return 0


def _cmd_roofline(a) -> int:
    from .roofline import measure

    print(json.dumps(measure(a.threads), indent=1))
    return 0


def _cmd_headline(a) -> int:
    from .headline import main as headline

    return headline(cls=a.cls, repeat=a.repeat, size=a.size)


class _Tee:
    """Writes through to stdout (progress) and keeps the text for --out."""

    def __init__(self):
        self.parts: list[str] = []

    def write(self, s: str) -> int:
        self.parts.append(s)
        return sys.stdout.write(s)

    def flush(self) -> None:
        sys.stdout.flush()


def _cmd_peers(a) -> int:
    from .peers import main as peers

    out = _Tee() if a.out else sys.stdout
    rc = peers(suite=a.suite, threads=a.threads, repeat=a.repeat, max_gop=a.max_gop,
               tier=a.tier, x127=a.x127, formats=_csv(a.formats), catalog=a.catalog,
               shapes=_csv(a.shapes) if a.shapes else None, out=out)
    if a.out:  # whole, or not at all: an interrupted run leaves the previous file
        from .atomic import write_text

        print(f"wrote {write_text(a.out, ''.join(out.parts))}", file=sys.stderr)
    return rc


def _cmd_fingerprint(a) -> int:
    from .fingerprint import fingerprint

    print(json.dumps(fingerprint(), indent=1))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lowbit-bench", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="measure a suite with pytest-benchmark; the results JSON "
                       "is rewritten after every case")
    r.add_argument("--suite", default="default", help="suite from bench/shapes.toml")
    r.add_argument("--formats", help="comma list (default: all of lowbit.FORMATS)")
    r.add_argument("--tiers", help="comma list (default: every runnable tier)")
    r.add_argument("--threads", type=_threads, default=[1], help="comma list, e.g. 1,2")
    r.add_argument("--peers", help="comma list of peers, or 'none' (default: all installed)")
    r.add_argument("--out", help="results JSON (default reports/results/<suite>.json)")
    r.add_argument("--repeat", type=_positive_int, help="exact number of rounds per case")
    r.add_argument("--budget", type=_seconds, help="seconds of rounds per case (adaptive)")
    r.add_argument("--catalog", help="shape catalog (default bench/shapes.toml)")
    r.add_argument("--no-resume", action="store_true", help="do not resume an unfinished "
                   "--out: set it aside as <name>.prev.json and start over")
    r.add_argument("--no-progress", action="store_true", help="plain lines, no progress bar")
    r.set_defaults(func=_cmd_run)

    rep = sub.add_parser("report", help="render markdown + PNG plots from a results file")
    rep.add_argument("results", nargs="?", help="results JSON (default "
                     "reports/results/default.json)")
    rep.add_argument("--out", default="reports/latest.md")
    rep.add_argument("--accuracy", help="accuracy markdown to include (default: accuracy.md "
                     "next to --out, when present)")
    rep.add_argument("--no-plots", action="store_true")
    rep.set_defaults(func=_cmd_report)

    c = sub.add_parser("compare", help="per-case ratios B/A with Mann-Whitney U")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--alpha", type=_probability, default=0.05,
                   help="significance level of Mann-Whitney U (default 0.05)")
    c.add_argument("--threshold", type=_fraction, default=0.05,
                   help="smallest relative change flagged (0.05 = 5%%)")
    c.add_argument("--out", help="also write the markdown here")
    c.add_argument("--fail-on-regression", action="store_true",
                   help="exit 1 when a significant regression is found")
    c.set_defaults(func=_cmd_compare)

    h = sub.add_parser("headline", help="the papers' ratios, paired interleaved timing, under "
                       "one CPU class")
    h.add_argument("--class", dest="cls", help="CPU class (a LOWBIT_MAX_TIER value; default: "
                   "this CPU's, or the cap in LOWBIT_MAX_TIER)")
    h.add_argument("--repeat", type=_positive_int, default=7, help="rounds (default 7)")
    h.add_argument("--size", type=_positive_int, help="M=N=K of the square comparisons "
                   "(default 1024; 256 under the scalar reference)")
    h.set_defaults(func=_cmd_headline)

    pe = sub.add_parser("peers", help="lowbit int8/fp32 against onnxruntime/numpy on every "
                        "shape of a suite, paired interleaved timing")
    pe.add_argument("--suite", default="default", help="suite from bench/shapes.toml")
    pe.add_argument("--threads", type=_threads, default=[1, 2], help="comma list (default 1,2)")
    pe.add_argument("--repeat", type=_positive_int, default=5, help="rounds (default 5)")
    pe.add_argument("--max-gop", type=float, default=20.0,
                    help="skip shapes above this many giga-MACs (default 20)")
    pe.add_argument("--tier", help="lowbit tier (default: the best runnable one per format)")
    pe.add_argument("--x127", action="store_true", help="int8 activations in 0..127, where "
                    "onnxruntime's AVX2 path is exact")
    pe.add_argument("--formats", default="int8,fp32", help="comma list of int8, fp32")
    pe.add_argument("--catalog", help="shape catalog (default bench/shapes.toml)")
    pe.add_argument("--shapes", help="comma list of shape names: only these of the suite")
    pe.add_argument("--out", help="also write the markdown to this file (atomically, when the "
                    "run is complete)")
    pe.set_defaults(func=_cmd_peers)

    rf = sub.add_parser("roofline", help="run the roofline probes only (peaks, bandwidth)")
    rf.add_argument("--threads", type=_threads, default=[1])
    rf.set_defaults(func=_cmd_roofline)

    fp = sub.add_parser("fingerprint", help="print the machine fingerprint")
    fp.set_defaults(func=_cmd_fingerprint)
    return p


def main(argv=None) -> int:
    from .catalog import CatalogError
    from .results import ResultsError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CatalogError, ResultsError, ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"lowbit-bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lowbit-bench: interrupted; finished cases are saved, rerun to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
