"""Lua scripts for users and locks, shared by the sync and async stores.

Each script touches the keys of one hash slot only: a session hash with its lock, or a
user's index with its epoch, or a sealed cookie session's floor (the expiry sweeper's
scripts are in :mod:`sessionary.backends.redis._sweep`). Work spanning slots (revoking
every session of a user, listing devices) is done by the store as a sequence of such
idempotent single-slot steps, grouped per node by redis-py's pipelines.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any, NamedTuple

from sessionary.backends.redis._layout import (
    DEVICE_FIELD,
    ENDED_FIELD,
    LUA_COMMON,
    META_FIELD,
    SEAL_FIELD,
    STAMP_FIELD,
    USER_FIELD,
    USER_KEY_FIELD,
    Script,
    meta_from_fields,
)
from sessionary.sansio.ops import RecordMeta

__all__ = [
    "END_SCRIPT",
    "INDEX_ADD_SCRIPT",
    "PIN_COOKIE_SCRIPT",
    "RELEASE_LOCK_SCRIPT",
    "RENEW_LOCK_SCRIPT",
    "RESTAMP_SCRIPT",
    "REVOKE_SCRIPT",
    "SESSION_META_FIELDS",
    "USER_SCRIPTS",
    "SessionRecord",
    "cookie_floor_key",
    "due_bucket",
    "parse_session_meta",
    "parse_session_record",
]

END_SCRIPT = Script.of(
    "end",
    LUA_COMMON
    + """
-- KEYS[1] session hash; ARGV: user tag, reason. Reply: 1 ended | 0 not a live session of his
-- Turns the record into a tombstone (metadata, tag and reason only) that keeps its TTL, so
-- the client's next request learns why it was signed out.
local m = redis.call('HGET', KEYS[1], META_FIELD)
if not unpack_meta(m) or redis.call('HGET', KEYS[1], TAG_FIELD) ~= ARGV[1] then return 0 end
if redis.call('HEXISTS', KEYS[1], ENDED_FIELD) == 1 then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], META_FIELD, m, TAG_FIELD, ARGV[1], ENDED_FIELD, ARGV[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
""",
)

RESTAMP_SCRIPT = Script.of(
    "restamp",
    LUA_COMMON
    + """
-- KEYS[1] session hash; ARGV: user tag, new stamp. Reply: 1 | 0
-- Keeps one session alive across revoke_user(keep_current=...): stamped after the epoch.
if redis.call('HGET', KEYS[1], TAG_FIELD) ~= ARGV[1] then return 0 end
if redis.call('HEXISTS', KEYS[1], ENDED_FIELD) == 1 then return 0 end
redis.call('HSET', KEYS[1], string.char(255) .. 'e', ARGV[2])
return 1
""",
)

REVOKE_SCRIPT = Script.of(
    "revoke",
    """
-- KEYS[1] user index, KEYS[2] user epoch; ARGV: now, storage key to keep or '',
--   horizon ms or '' (no session stamped before now outlives it: the epoch may expire then)
-- Moves the epoch to max(epoch, now) — from then on every session stamped before is dead —
-- and empties the index but for the kept entry. Reply: the storage keys removed.
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
local now = tonumber(ARGV[1])
local ttl = redis.call('PTTL', KEYS[2])
if now > current then redis.call('SET', KEYS[2], ARGV[1]) end
if ARGV[3] ~= nil and ARGV[3] ~= '' then
  local horizon = tonumber(ARGV[3])
  if ttl == -1 and now <= current then horizon = -1 end  -- kept forever before: keep it so
  if horizon > 0 then redis.call('PEXPIRE', KEYS[2], math.max(horizon, ttl)) end
else
  redis.call('PERSIST', KEYS[2])
end
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local removed = {}
for _, member in ipairs(members) do
  if member ~= ARGV[2] then
    redis.call('ZREM', KEYS[1], member)
    removed[#removed + 1] = member
  end
end
return removed
""",
)

INDEX_ADD_SCRIPT = Script.of(
    "index_add",
    """
-- KEYS[1] user index; ARGV: now, storage key, score. Prunes entries past their deadline.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(top[2]) - tonumber(ARGV[1])))
return 1
""",
)

LOCK_SCRIPT = Script.of(
    "lock",
    LUA_COMMON
    + """
