"""The SQL stores' asyncio source (the ``_sync`` twins are generated from it)."""
