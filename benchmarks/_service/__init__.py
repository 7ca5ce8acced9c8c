"""Helpers of benchmarks/bench_service.py: the two-year data set and the load generator."""
