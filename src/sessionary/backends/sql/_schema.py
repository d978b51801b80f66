"""The SQL stores' schema: its version, its tables, and the statements that create it.

The schema is versioned: ``sessionary_schema`` holds one row with the version the tables
have. ``sessionary db init`` creates them and ``sessionary db upgrade`` moves them to
:data:`SCHEMA_VERSION` (both idempotent, serialised by an advisory lock on PostgreSQL and by
SQLite's write lock); a store refuses to run on any other version (see
:func:`check_version`). Rows hold keyed hashes only: storage keys and user index tags
computed by the core, never a raw session or user ID in a key column.

``sessionary_events`` is the audit trail: lifecycle events, appended and never changed,
one row per event under a unique entry ID (the Redis stream entry's ID when
``sessionary audit run`` moved it there), so inserting an entry twice keeps one row.
Version 1 had no such table; ``upgrade`` creates it.
"""

from __future__ import annotations

from sessionary.exceptions import ConfigurationError

__all__ = [
    "SCHEMA_VERSION",
    "TABLES",
    "TENANT_SETTING",
    "TENANT_TABLES",
    "check_version",
    "create_statements",
    "row_security_statements",
]

SCHEMA_VERSION = 2
"""The schema version this release reads and writes (2 added ``sessionary_events``)."""

TABLES = (
    "sessionary_sessions",
    "sessionary_users",
    "sessionary_locks",
    "sessionary_floors",
    "sessionary_events",
    "sessionary_schema",
)
"""Every table the SQL stores own."""

_TABLES = """
CREATE TABLE IF NOT EXISTS sessionary_sessions (
    tenant TEXT NOT NULL DEFAULT '',
    key TEXT NOT NULL,
    digest {blob} NOT NULL,
    nonce {blob} NOT NULL,
    created BIGINT NOT NULL,
    accessed BIGINT NOT NULL,
    idle BIGINT NOT NULL,
    deadline BIGINT NOT NULL,
    version BIGINT NOT NULL,
    user_id TEXT,
    auth_time BIGINT,
    user_key TEXT,
    stamp BIGINT,
    device {blob},
    seal {blob} NOT NULL,
    attributes {blob} NOT NULL,
    ended TEXT,
    gc_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    indexed_until BIGINT,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX IF NOT EXISTS sessionary_sessions_user
    ON sessionary_sessions (tenant, user_key) WHERE indexed_until IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessionary_sessions_due
    ON sessionary_sessions (tenant, expires_at) WHERE ended IS NULL;
CREATE INDEX IF NOT EXISTS sessionary_sessions_gc ON sessionary_sessions (gc_at);
CREATE TABLE IF NOT EXISTS sessionary_users (
    tenant TEXT NOT NULL DEFAULT '',
    user_key TEXT NOT NULL,
    epoch BIGINT,
    forget_at BIGINT,
    PRIMARY KEY (tenant, user_key)
);
CREATE TABLE IF NOT EXISTS sessionary_locks (
    tenant TEXT NOT NULL DEFAULT '',
    key TEXT NOT NULL,
    token {blob} NOT NULL,
    until BIGINT NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE TABLE IF NOT EXISTS sessionary_floors (
    tenant TEXT NOT NULL DEFAULT '',
    cookie_key TEXT NOT NULL,
    floor BIGINT NOT NULL,
    drop_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, cookie_key)
);
CREATE TABLE IF NOT EXISTS sessionary_events (
    tenant TEXT NOT NULL DEFAULT '',
    entry_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    event TEXT NOT NULL,
    fingerprint TEXT,
    user_id TEXT,
    detail TEXT,
    PRIMARY KEY (tenant, entry_id)
);
CREATE INDEX IF NOT EXISTS sessionary_events_user ON sessionary_events (tenant, user_id, at);
CREATE INDEX IF NOT EXISTS sessionary_events_at ON sessionary_events (tenant, at);
CREATE TABLE IF NOT EXISTS sessionary_schema (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL
)
"""


TENANT_TABLES = TABLES[:-1]
"""The tables whose rows carry a tenant (all but ``sessionary_schema``)."""

TENANT_SETTING = "app.current_tenant"
"""The PostgreSQL setting a tenant-scoped store sets in every transaction (``set_config``)."""


def row_security_statements() -> list[str]:
    """PostgreSQL: every tenant table shows and takes only the current tenant's rows.

    ``ENABLE`` and ``FORCE ROW LEVEL SECURITY`` (the owner is bound too; only superusers and
    ``BYPASSRLS`` roles are not, so the application must connect as another role) and one
    policy, ``tenant_isolation``, on ``current_setting('app.current_tenant', true)``. An
    unset or empty setting matches no row at all, never every row. Idempotent.
    """
    statements = []
    for table in TENANT_TABLES:
        statements += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS tenant_isolation ON {table}",
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING (tenant = NULLIF(current_setting('{TENANT_SETTING}', true), '')) "
            f"WITH CHECK (tenant = NULLIF(current_setting('{TENANT_SETTING}', true), ''))",
        ]
    return statements


def create_statements(blob_type: str) -> list[str]:
    """The statements that create version :data:`SCHEMA_VERSION`, in order (idempotent)."""
    text = _TABLES.format(blob=blob_type)
    return [part.strip() for part in text.split(";") if part.strip()]


def check_version(found: int | None, url_hint: str) -> None:
    """Refuse a schema this release does not know, naming the command that fixes it."""
    if found == SCHEMA_VERSION:
        return
    if found is None:
        msg = (
            "the sessionary tables do not exist in this database: "
            f"run `sessionary db init --store {url_hint}` first"
        )
    elif found < SCHEMA_VERSION:
        msg = (
            f"the sessionary schema is at version {found}, this release needs "
            f"{SCHEMA_VERSION}: run `sessionary db upgrade --store {url_hint}`"
        )
    else:
        msg = (
            f"the sessionary schema is at version {found}, newer than this release knows "
            f"({SCHEMA_VERSION}): upgrade sessionary, or check with "
            f"`sessionary db status --store {url_hint}`"
        )
    raise ConfigurationError(msg)
