"""Micro-benchmarks behind the analysis figures of docs/benchmarks.md (one script each)."""
