"""Legacy sources, asyncio flavour (the sync twins in ``_sync/`` are generated)."""
