#!/usr/bin/env python3
"""lowbit regression gate (ci/README.md).

  python ci/regress.py run       [--only callgrind,ratios,arm-model]
  python ci/regress.py baseline  [--only ...]          # overwrite ci/baselines/ on purpose

The history of these measurements across commits and machines is kept by asv
(ci/asv_history.py: `make history`, `make dashboard`).

Run it with the interpreter that has lowbit installed (.venv/bin/python), from anywhere: it is
run as a script, and the package's source lives in src/lowbit, so only the installed lowbit
(with its C++ extension) is imported.
Exit status: 0 pass (warnings allowed), 1 a check failed, 2 the gate could not run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gate import gate
from gate.callgrind import CallgrindUnavailable


def _opts(args) -> gate.Options:
    parts = tuple(p for p in args.only.split(",") if p) if args.only else gate.PARTS
    unknown = set(parts) - set(gate.PARTS)
    if unknown:
        raise SystemExit(f"unknown part(s) {sorted(unknown)}; choose from {gate.PARTS}")
    opts = gate.Options(parts=parts, rounds=args.rounds)
    if args.baselines:
        opts.baselines = Path(args.baselines)
    return opts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("run", "baseline"):
        p = sub.add_parser(name)
        p.add_argument("--only", help="comma-separated parts: callgrind,ratios,arm-model")
        p.add_argument("--rounds", type=int, default=101, help="interleaved rounds per ratio")
        p.add_argument("--baselines", help="baseline directory (default ci/baselines)")
    args = ap.parse_args(argv)
    opts = _opts(args)
    try:
        if args.cmd == "baseline":
            for path in gate.refresh_baselines(opts):
                print(f"wrote {path}")
            return 0
        verdict, _ = gate.run(opts)
    except CallgrindUnavailable as exc:
        print(f"regress: cannot run callgrind: {exc}", file=sys.stderr)
        return 2
    if opts.summary and opts.summary.exists():
        print(opts.summary.read_text())
    print(f"regress: {verdict}")
    return 1 if verdict == "FAIL" else 0


if __name__ == "__main__":
    sys.exit(main())
