"""Legacy source: Django's own ``db`` and ``cached_db`` session backends (signed JSON).

For a Django project moving from ``django.contrib.sessions`` to sessionary's adapter: the
old rows are read through Django's ORM (``django_session``: ``session_key``,
``session_data``, ``expire_date``) and their data is verified with the *old* secret, the
way Django wrote it: ``signing.dumps`` with the salt ``django.contrib.sessions.SessionStore``
and the JSON serializer (Django 5 has no other). ``cached_db`` keeps the same rows plus a
cache copy, which :meth:`DjangoDbSource.delete` removes too. Pickled sessions (Django's
pure ``cache`` backend with a pickling cache) are not read.

Give it to :class:`~sessionary.LegacyMigration` (sync views) or, through
:class:`AsyncDjangoDbSource`, to :class:`~sessionary.AsyncLegacyMigration`, with
``user_id=lambda data: data.get("_auth_user_id")``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from asgiref.sync import sync_to_async
from django.core import signing

from sessionary.exceptions import MigrationError
from sessionary.integrations.django.legacy_cache import DjangoCacheSource
from sessionary.sansio.migration import LegacySession, Scanned

__all__ = ["AsyncDjangoDbSource", "DjangoDbSource"]

SALT = "django.contrib.sessions.SessionStore"
"""The salt Django's ``db`` and ``cached_db`` stores sign ``session_data`` with."""
CACHED_DB_PREFIX = "django.contrib.sessions.cached_db"
"""Django's cache key prefix of ``cached_db`` sessions."""
_SESSION_KEY = re.compile(r"[a-z0-9]{8,40}")  # Django's get_random_string(32, a-z0-9)


class DjangoDbSource:
    """Sessions of Django's ``db`` (or ``cached_db``) backend, read with Django's ORM.

    ``secret_keys``: the old ``SECRET_KEY`` first, then its ``SECRET_KEY_FALLBACKS``; a row
    signed with none of them is not migrated (``MigrationError``, reported in the event).
    ``cache_alias``: the ``SESSION_CACHE_ALIAS`` of a ``cached_db`` setup, whose cache copy
    is deleted with the row (``None`` for ``db``).
    """

    name = "django-db"

    def __init__(
        self,
        secret_keys: Sequence[str],
        *,
        cookie_name: str = "sessionid",
        cache_alias: str | None = None,
    ) -> None:
        if not secret_keys:
            msg = "secret_keys needs the old SECRET_KEY"
            raise ValueError(msg)
        self._keys: list[str | bytes] = list(secret_keys)
        self.cookie_name = cookie_name
        self.cache_alias = cache_alias

    def __repr__(self) -> str:
        return f"{type(self).__name__}(cookie_name={self.cookie_name!r})"

    def identify(self, cookie_value: str) -> str | None:
        """The session key the cookie carries, when it has Django's form."""
        return cookie_value if _SESSION_KEY.fullmatch(cookie_value) else None

    def decode(self, session_data: str) -> dict[str, Any]:
        """Verify and decode one row's ``session_data`` with the old secrets."""
        try:
            data = signing.loads(
                session_data, key=self._keys[0], salt=SALT, fallback_keys=self._keys[1:]
            )
        except signing.BadSignature as exc:
            msg = "django session: signed with another secret or corrupt"
            raise MigrationError(msg) from exc
        except (ValueError, RecursionError) as exc:  # not JSON, not zlib, nested too deep
            msg = "django session: not signed JSON"
            raise MigrationError(msg) from exc
        if not isinstance(data, dict):
            msg = "django session: the data is not a mapping"
            raise MigrationError(msg)
        data.pop("_session_expiry", None)  # Django's own; the row's expire_date is kept
        return data

    def read(self, legacy_id: str) -> LegacySession | None:
        """The unexpired row of ``legacy_id``, decoded; ``None`` when there is none."""
        from django.contrib.sessions.models import Session  # noqa: PLC0415 - apps loaded
        from django.utils import timezone  # noqa: PLC0415

        row = Session.objects.filter(session_key=legacy_id, expire_date__gt=timezone.now())
        found = row.values_list("session_data", "expire_date").first()
        if found is None:
            return None
        session_data, expire_date = found
        expires_at = int(expire_date.timestamp() * 1000)
        return LegacySession(legacy_id, self.decode(session_data), expires_at)

    def page(self, after: str, batch: int) -> list[Scanned]:
        """Up to ``batch`` unexpired rows whose key sorts after ``after``, decoded."""
        from django.contrib.sessions.models import Session  # noqa: PLC0415
        from django.utils import timezone  # noqa: PLC0415

        rows = (
            Session.objects.filter(session_key__gt=after, expire_date__gt=timezone.now())
            .order_by("session_key")
            .values_list("session_key", "session_data", "expire_date")[:batch]
        )
        return [self.scanned(key, data, expire_date) for key, data, expire_date in rows]

    def scanned(self, key: str, session_data: str, expire_date: dt.datetime) -> Scanned:
        """One row of a page: its session decoded, or why it does not decode."""
        try:
            data = self.decode(session_data)
        except MigrationError as exc:
            return key, exc
        return key, LegacySession(key, data, int(expire_date.timestamp() * 1000))

    def scan(self, batch: int = 500) -> Iterator[Scanned]:
        """Every unexpired session, ``batch`` rows at a time (for the bulk copy)."""
        after = ""
        while page := self.page(after, batch):
            yield from page
            after = page[-1][0]

    def delete(self, legacy_id: str) -> None:
        """Delete the row (and the ``cached_db`` cache copy)."""
        from django.contrib.sessions.models import Session  # noqa: PLC0415

        Session.objects.filter(session_key=legacy_id).delete()
        if self.cache_alias is not None:
            from django.core.cache import caches  # noqa: PLC0415

            caches[self.cache_alias].delete(CACHED_DB_PREFIX + legacy_id)


class AsyncDjangoDbSource:
    """:class:`DjangoDbSource` (or :class:`~.legacy_cache.DjangoCacheSource`) for asyncio.

    The ORM calls run in Django's thread (``sync_to_async``), as Django's own async session
    methods do.
    """

    name = DjangoDbSource.name

    def __init__(self, source: DjangoDbSource | DjangoCacheSource) -> None:
        self.source = source
        self.name = source.name
        self.cookie_name = source.cookie_name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r})"

    def identify(self, cookie_value: str) -> str | None:
        """The session key the cookie carries (see :meth:`DjangoDbSource.identify`)."""
        return self.source.identify(cookie_value)

    async def read(self, legacy_id: str) -> LegacySession | None:
        """See :meth:`DjangoDbSource.read`."""
        return await sync_to_async(self.source.read)(legacy_id)

    async def scan(self, batch: int = 500) -> AsyncIterator[Scanned]:
        """See :meth:`DjangoDbSource.scan` (or :meth:`.legacy_cache.DjangoCacheSource.scan`).

        Each page is read in Django's thread.
        """
        source = self.source
        if isinstance(source, DjangoCacheSource):
            cursor = None
            while cursor != 0:
                cursor, found = await sync_to_async(source.page)(cursor or 0, batch)
                for item in found:
                    yield item
            return
        after = ""
        while page := await sync_to_async(source.page)(after, batch):
            for item in page:
                yield item
            after = page[-1][0]

    async def delete(self, legacy_id: str) -> None:
        """See :meth:`DjangoDbSource.delete`."""
        await sync_to_async(self.source.delete)(legacy_id)
