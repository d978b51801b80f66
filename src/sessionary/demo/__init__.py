"""The ``sessionary demo`` web application: login form, per-user counter, logout.

A small but real Starlette application on sessionary's ASGI middleware, served by uvicorn.
It runs on the in-process memory store by default and on Redis with
``sessionary demo --store redis://localhost:6379/0 --workers 4``, where every page names the
worker process that served it, so the session is visibly shared across processes.

On Redis it publishes the lifecycle events to the Redis stream ``<prefix>:events`` and keeps
the library's default key prefix, so ``sessionary sessions``, ``events`` and ``stats`` find
the demo's sessions and events with no ``--prefix``.

The application is built by :func:`sessionary.demo.app.create_app` from a
:class:`sessionary.demo.settings.DemoSettings`; uvicorn's worker processes rebuild the same
settings from environment variables (:meth:`DemoSettings.from_environ`).
"""
