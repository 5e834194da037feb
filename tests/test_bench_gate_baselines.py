"""`make baseline` writes the gate's baselines through lowbit's one atomic writer
(lowbit/bench/atomic.py): sorted, indented JSON with the schema of each part, no temporary
left behind, and an old baseline kept when its part has nothing new."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("scipy")  # the gate's statistics (the bench extra)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ci"))

from gate import gate  # noqa: E402


def test_refresh_baselines_writes_each_part_atomically(tmp_path, monkeypatch):
    got = {"callgrind": {"counts": {"b": 2, "a": 1}, "kernels": {}},
           "ratios": {"ratios": {"int4:fp32/avx2/8x8x8": [0.5]}, "rounds": 1}}
    monkeypatch.setattr(gate, "measure", lambda opts, log: dict(got, **{"arm-model": None}))
    monkeypatch.setattr(gate, "fingerprint", lambda: {"arch": "x86_64", "machine": "m"})
    paths = gate.baseline_paths(tmp_path)
    paths["arm-model"].write_text('{"old": true}\n')
    said = []
    written = gate.refresh_baselines(gate.Options(baselines=tmp_path), log=said.append)
    assert written == [paths["callgrind"], paths["ratios"]]
    cg = json.loads(paths["callgrind"].read_text())
    assert cg["schema"] == "lowbit-regress-callgrind/1" and cg["counts"] == {"a": 1, "b": 2}
    assert cg["fingerprint"]["machine"] == "m" and cg["date"]
    text = paths["callgrind"].read_text()
    assert text == json.dumps(cg, indent=1, sort_keys=True) + "\n"  # sorted, indent 1
    assert json.loads(paths["ratios"].read_text())["schema"] == "lowbit-regress-ratios/1"
    assert paths["arm-model"].read_text() == '{"old": true}\n'  # nothing new: kept
    assert any("arm-model" in s and "left as it is" in s for s in said)
    assert not list(tmp_path.glob("*.tmp"))
