"""The asyncio I/O shell: the source of truth that ``scripts/unasync.py`` turns into ``_sync``."""
