"""JSON files of the gate (baselines, history): atomic writes, stable formatting."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_json(path, doc) -> None:
    """Write so that a reader, or a crash, never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_json(path):
    with open(path) as f:
        return json.load(f)
