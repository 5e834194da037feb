"""Quantization-error and accuracy study (docs/quantization.md).

    run_study(out_dir="reports", quick=False) -> dict   # runs it, writes the report + JSON
    render_markdown(result) -> str                       # the report section as markdown
    output_paths(out_dir, quick) -> dict                 # where run_study writes

The full run writes <out>/accuracy.md, <out>/results/accuracy.json and
<out>/plots/accuracy-ocr-pareto.png; the quick run (CI, `make bench SUITE=quick`) writes the
same names with "-quick" (accuracy-quick.md, results/accuracy-quick.json,
plots/accuracy-quick-ocr-pareto.png), so it never replaces the committed full report.
"""

from __future__ import annotations

import json
from pathlib import Path

from lowbit.bench.atomic import write_text

from .report import render_markdown

__all__ = ["output_paths", "render_markdown", "run_study"]


def output_paths(out_dir="reports", quick: bool = False) -> dict[str, Path]:
    """{"md", "json", "plot"}: the files run_study writes for a full or a quick run."""
    out = Path(out_dir)
    tag = "accuracy-quick" if quick else "accuracy"
    return {"md": out / f"{tag}.md", "json": out / "results" / f"{tag}.json",
            "plot": out / "plots" / f"{tag}-ocr-pareto.png"}


def run_study(out_dir="reports", *, quick: bool = False) -> dict:
    """Run the study; write its markdown, JSON and OCR plot (output_paths(out_dir, quick))."""
    from .study import run

    result = run(quick=quick)
    paths = output_paths(out_dir, quick)
    ocr = result.get("ocr") or {}
    if ocr.get("rows"):
        from .report import ocr_pareto_plot

        ocr["plot"] = paths["plot"].relative_to(paths["md"].parent).as_posix()
        ocr_pareto_plot(ocr, paths["plot"])
    write_text(paths["json"], json.dumps(result, indent=1, default=str) + "\n")
    write_text(paths["md"], render_markdown(result))
    return result
