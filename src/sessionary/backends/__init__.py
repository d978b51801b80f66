"""Store backends: each server a store can live on, in a package of its own.

A backend package holds everything its stores need: the asyncio stores in ``_async/`` and
their generated sync twins in ``_sync/``, with the backend's pure helpers (key layout,
scripts, reply parsing, URL parsing, error mapping) beside them. It builds on
:mod:`sessionary.stores` (the store protocols and shared store logic) and on the sans-IO
core, never the other way round. Applications take the stores from
:mod:`sessionary.stores`; tools that work on a backend's data (the ``sessionary`` command)
use the backend package's public names.

* :mod:`sessionary.backends.redis`: Redis and Valkey, standalone, Sentinel or Cluster.
"""
