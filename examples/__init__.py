"""Runnable example applications, one per framework (each module says how to start it)."""
