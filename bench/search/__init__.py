"""Search quality and scale benchmarks (python -m bench.search)."""
