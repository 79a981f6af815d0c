"""Benchmarks: run with `make bench` (all) or `make bench BENCH_ARGS="pages"` (one)."""
