"""Reproducible benchmarks; `python -m bench.run` (or `make bench`) rewrites docs/BENCHMARKS.md."""
