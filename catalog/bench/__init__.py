"""Search quality and scale benchmarks (python -m catalog.bench)."""
