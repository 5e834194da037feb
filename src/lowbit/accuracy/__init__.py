"""Quantization-error and accuracy study (docs/quantization.md).

    run_study(out_dir="reports", quick=False) -> dict   # runs it, writes accuracy.md + JSON
    render_markdown(result) -> str                       # the report section as markdown
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .report import render_markdown

__all__ = ["render_markdown", "run_study", "write_atomic"]


def write_atomic(path: Path, text: str) -> None:
    """Write a whole file or nothing: tmp file in the same folder, then os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def run_study(out_dir="reports", *, quick: bool = False) -> dict:
    """Run the study; write <out_dir>/accuracy.md and <out_dir>/results/accuracy.json."""
    from .study import run

    result = run(quick=quick)
    out = Path(out_dir)
    ocr = result.get("ocr") or {}
    if ocr.get("rows"):
        from .report import ocr_pareto_plot

        ocr_pareto_plot(ocr, out / "plots" / "accuracy-ocr-pareto.png")
    write_atomic(out / "results" / "accuracy.json", json.dumps(result, indent=1, default=str))
    write_atomic(out / "accuracy.md", render_markdown(result))
    return result
