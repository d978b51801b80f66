"""Thin framework adapters: each translates requests and responses, nothing more."""
