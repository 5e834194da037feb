"""Runs under callgrind: one measured lowbit.matmul per case, one named dump per case.

Usage (from callgrind.py): python cg_worker.py CASES.json SHIM.so OUT.json
Only lowbit::gemm is collected (--toggle-collect), so Python, numpy and packing cost nothing;
stats are zeroed before and dumped after the measured call, after one warm-up call so lazily
initialised state is not counted.
"""

import ctypes
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import lowbit
from gate.cases import operands, pack


def main() -> None:
    cases_path, shim_path, out_path = sys.argv[1:4]
    shim = ctypes.CDLL(shim_path)
    shim.gate_dump.argtypes = [ctypes.c_char_p]
    with open(cases_path) as f:
        cases = json.load(f)
    ran = {}
    for case in cases:
        fmt, tier, (M, N, K) = case["format"], case["tier"], case["shape"]
        x, w, zx, zw, params = operands(fmt, M, N, K)
        packed = pack(fmt, tier, w, zw, params)
        lowbit.matmul(x, packed, zero_point=zx)
        shim.gate_zero()
        lowbit.matmul(x, packed, zero_point=zx)
        shim.gate_dump(case["id"].encode())
        ran[case["id"]] = packed.kernel
    with open(out_path, "w") as f:
        json.dump({"on_valgrind": bool(shim.gate_on_valgrind()), "kernels": ran}, f)


if __name__ == "__main__":
    main()
