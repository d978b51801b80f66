"""Reproducible benchmarks (see benchmarks/README.md)."""
