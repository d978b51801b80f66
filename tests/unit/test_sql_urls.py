"""SQL store URLs, parsed without I/O: libpq's part, the pool's options, SQLite paths."""

from __future__ import annotations

import pytest

from sessionary.backends.sql import async_sql_store_from_url, is_sql_url, sql_store_from_url
from sessionary.backends.sql._urls import parse_postgres_url, parse_sqlite_url
from sessionary.exceptions import ConfigurationError


def test_postgres_urls_keep_libpq_parameters_and_take_the_pool_options() -> None:
    target = parse_postgres_url(
        "postgresql://app:hunter2@db.internal:6432/app?sslmode=require&pool_min=2"
        "&pool_max=20&pool_timeout=2.5&schema=sessions&application_name=web"
    )
    assert target.conninfo == (
        "postgresql://app:hunter2@db.internal:6432/app?sslmode=require&application_name=web"
    )
    assert (target.min_size, target.max_size, target.timeout_s) == (2, 20, 2.5)
    assert target.schema == "sessions"
    assert target.display == "postgresql://app@db.internal:6432/app"  # no password
    assert "hunter2" not in repr(target)
    assert parse_postgres_url("postgres://h/db").conninfo == "postgresql://h/db"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://h/db", "starts with postgresql://"),
        ("postgresql://h/db?pool_max=many", "bad pool option"),
    ],
)
def test_bad_postgres_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_postgres_url(url)


def test_sqlite_urls_name_relative_and_absolute_files() -> None:
    assert parse_sqlite_url("sqlite:///demo.db") == "demo.db"
    assert parse_sqlite_url("sqlite:////var/lib/app/s.db") == "/var/lib/app/s.db"
    for bad in ("sqlite://host/demo.db", "sqlite:///", "postgresql:///x"):
        with pytest.raises(ConfigurationError):
            parse_sqlite_url(bad)


def test_the_factory_knows_sql_urls_only() -> None:
    assert is_sql_url("sqlite:///x.db")
    assert is_sql_url("POSTGRESQL://h/db")
    assert not is_sql_url("redis://h/0")
    for build in (sql_store_from_url, async_sql_store_from_url):
        with pytest.raises(ConfigurationError, match="not a SQL store URL"):
            build("redis://h/0")
    store = sql_store_from_url("postgresql://u:pw@127.0.0.1:1/db")  # connects nothing yet
    assert "pw" not in repr(store)
    store.close()
