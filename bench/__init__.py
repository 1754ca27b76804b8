"""Benchmarks: each prints a table of its figures and writes them as JSON to bench/results/."""
