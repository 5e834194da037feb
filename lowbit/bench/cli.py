"""`lowbit-bench`: run suites, render reports, compare results files, probe peaks."""

from __future__ import annotations

import argparse
import json
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


def _cmd_run(a) -> int:
    from .catalog import load_catalog
    from .runner import run_suite

    catalog = load_catalog(a.catalog)
    out = a.out or str(RESULTS_DIR / f"{a.suite}.json")
    peers = [] if a.peers == "none" else _csv(a.peers)
    doc = run_suite(catalog, a.suite, out, formats=_csv(a.formats), tiers=_csv(a.tiers),
                    threads=a.threads, peers=peers, budget_s=a.budget, repeat=a.repeat,
                    resume=not a.no_resume, progress=not a.no_progress)
    print(f"{len(doc['records'])} cases, {len(doc.get('errors', []))} errors, "
          f"{doc.get('wall_s', 0):.0f} s -> {out}")
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

    da, db = R.load(a.a), R.load(a.b)
    comps, only_a, only_b = compare_docs(da, db, a.alpha, a.threshold)
    md = render(comps, only_a, only_b, a.alpha, a.threshold, a.a, a.b)
    if a.out:
        Path(a.out).write_text(md)
    print(md, end="")
    if a.fail_on_regression and any(c.verdict == REGRESSION for c in comps):
        return 1
    return 0


def _cmd_peak(a) -> int:
    import lowbit

    from .peak import probe
    from .runner import runnable_tiers

    print(json.dumps(probe(runnable_tiers(_csv(a.formats) or lowbit.FORMATS, _csv(a.tiers))),
                     indent=1))
    return 0


def _cmd_fingerprint(a) -> int:
    from .fingerprint import fingerprint

    print(json.dumps(fingerprint(), indent=1))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lowbit-bench", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="measure a suite; results JSON written after every case")
    r.add_argument("--suite", default="default", help="suite from bench/shapes.toml")
    r.add_argument("--formats", help="comma list (default: all of lowbit.FORMATS)")
    r.add_argument("--tiers", help="comma list (default: every runnable tier)")
    r.add_argument("--threads", type=_threads, default=[1], help="comma list, e.g. 1,2")
    r.add_argument("--peers", help="comma list of peers, or 'none' (default: all installed)")
    r.add_argument("--out", help="results JSON (default reports/results/<suite>.json)")
    r.add_argument("--repeat", type=int, help="exact number of samples per case")
    r.add_argument("--budget", type=float, help="seconds of samples per case (adaptive)")
    r.add_argument("--catalog", help="shape catalog (default bench/shapes.toml)")
    r.add_argument("--no-resume", action="store_true", help="start over even if --out is "
                   "an unfinished run of the same setup")
    r.add_argument("--no-progress", action="store_true")
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
    c.add_argument("--alpha", type=float, default=0.05)
    c.add_argument("--threshold", type=float, default=0.05,
                   help="smallest relative change flagged (0.05 = 5%%)")
    c.add_argument("--out", help="also write the markdown here")
    c.add_argument("--fail-on-regression", action="store_true",
                   help="exit 1 when a significant regression is found")
    c.set_defaults(func=_cmd_compare)

    pk = sub.add_parser("peak", help="run the peak probe only")
    pk.add_argument("--formats")
    pk.add_argument("--tiers")
    pk.set_defaults(func=_cmd_peak)

    fp = sub.add_parser("fingerprint", help="print the machine fingerprint")
    fp.set_defaults(func=_cmd_fingerprint)
    return p


def main(argv=None) -> int:
    from .catalog import CatalogError
    from .results import ResultsError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CatalogError, ResultsError, ValueError, FileNotFoundError) as exc:
        print(f"lowbit-bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lowbit-bench: interrupted; finished cases are saved, rerun to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
