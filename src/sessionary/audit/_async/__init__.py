"""The audit mover, asyncio (source of the generated ``_sync`` package)."""
