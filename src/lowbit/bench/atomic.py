"""The one atomic file writer: a reader (or a crash) never sees a half-written file.

The text goes to a temporary file in the target's folder, is flushed to disk, and replaces the
target with os.replace (atomic on POSIX and Windows). On any failure the old file is untouched
and the temporary file is removed.

Standard library only, and importing nothing of lowbit: scripts that run where lowbit is not
built (ci/asv_history.py on a merge-only machine, lowbit/docker_cli.py run as a file on a
board) load this file by its path with importlib.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """`text` (UTF-8) to `path`, atomically."""
    return write_bytes(path, text.encode("utf-8"))


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """`data` to `path`, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; results are meant to be shared
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_json(path: str | os.PathLike, obj, *, indent: int | None = None,
               sort_keys: bool = False) -> Path:
    """JSON (compact unless `indent`), newline-terminated, written atomically."""
    seps = (",", ":") if indent is None else (",", ": ")
    return write_text(path, json.dumps(obj, indent=indent, separators=seps,
                                       sort_keys=sort_keys) + "\n")