-- KEYS[1] session hash, KEYS[2] its lock (same slot); ARGV: digest, token, lease ms
-- Reply: 1 taken | 0 busy | -1 no session with this validator (nothing to lock: a stale or
-- stolen ID must never hold the lock of the session it no longer names)
local m = unpack_meta(redis.pcall('HGET', KEYS[1], META_FIELD))
if not m or m.digest ~= ARGV[1] then return -1 end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return 1 end
return 0
""",
)

RELEASE_LOCK_SCRIPT = Script.of(
    "release_lock",
    """
-- KEYS[1] lock; ARGV: token. Compare-and-delete. Reply: 1 released | 0 not ours
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
""",
)

RENEW_LOCK_SCRIPT = Script.of(
    "renew_lock",
    """
-- KEYS[1] lock; ARGV: token, lease ms. Reply: 1 renewed | 0 not ours any more
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
""",
)

PIN_COOKIE_SCRIPT = Script.of(
    "pin_cookie",
    """
-- KEYS[1] a sealed cookie session's floor; ARGV: floor, ttl ms. Reply: the floor now held
-- Raises the floor, never lowers it (a concurrent, older pin cannot undo a newer one or a
-- logout), and keeps it at least ttl ms (a longer time already set is kept).
local held = redis.call('GET', KEYS[1])
local floor = ARGV[1]
if held and tonumber(held) > tonumber(floor) then floor = held end
local keep = tonumber(ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > keep then keep = ttl end
redis.call('SET', KEYS[1], floor, 'PX', keep)
return tonumber(floor)
""",
)

USER_SCRIPTS = (
    PIN_COOKIE_SCRIPT,
    END_SCRIPT,
    RESTAMP_SCRIPT,
    REVOKE_SCRIPT,
    INDEX_ADD_SCRIPT,
    LOCK_SCRIPT,
    RELEASE_LOCK_SCRIPT,
    RENEW_LOCK_SCRIPT,
)


SESSION_META_FIELDS = (
    META_FIELD,
    USER_FIELD,
    USER_KEY_FIELD,
    STAMP_FIELD,
    DEVICE_FIELD,
    ENDED_FIELD,
    SEAL_FIELD,
)
"""What one ``HMGET`` reads of a session for device lists, limits and the sweeper."""


class SessionRecord(NamedTuple):
    """What one ``HMGET`` of :data:`SESSION_META_FIELDS` says about a session key."""

    meta: RecordMeta
    """The record's metadata: times, user, user tag and revocation stamp, device."""
    ended: bool
    """Whether the record is a tombstone (``revoke_session``, eviction) awaiting its TTL."""


def parse_session_record(reply: Sequence[Any]) -> SessionRecord | None:
    """The record read by an ``HMGET`` of :data:`SESSION_META_FIELDS`.

    ``None`` when the key holds no session: gone (expired since it was found), or a value
    that is not a session record.
    """
    values = dict(zip(SESSION_META_FIELDS, reply, strict=True))
    meta = meta_from_fields(values)
    if meta is None:
        return None
    return SessionRecord(meta, ended=values[ENDED_FIELD] is not None)


def parse_session_meta(reply: Sequence[Any]) -> RecordMeta | None:
    """The metadata of a live record, from an ``HMGET`` of :data:`SESSION_META_FIELDS`.

    ``None`` for a missing record, a tombstone or a non-session.
    """
    record = parse_session_record(reply)
    return None if record is None or record.ended else record.meta


def cookie_floor_key(prefix: str, cookie_key: str) -> str:
    """The Redis key of a sealed cookie session's floor (its own hash slot)."""
    return f"{prefix}:c:{{{cookie_key}}}"


def due_bucket(storage_key: str, buckets: int) -> int:
    """The expiry-schedule bucket of a session (spreads the schedule over hash slots)."""
    return zlib.crc32(storage_key.encode("ascii")) % buckets
