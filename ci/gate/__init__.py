"""lowbit's CI regression gate (run through ci/regress.py; see ci/README.md).

Three checks, each robust to a busy machine in its own way:

* callgrind instruction counts of the GEMM driver (deterministic; hard gate),
* in-run speed ratios between formats at the same tier (paired, interleaved; statistical),
* ARM cycle-model figures (deterministic; exact).
"""
