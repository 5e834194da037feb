"""lowbit-accuracy: run the quantization-error and accuracy study."""

from __future__ import annotations

import argparse
import sys

from . import output_paths, run_study


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="lowbit-accuracy", description=__doc__)
    ap.add_argument("--out", default="reports",
                    help="report folder: writes accuracy.md, results/accuracy.json and "
                    "plots/accuracy-ocr-pareto.png (with --quick: accuracy-quick.md, "
                    "results/accuracy-quick.json, plots/accuracy-quick-ocr-pareto.png)")
    ap.add_argument("--quick", action="store_true",
                    help="smaller GEMMs, fewer timing runs, a few OCR lines (CI, tests)")
    args = ap.parse_args(argv)
    result = run_study(args.out, quick=args.quick)
    e2e = result["end_to_end"]["rows"]
    for r in e2e:
        print(f"{r['format']:16s} {r['calibration']:22s} acc {100 * r['accuracy']:6.2f}%"
              f"  {1e3 * r['time_s']:8.1f} ms")
    ocr = result.get("ocr") or {}
    if "skipped" in ocr:
        print(f"PP-OCRv4 study skipped: {ocr['skipped']}")
    for r in ocr.get("rows", []):
        g = next(iter(r["gemm_s"].values()), {}).get("total", float("nan"))
        print(f"ocr {r['format']:16s} {r['calibration']:40s} chars {100 * r['char_accuracy']:6.2f}%"
              f"  lines {100 * r['line_accuracy']:6.2f}%  GEMM {1e3 * g:7.2f} ms")
    paths = output_paths(args.out, args.quick)
    print(f"wrote {paths['md']} and {paths['json']}"
          + (f" and {paths['plot']}" if ocr.get("rows") else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
