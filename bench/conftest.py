# The benchmark suite's pytest plugin: fingerprint as machine_info, resumable results files
# and progress under `lowbit-bench run` (src/lowbit/bench/plugin.py).
from lowbit.bench.plugin import pytest_benchmark_update_machine_info, pytest_configure  # noqa: F401
