"""Offline benchmarks (not part of `make test`, not in the image); run from the repository root."""
