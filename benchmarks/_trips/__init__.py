"""Helpers of bench_trips.py."""
