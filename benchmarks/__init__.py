"""Benchmark scripts: each prints its figures; `python -m benchmarks` runs them all."""
