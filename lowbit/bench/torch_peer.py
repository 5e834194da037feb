"""torch peers, run in worker processes: `torch._int_mm` and fbgemm's quantized linear.

oneDNN reads ONEDNN_MAX_CPU_ISA once, when it initialises, so capping torch's ISA per tier
needs one process per tier: the parent starts `python -m lowbit.bench.torch_peer` with the cap
in its environment and sends it cases as JSON lines on stdin; the worker answers one JSON line
per case on stdout (timings are taken in the worker with the same `measure` as in-process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

# lowbit tier -> oneDNN ISA cap. oneDNN has no scalar path; its lowest x86 ISA stands in.
ONEDNN_ISA = {
    "scalar": "SSE41",
    "avx2": "AVX2",
    "avx512": "AVX512_CORE",
    "avxvnni": "AVX2_VNNI",
    "avx512vnni": "AVX512_CORE_VNNI",
    "amx": "AVX512_CORE_AMX",
}
IMPLS = ("torch-int-mm", "torch-fbgemm")


# ------------------------------------------------------------------ worker side
def _hello() -> dict:
    try:
        import torch
    except ImportError as exc:
        return {"available": False, "reason": f"torch not installed ({exc})"}
    engines = list(torch.backends.quantized.supported_engines)
    return {"available": True, "version": torch.__version__,
            "onednn_isa_cap": os.environ.get("ONEDNN_MAX_CPU_ISA"),
            "quantized_engines": engines, "fbgemm": "fbgemm" in engines}


def _prepare(req: dict):
    import numpy as np
    import torch

    from .impls import Prepared, exact_check
    from .operands import make_operands

    M, N, K, threads = req["M"], req["N"], req["K"], req["threads"]
    torch.set_num_threads(threads)
    op = make_operands("int8", M, N, K)
    if req["impl"] == "torch-int-mm":
        # _int_mm is s8 x s8 -> s32: shift the u8 activations by their zero point (exact).
        x = torch.from_numpy((op.x.astype(np.int16) - op.zero_point_x).astype(np.int8))
        w = torch.from_numpy(op.w)
        return Prepared(lambda: torch._int_mm(x, w).numpy(), None, check=exact_check(op))
    if req["impl"] == "torch-fbgemm":
        torch.backends.quantized.engine = "fbgemm"
        xq = torch._make_per_tensor_quantized_tensor(torch.from_numpy(op.x), 1.0,
                                                     op.zero_point_x)
        wq = torch._make_per_tensor_quantized_tensor(
            torch.from_numpy(np.ascontiguousarray(op.w.T)), 1.0, 0)
        t0 = time.perf_counter()
        packed = torch.ops.quantized.linear_prepack(wq, None)
        pack_s = time.perf_counter() - t0
        out_scale = float(128 * 64 * max(K, 1) ** 0.5)  # keeps requantized outputs in range
        # Output is requantized to u8, so there is no exact result to check.
        return Prepared(lambda: torch.ops.quantized.linear(xq, packed, out_scale, 0), pack_s)
    raise ValueError(f"unknown torch impl {req['impl']!r}")


def _serve(stdin, stdout) -> None:
    import warnings

    from .timing import measure

    warnings.simplefilter("ignore")  # torch's quantized-tensor deprecation notices
    hello = _hello()
    stdout.write(json.dumps(hello) + "\n")
    stdout.flush()
    for line in stdin:
        req = json.loads(line)
        try:
            prep = _prepare(req)
            check = prep.check(prep.fn()) if prep.check else {}
            t = measure(prep.fn, budget_s=req["budget_s"], min_samples=req["min_samples"],
                        max_samples=req["max_samples"], repeat=req.get("repeat"))
            out = {"ok": True, "samples_s": t.samples_s, "inner": t.inner,
                   "warmup_calls": t.warmup_calls, "pack_s": prep.pack_s, "check": check}
        except Exception as exc:  # report, keep serving the other cases
            out = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        stdout.write(json.dumps(out) + "\n")
        stdout.flush()


# ------------------------------------------------------------------ parent side
class TorchWorker:
    """One worker process with torch's ISA capped to `tier` (None: no cap)."""

    def __init__(self, tier: str | None, python: str = sys.executable):
        env = dict(os.environ)
        env.pop("ONEDNN_MAX_CPU_ISA", None)
        if tier is not None:
            env["ONEDNN_MAX_CPU_ISA"] = ONEDNN_ISA[tier]
        self.tier = tier
        # `python -m` puts the working directory first on sys.path; run from the directory the
        # parent imported lowbit from, so the worker gets the same (installed) package and not
        # a source checkout without the compiled extension.
        pkg_parent = Path(__file__).resolve().parents[2]
        self.proc = subprocess.Popen([python, "-m", "lowbit.bench.torch_peer"], env=env,
                                     cwd=pkg_parent, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        line = self.proc.stdout.readline()
        self.hello = json.loads(line) if line else {"available": False,
                                                    "reason": "torch worker did not start"}
        if not self.hello.get("available"):
            self.close()

    def run(self, req: dict) -> dict:
        if self.proc.poll() is not None:
            return {"ok": False, "error": "torch worker exited"}
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        return json.loads(line) if line else {"ok": False, "error": "torch worker crashed"}

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


if __name__ == "__main__":
    _serve(sys.stdin, sys.stdout)
