"""The expiry sweeper's Lua scripts and their replies, shared by the sync and async stores.

The schedule is 16 (``due_buckets``) sorted sets ``<prefix>:due:{NN}`` of storage keys scored
by the time each session may expire, each with an info hash ``...:i`` (storage key →
``"<deadline>|<user>"``). For one due entry the sweeper

1. *checks the record* atomically on the session's key (:data:`LUA_SWEEP_RECORD`): a live
   record (touched since it was scheduled) is left alone and rescheduled at its expiry; an
   expired one becomes a tombstone that keeps its metadata and user tag, drops its values
   and says ``expired_idle`` or ``expired_absolute``, so a client returning late learns why;
2. *claims* the entry with a ``ZREM`` on its bucket (:data:`LUA_CLAIM`): the sweeper whose
   ``ZREM`` removes it reports the expiry, so each expiry is reported exactly once however
   many sweepers race. A record that is missing (its TTL fired, or a read found it expired
   and deleted it) or an expiry tombstone is reported by the claim's winner; a tombstone of
   another kind (``revoked``, ``evicted``: the ender reported it) is only unscheduled.

Step 1 is idempotent (a second check of an expiry tombstone changes nothing), so the order
"check, then claim" loses no expiry when a sweeper stops between the two: the next one
claims it.

On a standalone or Sentinel primary one call of :data:`SWEEP_SCRIPT` does both steps for up
to :data:`MAX_PER_CALL` entries of a bucket (the claims as one ``ZREM`` of them all: nothing
runs between its read of the entries and its claim), and removes each expired session
from its user's index: one round trip, atomic. It names the session keys from the storage keys it
reads, which Redis Cluster refuses (every session is in its own slot), so on a Cluster the
store pipelines :data:`SWEEP_RECORD_SCRIPT` per session (grouped per node by redis-py), then
:data:`SETTLE_SCRIPT` per bucket with the user-index ``ZREM`` commands: three round trips per
pass whatever the batch size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sessionary.backends.redis._layout import LUA_COMMON, Script
from sessionary.sansio.ops import ExpiredSession, LoadStatus

__all__ = [
    "MAX_PER_CALL",
    "SETTLE_SCRIPT",
    "SWEEP_RECORD_SCRIPT",
    "SWEEP_SCRIPT",
    "SWEEP_SCRIPTS",
    "expired_session",
    "parse_sweep_reply",
    "reported",
]

MAX_PER_CALL = 500
"""Due entries one :data:`SWEEP_SCRIPT` call handles, so Redis is never blocked for long
(a few milliseconds: about a dozen commands inside the script per entry)."""

LUA_SWEEP_RECORD = """
local USER_FIELD = string.char(255) .. 'u'
local function sweep_record(key, now, max_idle)
  -- One due session. Returns 0, expires at: live | 1, reason, user, tag: expired, made a
  -- tombstone now | 2, reason: a tombstone already | 3: missing, or not a session record
  local r = redis.pcall('HMGET', key, META_FIELD, ENDED_FIELD, TAG_FIELD, USER_FIELD)
  if r.err or not meta_format(r[1]) then return 3 end
  if r[2] then return 2, r[2] end
  local accessed, idle, deadline = struct.unpack('>I6I4I6', r[1], 8)
  idle = math.min(idle, max_idle)
  if now < deadline and now < accessed + idle then
    return 0, math.min(accessed + idle, deadline)
  end
  local reason = 'expired_idle'
  if now >= deadline then reason = 'expired_absolute' end
  local ttl = redis.call('PTTL', key)
  redis.call('DEL', key)
  if r[3] then
    redis.call('HSET', key, META_FIELD, r[1], ENDED_FIELD, reason, TAG_FIELD, r[3])
  else
    redis.call('HSET', key, META_FIELD, r[1], ENDED_FIELD, reason)
  end
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
  return 1, reason, r[4], r[3]
end
local function reported(code, reason)
  -- Whether the claim's winner reports this check's expiry (an ender reported the others).
  return code == 1 or code == 3
      or (code == 2 and (reason == 'expired_idle' or reason == 'expired_absolute'))
end
"""

LUA_CLAIM = """
local function claim(due, info, member)
  -- Exactly one sweeper wins an entry: the one whose ZREM removes it.
  -- Reply: false someone else did | the entry's info ('' without one)
  if redis.call('ZREM', due, member) == 0 then return false end
  local i = redis.call('HGET', info, member)
  redis.call('HDEL', info, member)
  return i or ''
end
"""

SWEEP_SCRIPT = Script.of(
    "sweep",
    LUA_COMMON
    + LUA_SWEEP_RECORD
    + """
