"""Helpers of the end-to-end ingest benchmark (benchmarks/bench_ingest.py)."""
