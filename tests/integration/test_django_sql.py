"""Django's ``SESSIONARY["STORE_URL"]`` names a SQL store as it names Redis."""

from __future__ import annotations

from pathlib import Path

from django.test import override_settings

from sessionary.integrations.django import get_runtime
from sessionary.sansio.ops import LoadStatus
from sessionary.stores import AsyncSQLiteStore, SQLiteStore
from tests.conformance.drivers.django import configure_django
from tests.helpers import Ref

configure_django()


def test_a_sqlite_url_gives_both_sql_stores_on_one_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sessions.db'}"
    setup = SQLiteStore.from_url(url)
    setup.init_schema()  # what `sessionary db init --store URL` does
    setup.close()
    with override_settings(SESSIONARY={"STORE_URL": url}):
        runtime = get_runtime()
        store = runtime.store
        assert isinstance(store, SQLiteStore)
        assert runtime.async_manager is not None
        assert isinstance(runtime.async_manager.store, AsyncSQLiteStore)
        ref = Ref()
        store.create(ref.create({"a": b"\x011"}))
        reader = SQLiteStore.from_url(url)  # the file, not this process, holds the session
        try:
            assert reader.load(ref.load()).status is LoadStatus.FOUND
        finally:
            reader.close()
