"""What differs between the SQL databases the stores run on, and every statement they send.

The statements are written once, with ``?`` placeholders and the few dialect-specific parts
(row locks, the database clock, the binary type) filled in here; a store builds its
:class:`Statements` once. Every statement is parameterised: values never enter SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass

from sessionary.backends.sql._rows import SESSION_COLUMNS

__all__ = ["EVENTS_PER_INSERT", "POSTGRES", "SQLITE", "Dialect", "Statements", "insert_events"]


@dataclass(frozen=True, slots=True)
class Dialect:
    """One database's spelling of the parts that differ."""

    name: str
    blob: str
    """The binary column type."""
    placeholder: str
    """The driver's parameter marker."""
    for_update: str
    """Row lock of a ``SELECT`` (empty where a transaction already holds the write lock)."""
    for_update_of_s: str
    """Row lock of the sessions table (alias ``s``) in a join."""
    skip_locked: str
    """Row lock that skips rows another transaction holds (concurrent sweepers)."""
    now_ms: str
    """The database's clock, in milliseconds since the epoch."""
    has_schema_table: str
    """A query with one row when the ``sessionary_schema`` table exists."""
    schema_lock: str
    """Serialises schema changes of concurrent instances (empty: the write lock does)."""
    greatest: str
    """The larger of two values."""
    writable_ctes: bool
    """Whether one statement can read, touch and delete (a read is then one round trip)."""
    row_security: str = ""
    """A query with one row, true when the sessions table has row-level security (empty: the
    database has none)."""

    def sql(self, text: str) -> str:
        """``text`` with this driver's placeholders."""
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)


SQLITE = Dialect(
    name="sqlite",
    blob="BLOB",
    placeholder="?",
    for_update="",
    for_update_of_s="",
    skip_locked="",
    now_ms="CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
    has_schema_table=(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sessionary_schema'"
    ),
    schema_lock="",
    greatest="MAX",
    writable_ctes=False,
)
"""SQLite: every transaction starts with ``BEGIN IMMEDIATE`` (the write lock), so reads
need no row locks."""

POSTGRES = Dialect(
    name="postgresql",
    blob="BYTEA",
    placeholder="%s",
    for_update=" FOR UPDATE",
    for_update_of_s=" FOR UPDATE OF s",
    skip_locked=" FOR UPDATE SKIP LOCKED",
    now_ms="CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
    has_schema_table="SELECT 1 WHERE to_regclass('sessionary_schema') IS NOT NULL",
    schema_lock="SELECT pg_advisory_xact_lock(7363737369)",  # "sessi" in digits: sessionary's
    greatest="GREATEST",
    writable_ctes=True,
    row_security=(
        "SELECT relrowsecurity FROM pg_class WHERE oid = to_regclass('sessionary_sessions')"
    ),
)
"""PostgreSQL: row locks (``FOR UPDATE``) serialise writers of one session or one user."""

_S = "sessionary_sessions"

_COLUMNS = ", ".join(f"s.{name.strip()}" for name in SESSION_COLUMNS.split(","))
_KEY = "tenant = ? AND key = ?"
_C_COLUMNS = ", ".join(f"c.{name.strip()}" for name in SESSION_COLUMNS.split(","))
_T_KEY = "t.tenant = %(tenant)s AND t.key = %(key)s"
_EXPIRED = "(%(now)s >= t.deadline OR %(now)s >= t.accessed + LEAST(t.idle, %(max_idle)s))"
LOAD_AT_ONCE = (
    f"WITH cur AS (SELECT {_C_COLUMNS}, u.epoch FROM {_S} c "
    "LEFT JOIN sessionary_users u ON u.tenant = c.tenant AND u.user_key = c.user_key "
    "WHERE c.tenant = %(tenant)s AND c.key = %(key)s), "
    f"gone AS (DELETE FROM {_S} t WHERE {_T_KEY} AND (t.gc_at < %(now)s OR "
    f"(t.digest = %(digest)s AND t.ended IS NULL AND {_EXPIRED})) RETURNING 1), "
    f"touched AS (UPDATE {_S} t SET accessed = %(now)s, "
    "gc_at = %(now)s + GREATEST(1, LEAST(%(now)s + LEAST(t.idle, %(max_idle)s), t.deadline) "
    "- %(now)s) + %(linger)s, expires_at = LEAST(t.deadline, %(now)s + t.idle) "
    f"WHERE {_T_KEY} AND t.gc_at >= %(now)s AND t.digest = %(digest)s AND t.ended IS NULL "
    f"AND NOT {_EXPIRED} AND %(now)s - t.accessed >= %(touch_after)s RETURNING 1) "
    "SELECT cur.*, (SELECT COUNT(*) FROM touched) FROM cur"
)
"""PostgreSQL's read: verify, expire (delete) or touch in one statement, one round trip.

The writes re-check their conditions on the row as it is when they run, so a write that
committed meanwhile is never undone; the caller judges the status from ``cur``, the row as
the statement found it (the same rules: :func:`sessionary.sansio.expiry.expiry_status`)."""

