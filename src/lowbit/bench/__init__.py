"""Benchmark harness: shape catalog, timing, peers, results files, reports (`lowbit-bench`)."""
