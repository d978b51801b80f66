"""The Redis backend's asyncio source, which ``scripts/unasync.py`` turns into ``_sync``."""