_PG_NOW = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
ACQUIRE_AT_ONCE = (
    f"WITH s AS (SELECT 1 FROM {_S} WHERE tenant = %s AND key = %s AND digest = %s), "
    "taken AS (INSERT INTO sessionary_locks (tenant, key, token, until) "
    f"SELECT %s, %s, %s, {_PG_NOW} + %s WHERE EXISTS (SELECT 1 FROM s) "
    "ON CONFLICT (tenant, key) DO UPDATE SET token = excluded.token, until = excluded.until "
    f"WHERE sessionary_locks.until <= {_PG_NOW} RETURNING 1) "
    "SELECT (SELECT COUNT(*) FROM s), (SELECT COUNT(*) FROM taken)"
)
"""PostgreSQL's lock: whether the session (with this digest) exists, and whether the lock
was taken, in one statement."""


class Statements:
    """Every statement a SQL store sends, in one dialect."""

    def __init__(self, d: Dialect) -> None:
        q = d.sql
        self.dialect = d
        self.select_session = q(
            f"SELECT {_COLUMNS}, u.epoch FROM {_S} s LEFT JOIN sessionary_users u "
            "ON u.tenant = s.tenant AND u.user_key = s.user_key "
            f"WHERE s.tenant = ? AND s.key = ?{d.for_update_of_s}"
        )
        self.delete = q(f"DELETE FROM {_S} WHERE {_KEY}")
        self.destroy = q(f"DELETE FROM {_S} WHERE {_KEY} AND digest = ?")
        self.touch = q(f"UPDATE {_S} SET accessed = ?, gc_at = ?, expires_at = ? WHERE {_KEY}")
        self.insert = q(
            f"INSERT INTO {_S} (tenant, key, digest, nonce, created, accessed, idle, deadline, "
            "version, user_id, auth_time, user_key, stamp, device, seal, attributes, ended, "
            "gc_at, expires_at, indexed_until) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?) "
            "ON CONFLICT (tenant, key) DO NOTHING"
        )
        self.write = q(
            f"UPDATE {_S} SET digest = ?, nonce = ?, accessed = ?, deadline = ?, version = ?, "
            "user_id = ?, auth_time = ?, user_key = ?, stamp = ?, device = ?, seal = ?, "
            f"attributes = ?, gc_at = ?, expires_at = ?, indexed_until = ? WHERE {_KEY}"
        )
        self.end = q(
            f"UPDATE {_S} SET ended = ?, attributes = ?, indexed_until = NULL "
            f"WHERE {_KEY} AND user_key = ? AND ended IS NULL"
        )
        self.unindex = q(f"UPDATE {_S} SET indexed_until = NULL WHERE {_KEY}")
        self.tombstone = q(
            f"UPDATE {_S} SET ended = ?, attributes = ?, indexed_until = NULL WHERE {_KEY}"
        )
        self.indexed = q(
            f"SELECT {_COLUMNS} FROM {_S} s WHERE s.tenant = ? AND s.user_key = ? "
            f"AND s.indexed_until IS NOT NULL ORDER BY s.indexed_until, s.key{d.for_update}"
        )
        self.revoke = q(
            f"UPDATE {_S} SET ended = ?, attributes = ?, indexed_until = NULL "
            "WHERE tenant = ? AND user_key = ? AND indexed_until IS NOT NULL "
            "AND ended IS NULL AND key <> ?"
        )
        self.restamp = q(  # the session revoke_user keeps: restamped, and in the index
            f"UPDATE {_S} SET stamp = ?, indexed_until = COALESCE(indexed_until, deadline) "
            f"WHERE {_KEY}"
        )
        self.ensure_user = q(
            "INSERT INTO sessionary_users (tenant, user_key) VALUES (?, ?) "
            "ON CONFLICT (tenant, user_key) DO NOTHING"
        )
        self.lock_user = q(
            "SELECT epoch, forget_at FROM sessionary_users "
            f"WHERE tenant = ? AND user_key = ?{d.for_update}"
        )
        self.epoch = q("SELECT epoch FROM sessionary_users WHERE tenant = ? AND user_key = ?")
        self.set_epoch = q(
            "UPDATE sessionary_users SET epoch = ?, forget_at = ? WHERE tenant = ? AND user_key = ?"
        )
        self.due = q(
            f"SELECT {_COLUMNS} FROM {_S} s WHERE s.tenant = ? AND s.ended IS NULL "
            f"AND s.expires_at <= ? ORDER BY s.expires_at LIMIT ?{d.skip_locked}"
        )
        self.purge = q(
            f"DELETE FROM {_S} WHERE tenant = ? AND key IN "
            f"(SELECT key FROM {_S} WHERE tenant = ? AND gc_at < ? LIMIT ?)"
        )
        self.purge_locks = q("DELETE FROM sessionary_locks WHERE tenant = ? AND until < ?")
        self.purge_users = q(
            "DELETE FROM sessionary_users WHERE tenant = ? AND forget_at IS NOT NULL "
            "AND forget_at < ?"
        )
        self.count_sessions = q(f"SELECT COUNT(*) FROM {_S} WHERE tenant = ?")
        self.count_purgeable = q(f"SELECT COUNT(*) FROM {_S} WHERE tenant = ? AND gc_at < ?")
        self.session_digest = q(f"SELECT digest FROM {_S} WHERE {_KEY}")
        self.acquire = q(
            "INSERT INTO sessionary_locks (tenant, key, token, until) "
            f"VALUES (?, ?, ?, {d.now_ms} + ?) ON CONFLICT (tenant, key) DO UPDATE "
            "SET token = excluded.token, until = excluded.until "
            f"WHERE sessionary_locks.until <= {d.now_ms}"
        )
        self.renew = q(
            f"UPDATE sessionary_locks SET until = {d.now_ms} + ? "
            f"WHERE {_KEY} AND token = ? AND until > {d.now_ms}"
        )
        self.release = q(f"DELETE FROM sessionary_locks WHERE {_KEY} AND token = ?")
        self.holds = q(
            f"SELECT 1 FROM sessionary_locks WHERE {_KEY} AND token = ? AND until > {d.now_ms}"
        )
        self.cookie_state = q(
            "SELECT (SELECT floor FROM sessionary_floors WHERE tenant = ? AND cookie_key = ? "
            "AND drop_at >= ?), (SELECT epoch FROM sessionary_users WHERE tenant = ? "
            "AND user_key = ?)"
        )
        big = d.greatest
        self.pin = q(
            "INSERT INTO sessionary_floors AS f (tenant, cookie_key, floor, drop_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (tenant, cookie_key) DO UPDATE SET "
            f"floor = CASE WHEN f.drop_at < ? THEN excluded.floor "
            f"ELSE {big}(f.floor, excluded.floor) END, "
            f"drop_at = CASE WHEN f.drop_at < ? THEN excluded.drop_at "
            f"ELSE {big}(f.drop_at, excluded.drop_at) END RETURNING floor"
        )
        self.purge_floors = q("DELETE FROM sessionary_floors WHERE tenant = ? AND drop_at < ?")
        events = "SELECT entry_id, at, event, fingerprint, user_id, detail FROM sessionary_events"
        self.user_events = q(
            f"{events} WHERE tenant = ? AND user_id = ? AND at >= ? ORDER BY at, entry_id LIMIT ?"
        )
        self.recent_events = q(f"{events} WHERE tenant = ? ORDER BY at DESC, entry_id DESC LIMIT ?")
        self.events_after = q(
            f"{events} WHERE tenant = ? AND (at > ? OR (at = ? AND entry_id > ?)) "
            "ORDER BY at, entry_id LIMIT ?"
        )
        self.count_events = q("SELECT COUNT(*) FROM sessionary_events WHERE tenant = ?")
        live = f"FROM {_S} WHERE tenant = ? AND ended IS NULL AND expires_at > ?"
        self.census = q(
            f"SELECT (SELECT COUNT(*) {live}), "
            f"(SELECT COUNT(*) {live} AND user_id IS NOT NULL), "
            f"(SELECT COUNT(DISTINCT user_id) {live}), "
            f"(SELECT COUNT(*) FROM {_S} WHERE tenant = ? AND ended IS NOT NULL), "
            f"(SELECT COUNT(*) FROM {_S} WHERE tenant = ? AND gc_at < ?), "
            f"(SELECT COUNT(*) FROM {_S} WHERE tenant = ?), "
            "(SELECT COUNT(*) FROM sessionary_locks WHERE tenant = ? AND until > ?), "
            "(SELECT COUNT(*) FROM sessionary_events WHERE tenant = ?)"
        )
        self.top_users = q(
            f"SELECT user_id, COUNT(*) {live} AND user_id IS NOT NULL "
            "GROUP BY user_id ORDER BY COUNT(*) DESC, user_id LIMIT ?"
        )
        self.forget_tenant = [
            q(f"DELETE FROM {table} WHERE tenant = ?")
            for table in (
                _S,
                "sessionary_users",
                "sessionary_locks",
                "sessionary_floors",
                "sessionary_events",
            )
        ]
        self.now = f"SELECT {d.now_ms}"
        self.read_version = "SELECT version FROM sessionary_schema WHERE id = 1"
        self.write_version = q(
            "INSERT INTO sessionary_schema (id, version) VALUES (1, ?) "
            "ON CONFLICT (id) DO UPDATE SET version = excluded.version"
        )


EVENTS_PER_INSERT = 100
"""Rows one ``INSERT`` into ``sessionary_events`` carries (7 parameters each: within
SQLite's oldest limit of 999 parameters per statement)."""


def insert_events(d: Dialect, rows: int) -> str:
    """An idempotent insert of ``rows`` events: an entry ID already there is skipped."""
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * rows)
    return d.sql(
        "INSERT INTO sessionary_events (tenant, entry_id, at, event, fingerprint, user_id, "
        f"detail) VALUES {values} ON CONFLICT (tenant, entry_id) DO NOTHING"
    )
