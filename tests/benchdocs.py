"""Synthetic pytest-benchmark results documents with known numbers (bench tests' helper)."""

from __future__ import annotations

from lowbit.bench import results as R
from lowbit.bench.cases import case_id

AVX2 = {"name": "avx2", "features": ["avx2", "fma"], "int8_dot_product": False,
        "kernels": {"fp32": "avx2", "int8": "avx2", "int4": "avx2", "4.6bit": "avx2"}}
SCALAR = {"name": "scalar", "features": [], "int8_dot_product": False,
          "kernels": {"fp32": "scalar", "int8": "scalar", "int4": "scalar", "4.6bit": "scalar"}}
# A VNNI CPU: under avx512vnni fp32 has only its avx512 kernel.
VNNI = {"name": "avx512vnni", "int8_dot_product": True,
        "features": ["avx2", "avx512bw", "avx512f", "avx512vl", "avx512vnni", "fma"],
        "kernels": {"fp32": "avx512", "int8": "avx512vnni", "int4": "avx512vnni",
                    "4.6bit": "avx512vnni"}}
AVX512 = {"name": "avx512", "int8_dot_product": False,
          "features": ["avx2", "avx512bw", "avx512f", "avx512vl", "fma"],
          "kernels": {"fp32": "avx512", "int8": "avx512", "int4": "avx512", "4.6bit": "avx512"}}


def classes(*cls, papers="avx2"):
    return {"this_cpu": cls[0]["name"], "classes": list(cls), "reference": "scalar",
            "papers_class": papers}


def bench(impl, fmt, tier, M, N, K, gops, *, threads=1, shape="s", group="g", n=5, **extra):
    t = 2 * M * N * K / (gops * 1e9)
    return {
        "group": f"{shape} t{threads}", "name": f"test_gemm[{case_id(impl, fmt, tier, M, N, K, threads)}]",
        "fullname": "bench/test_gemm.py::test_gemm", "params": None, "param": None,
        "options": {},
        "extra_info": {"case": case_id(impl, fmt, tier, M, N, K, threads), "impl": impl,
                       "format": fmt, "tier": tier, "M": M, "N": N, "K": K, "threads": threads,
                       "ops": 2 * M * N * K, "shapes": [shape], "groups": [group],
                       "pack_s": 1e-3, **extra},
        "stats": {"min": t, "max": t, "mean": t, "stddev": 0.0, "rounds": n, "median": t,
                  "iqr": 0.0, "q1": t, "q3": t, "iterations": 1, "data": [t] * n},
    }


def doc(benchmarks, cls=None, roofline=None, suite="default", complete=True, **machine):
    fp = {"cpu_model": "Fake CPU 9000", "isa_flags": ["avx2", "fma"], "cores": 2,
          "commit": "abc123", "versions": {"numpy": "2.0"},
          "classes": cls or classes(AVX2, SCALAR), **machine}
    options = {"formats": ["fp32", "int8", "int4", "4.6bit"], "threads": [1], "budget_s": 0.1,
               "repeat": None, "min_rounds": 5, "min_round_s": 0.002, "warmup_iterations": 20,
               "peers": ["numpy", "torch-fbgemm"], "tiers": {}}
    plan = [dict(b["extra_info"], id=b["extra_info"]["case"], process="main")
            for b in benchmarks]
    d = R.new_doc(suite, options, plan, fp)
    d["benchmarks"] = list(benchmarks)
    d["lowbit"]["complete"] = complete
    d["lowbit"]["roofline"] = {"start": roofline} if roofline else {}
    return d