-- KEYS[1] due bucket, KEYS[2] its info hash; ARGV: now, max_idle, at most how many entries,
--   session key prefix ('<prefix>:s:{'), user index prefix ('<prefix>:u:{')
-- Standalone only: the session keys and user indexes are named here, not declared.
-- Reply: {entries handled, then per expiry reported: storage key, reason or false,
--         user or false, info}
local now, max_idle = tonumber(ARGV[1]), tonumber(ARGV[2])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out, later, gone, found = {#due}, {}, {}, {}
for _, member in ipairs(due) do
  local code, a, user, tag = sweep_record(ARGV[4] .. member .. '}', now, max_idle)
  if code == 0 then
    later[#later + 1] = a
    later[#later + 1] = member
  else
    gone[#gone + 1] = member
    if reported(code, a) then found[#gone] = {a or false, user or false} end
    if tag then redis.call('ZREM', ARGV[5] .. tag .. '}', member) end
  end
end
if #later > 0 then redis.call('ZADD', KEYS[1], 'XX', unpack(later)) end
if #gone > 0 then
  -- Claimed all at once: this script read these entries and nothing ran in between.
  local infos = redis.call('HMGET', KEYS[2], unpack(gone))
  redis.call('ZREM', KEYS[1], unpack(gone))
  redis.call('HDEL', KEYS[2], unpack(gone))
  for i, member in ipairs(gone) do
    local f = found[i]
    if f then
      out[#out + 1] = member
      out[#out + 1] = f[1]
      out[#out + 1] = f[2]
      out[#out + 1] = infos[i] or ''
    end
  end
end
return out
""",
)

SWEEP_RECORD_SCRIPT = Script.of(
    "sweep_record",
    LUA_COMMON
    + LUA_SWEEP_RECORD
    + """
-- KEYS[1] a due session's hash; ARGV: now, max_idle. Reply: sweep_record()'s values
return {sweep_record(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))}
""",
)

SETTLE_SCRIPT = Script.of(
    "settle",
    LUA_CLAIM
    + """
-- KEYS[1] due bucket, KEYS[2] its info hash; ARGV: storage key, new score or '' (claim), ...
-- A score reschedules a live session (only if the entry is still there); '' claims it.
-- Reply: per entry, in order: claim()'s reply ('' for a rescheduled one)
local out = {}
for i = 1, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    out[#out + 1] = claim(KEYS[1], KEYS[2], ARGV[i])
  else
    redis.call('ZADD', KEYS[1], 'XX', ARGV[i + 1], ARGV[i])
    out[#out + 1] = ''
  end
end
return out
""",
)

SWEEP_SCRIPTS = (SWEEP_SCRIPT, SWEEP_RECORD_SCRIPT, SETTLE_SCRIPT)

_REASONS = {
    b"expired_idle": LoadStatus.EXPIRED_IDLE,
    b"expired_absolute": LoadStatus.EXPIRED_ABSOLUTE,
}


def reported(check: Sequence[Any]) -> bool:
    """Whether a :data:`SWEEP_RECORD_SCRIPT` reply is an expiry the claim's winner reports."""
    code = int(check[0])
    return code in (1, 3) or (code == 2 and bytes(check[1]) in _REASONS)


def expired_session(key: str, reason: Any, user: Any, info: Any, now: int) -> ExpiredSession:
    """The expiry a sweeper won, from what the record said and the entry's info.

    ``reason``: the expiry tombstone's reason (``None`` when the record was missing: then
    the entry's deadline decides, the absolute one winning once it has passed). ``user``:
    the record's user ID when this sweep made the tombstone (else the entry's info names it).
    """
    deadline, info_user = 0, None
    if info:
        raw_deadline, _, raw_user = bytes(info).partition(b"|")
        deadline = int(raw_deadline) if raw_deadline.isdigit() else 0
        info_user = raw_user.decode("utf-8", "replace") or None
    status = _REASONS.get(bytes(reason)) if reason else None
    if status is None:
        absolute = deadline and now >= deadline
        status = LoadStatus.EXPIRED_ABSOLUTE if absolute else LoadStatus.EXPIRED_IDLE
    name = bytes(user).decode("utf-8", "replace") if user else info_user
    return ExpiredSession(key, name, status)


def parse_sweep_reply(reply: Sequence[Any], now: int) -> tuple[int, list[ExpiredSession]]:
    """A :data:`SWEEP_SCRIPT` reply: how many entries it handled, and the expiries reported."""
    found = [
        expired_session(
            bytes(reply[i]).decode("ascii"), reply[i + 1], reply[i + 2], reply[i + 3], now
        )
        for i in range(1, len(reply), 4)
    ]
    return int(reply[0]), found
