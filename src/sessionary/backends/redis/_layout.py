r"""Redis key layout, Lua scripts and reply parsing, shared by the sync and async Redis stores.

One hash per session, laid out for memory (a budget of the payload + 200 bytes per
session)::

    <prefix>:s:{<storage key>}   HASH
        <name>     enveloped attribute value (the field is the UTF-8 attribute name)
        \xffm      packed metadata, 57 bytes (below):
                   format(1) created(6) accessed(6) idle(4) deadline(6) digest(16)
                   nonce(8) version(4) auth_time(6), big-endian, times in ms
        \xffs      the record's MAC, 16 bytes (:mod:`sessionary.sansio.record_auth`)
        \xffu      user ID (authenticated sessions only)
        \xffh      the user's index tag: its index ``<prefix>:u:{<tag>}`` and epoch
                   ``<prefix>:u:{<tag>}:ep`` (authenticated sessions only)
        \xffe      revocation stamp (decimal ms; the session dies once the epoch reaches it)
        \xffd      device information (compact JSON: user agent, keyed client-IP hash)
        \xffx      end reason: the record is a tombstone (``revoke_session``, eviction)

Metadata fields start with byte 0xFF, which never begins a UTF-8 string, so no attribute
name can collide with them and no other application's hash parses as a session (R41): a
record is a session only if ``\xffm`` holds a 57-byte format-3 header (or a 73-byte
format-2 header, which carried the MAC inside: records written before format 3 are read,
touched in their format, and rewritten in format 3 by their next update).

Every field stays within Redis's default ``hash-max-listpack-value`` (64 bytes) unless the
application's own values are longer, so a session hash keeps the compact encoding. A key of
another type under a session's name loads as corrupt (never an error).

Each script touches exactly one key, so every hot-path call is Cluster-safe; the hash tag
``{…}`` is a keyed hash computed by the core, never client input (R44). Timestamps are
milliseconds from the application clock, passed in by the core, so Redis and the memory
store judge expiry by the same arithmetic (:mod:`sessionary.sansio.expiry`). The scripts use
only commands and libraries available since Redis 6.2 (and in Valkey): ``struct`` packs the
metadata.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sessionary.exceptions import ConfigurationError
from sessionary.sansio.ops import (
    CommitResult,
    CommitStatus,
    Create,
    Destroy,
    Load,
    LoadResult,
    LoadStatus,
    RecordMeta,
    StoredSession,
    Update,
    UserBinding,
)

__all__ = [
    "ALL_SCRIPTS",
    "CREATE_SCRIPT",
    "DESTROY_SCRIPT",
    "DISCARD_SCRIPT",
    "LOAD_SCRIPT",
    "META_FIELD",
    "SEAL_FIELD",
    "TOUCH_SCRIPT",
    "UPDATE_SCRIPT",
    "USER_FIELD",
    "RedisLayout",
    "Script",
    "client_decodes_responses",
    "pack_meta",
    "parse_commit_reply",
    "parse_load_reply",
    "unpack_meta",
]

META_FIELD = b"\xffm"
USER_FIELD = b"\xffu"
USER_KEY_FIELD = b"\xffh"
STAMP_FIELD = b"\xffe"
DEVICE_FIELD = b"\xffd"
ENDED_FIELD = b"\xffx"
SEAL_FIELD = b"\xffs"
META_FORMAT = 3
META_SIZE = 57
LEGACY_FORMAT = 2
LEGACY_SIZE = 73
NONCE_BYTES = 8
_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def pack_meta(
    *,
    created: int,
    accessed: int,
    idle: int,
    deadline: int,
    digest: bytes,
    nonce: bytes,
    version: int,
    auth_time: int | None,
) -> bytes:
    """The 57-byte metadata header (the Lua scripts read it with ``struct.unpack``)."""
    if len(digest) != 16 or len(nonce) != NONCE_BYTES:
        msg = "digest must be 16 bytes and nonce 8 bytes"
        raise ValueError(msg)
    return b"".join(
        (
            bytes((META_FORMAT,)),
            created.to_bytes(6, "big"),
            accessed.to_bytes(6, "big"),
            idle.to_bytes(4, "big"),
            deadline.to_bytes(6, "big"),
            digest,
            nonce,
            version.to_bytes(4, "big"),
            (auth_time or 0).to_bytes(6, "big"),
        )
    )


_HEADER = struct.Struct(">xHIHIIHI16s8xIHI")
"""The header after its format byte, each 6-byte time read as 2 + 4 bytes (one call)."""


def unpack_meta(
    data: bytes,
    user: str | None,
    seal: bytes | None = None,
    *,
    user_key: str | None = None,
    stamp: int | None = None,
    device: bytes | None = None,
) -> RecordMeta | None:
    r"""Parse a metadata header; ``None`` when it is neither a format-3 nor a format-2 header.

    ``seal``: the ``\xffs`` field beside a format-3 header (a missing one reads as empty, so
    the core finds the record unauthenticated); a format-2 header carries its own. The
    other arguments are the record's fields beside the header, returned in the metadata.
    """
    size = len(data)
    if size == META_SIZE and data[0] == META_FORMAT:
        seal = seal or b""
    elif size == LEGACY_SIZE and data[0] == LEGACY_FORMAT:
        seal = data[57:73]
    else:
        return None
    (ch, cl, ah, al, idle, dh, dl, digest, version, th, tl) = _HEADER.unpack_from(data)
    auth_time = th << 32 | tl
    return RecordMeta(
        ch << 32 | cl,
        ah << 32 | al,
        idle,
        dh << 32 | dl,
        digest,
        version,
        user,
        auth_time or None,
        user_key,
        stamp,
        device,
        seal,
    )


def meta_nonce(data: bytes) -> bytes:
    """The nonce of the last write recorded in a metadata header."""
    return data[39:47]


@dataclass(frozen=True, slots=True)
class Script:
    """A Lua script and its SHA-1 (for ``EVALSHA``)."""

    name: str
    source: str
    sha: str

    @classmethod
    def of(cls, name: str, source: str) -> Script:
        """Build a script, computing its digest."""
        return cls(name, source, hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest())


LUA_COMMON = """
local META = '>BI6I6I4I6c16c8I4I6'  -- see pack_meta(); format 2 appended the seal (c16)
local META_FIELD = string.char(255) .. 'm'
local SEAL_FIELD = string.char(255) .. 's'
local TAG_FIELD = string.char(255) .. 'h'
local ENDED_FIELD = string.char(255) .. 'x'
local function meta_format(m)
  -- 3 or 2 for a metadata header; nil for anything else
  if type(m) ~= 'string' then return nil end  -- missing (false), or an error (a table)
  local format = string.byte(m, 1)
  if (#m == 57 and format == 3) or (#m == 73 and format == 2) then return format end
  return nil
end
local function unpack_meta(m)
  local format = meta_format(m)
  if not format then return nil end
  local _, created, accessed, idle, deadline, digest, nonce, version, auth =
    struct.unpack(META, m)
  local t = {created = created, accessed = accessed, idle = idle, deadline = deadline,
             digest = digest, nonce = nonce, version = version, auth = auth}
  if format == 2 then t.seal = string.sub(m, 58) end
  return t
end
local function pack_meta(t)
  -- In the header's own format: a format-2 header keeps its seal inside.
  local m = struct.pack(META, t.seal and 2 or 3, t.created, t.accessed, t.idle, t.deadline,
                        t.digest, t.nonce, t.version, t.auth)
  if t.seal then m = m .. t.seal end
  return m
end
local function hset_range(key, first, last)
  -- HSET ARGV[first..last] in batches (unpack is limited by the Lua C stack).
  local i = first
  while i <= last do
    local j = math.min(i + 999, last)
    redis.call('HSET', key, unpack(ARGV, i, j))
    i = j + 1
  end
end
local function expire_at(key, now, until_ms, linger)
  -- The TTL: until the session's expiry, plus the time an expired record lingers.
  redis.call('PEXPIRE', key, math.max(1, until_ms - now) + linger)
end
"""

LOAD_SCRIPT = Script.of(
    "load",
    LUA_COMMON
    + """
-- KEYS[1] session hash; ARGV: digest, now, max_idle, touch_after, linger, epoch key prefix or ''
-- Reply: {0} missing | {2} invalid | {3} expired idle | {4} expired absolute
--        {5, reason} ended (tombstone) | {6, reason} not a session record (another type)
--        {1, touched, {field, value, ...}, user epoch or false}
-- With an epoch key prefix (not on Cluster) the user's epoch is read here, by name from
-- the record: <prefix><tag>}:ep. On Cluster the store reads it in a second step.
local data = redis.pcall('HGETALL', KEYS[1])
if type(data) == 'table' and data.err then return {6, 'not a hash'} end
if #data == 0 then return {0} end
local at, tag, ended = nil, nil, nil
for i = 1, #data, 2 do
  local f = data[i]
  if f == META_FIELD then at = i + 1
  elseif f == TAG_FIELD then tag = data[i + 1]
  elseif f == ENDED_FIELD then ended = data[i + 1] end
end
local m = at and unpack_meta(data[at])
if not m then return {0} end
if m.digest ~= ARGV[1] then return {2} end
if ended then return {5, ended} end
local now = tonumber(ARGV[2])
local idle = math.min(m.idle, tonumber(ARGV[3]))
if now >= m.deadline then
  redis.call('DEL', KEYS[1])
  return {4}
end
if now >= m.accessed + idle then
  redis.call('DEL', KEYS[1])
  return {3}
end
local touched = 0
if now - m.accessed >= tonumber(ARGV[4]) then
  m.accessed = now
  data[at] = pack_meta(m)
  redis.call('HSET', KEYS[1], META_FIELD, data[at])
  expire_at(KEYS[1], now, math.min(now + idle, m.deadline), tonumber(ARGV[5]))
  touched = 1
end
local epoch = false
if tag and ARGV[6] ~= '' then epoch = redis.call('GET', ARGV[6] .. tag .. '}:ep') end
return {1, touched, data, epoch}
""",
)

TOUCH_SCRIPT = Script.of(
    "touch",
    LUA_COMMON
    + """
-- The read path's sliding touch, sent only when a plain HGETALL found it due.
-- KEYS[1] session hash; ARGV: digest, now, max_idle, touch_after, linger, epoch key prefix or ''
-- Reply: {-1} the record is gone, another validator's, ended or expired since it was read
--        (the caller asks the load script) | {touched, user epoch or false}
-- Conditional like every write: it never creates a key, never writes another validator's
-- record, and never moves the access time back or the TTL down.
local r = redis.pcall('HMGET', KEYS[1], META_FIELD, ENDED_FIELD, TAG_FIELD)
if r.err then return {-1} end  -- no longer a hash
local m = unpack_meta(r[1])
if not m or m.digest ~= ARGV[1] or r[2] then return {-1} end
local now = tonumber(ARGV[2])
local idle = math.min(m.idle, tonumber(ARGV[3]))
if now >= m.deadline or now >= m.accessed + idle then return {-1} end
local touched = 0
if now - m.accessed >= tonumber(ARGV[4]) then
  m.accessed = now
  redis.call('HSET', KEYS[1], META_FIELD, pack_meta(m))
  expire_at(KEYS[1], now, math.min(now + idle, m.deadline), tonumber(ARGV[5]))
  touched = 1
end
local epoch = false
if r[3] and ARGV[6] ~= '' then epoch = redis.call('GET', ARGV[6] .. r[3] .. '}:ep') end
return {touched, epoch}
""",
)

CREATE_SCRIPT = Script.of(
    "create",
    LUA_COMMON
    + """
-- KEYS[1] session hash; ARGV: nonce, now, idle, deadline, linger, field, value, ...
-- (the fields include the packed metadata). Reply: {'OK'} | {'EXISTS'}
if redis.call('EXISTS', KEYS[1]) == 1 then
  local m = unpack_meta(redis.pcall('HGET', KEYS[1], META_FIELD))
  if m and m.nonce == ARGV[1] then return {'OK'} end
  return {'EXISTS'}
end
hset_range(KEYS[1], 6, #ARGV)
local now = tonumber(ARGV[2])
expire_at(KEYS[1], now, math.min(now + tonumber(ARGV[3]), tonumber(ARGV[4])), tonumber(ARGV[5]))
return {'OK'}
""",
)

UPDATE_SCRIPT = Script.of(
    "update",
    LUA_COMMON
    + """
-- KEYS[1] session hash, KEYS[2] its lock (same slot)
-- ARGV: 1 nonce, 2 now, 3 max_idle, 4 expected version, 5 new digest, 6 new seal,
--       7 new deadline or '', 8 auth time or '', 9 lock token or '', 10 linger,
--       11 n_delete, then n_delete field names, then field/value pairs to set
-- Reply: {'OK'} | {'GONE'} | {'LOCK_LOST'} | {'STALE', {field, value, ...}}
-- The core computed the record's MAC over the version it read: any other version is
-- STALE, answered with the record as it is now so the core can merge and retry.
local key = KEYS[1]
local m = unpack_meta(redis.pcall('HGET', key, META_FIELD))
if not m or redis.call('HEXISTS', key, ENDED_FIELD) == 1 then return {'GONE'} end
if m.nonce == ARGV[1] then return {'OK'} end
if ARGV[9] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[9] then return {'LOCK_LOST'} end
local now = tonumber(ARGV[2])
local idle = math.min(m.idle, tonumber(ARGV[3]))
if now >= m.deadline or now >= m.accessed + idle then
  redis.call('DEL', key)
  return {'GONE'}
end
if m.version ~= tonumber(ARGV[4]) then return {'STALE', redis.call('HGETALL', key)} end
local n_del = tonumber(ARGV[11])
local i = 12
if n_del > 0 then
  local j = i
  while j < i + n_del do
    local last = math.min(j + 999, i + n_del - 1)
    redis.call('HDEL', key, unpack(ARGV, j, last))
    j = last + 1
  end
end
hset_range(key, i + n_del, #ARGV)
if now > m.accessed then m.accessed = now end
if ARGV[7] ~= '' then m.deadline = tonumber(ARGV[7]) end
if ARGV[8] ~= '' then m.auth = tonumber(ARGV[8]) end
m.digest = ARGV[5]
m.seal = nil  -- format 3: the seal in its own field
m.nonce = ARGV[1]
m.version = m.version + 1
redis.call('HSET', key, META_FIELD, pack_meta(m), SEAL_FIELD, ARGV[6])
expire_at(key, now, math.min(m.accessed + idle, m.deadline), tonumber(ARGV[10]))
return {'OK'}
""",
)

DESTROY_SCRIPT = Script.of(
    "destroy",
    LUA_COMMON
    + """
-- KEYS[1] session hash; ARGV: digest. Reply: 1 deleted | 0 absent or not ours
local m = unpack_meta(redis.pcall('HGET', KEYS[1], META_FIELD))
if not m or m.digest ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
""",
)

DISCARD_SCRIPT = Script.of(
    "discard",
    """
-- KEYS[1] session hash the core found corrupt or forged. Reply: 1 deleted | 0 absent
return redis.call('DEL', KEYS[1])
""",
)

ALL_SCRIPTS = (
    LOAD_SCRIPT,
    TOUCH_SCRIPT,
    CREATE_SCRIPT,
    UPDATE_SCRIPT,
    DESTROY_SCRIPT,
    DISCARD_SCRIPT,
)


def client_decodes_responses(client: object) -> bool:
    """Whether a redis-py client (any topology, sync or async) decodes replies to ``str``."""
    get_encoder = getattr(client, "get_encoder", None)
    if get_encoder is None:
        return False
    return bool(getattr(get_encoder(), "decode_responses", False))


def binding_fields(binding: UserBinding) -> list[bytes | str | int]:
    """The hash fields a login writes: user tag, revocation stamp, device."""
    fields: list[bytes | str | int] = [
        USER_KEY_FIELD,
        binding.user_key.encode(),
        STAMP_FIELD,
        binding.stamp,
    ]
    if binding.device is not None:
        fields += [DEVICE_FIELD, binding.device]
    return fields


def _field(name: str) -> bytes:
    return name.encode("utf-8", "surrogatepass")


class RedisLayout:
    """Key names and script arguments for one key prefix."""

    __slots__ = ("epoch_prefix", "prefix", "session_prefix")

    def __init__(self, prefix: str = "sessionary") -> None:
        if not _PREFIX_RE.fullmatch(prefix):
            msg = (
                f"key prefix {prefix!r} must be 1-64 characters of letters, digits, '_', '.' "
                "or '-' (no glob or hash-tag characters)"
            )
            raise ConfigurationError(msg)
        self.prefix = prefix
        self.session_prefix = f"{prefix}:s:{{"
        """What the sweep script prepends to a storage key (then ``}``) to name its hash."""
        self.epoch_prefix = f"{prefix}:u:{{"
        """What the load script prepends to a record's user tag to name the epoch key."""

    def session_key(self, storage_key: str) -> str:
        """The Redis key of a session hash (the storage key is its hash tag)."""
        return f"{self.session_prefix}{storage_key}}}"

    def lock_key(self, storage_key: str) -> str:
        """The Redis key of a session's opt-in lock (same hash slot as the session)."""
        return f"{self.session_prefix}{storage_key}}}:lk"

    def user_index_key(self, user_key: str) -> str:
        """The user's index: a sorted set of storage keys scored by absolute deadline."""
        return f"{self.epoch_prefix}{user_key}}}"

    def user_epoch_key(self, user_key: str) -> str:
        """The user's epoch (time of the last ``revoke_user``), same slot as the index."""
        return f"{self.epoch_prefix}{user_key}}}:ep"

    def user_admission_key(self, user_key: str) -> str:
        """The lease logins of a user with a session limit take turns on (index's slot)."""
        return f"{self.epoch_prefix}{user_key}}}:ad"

    def user_pattern(self) -> str:
        """A ``SCAN MATCH`` pattern for this prefix's user indexes (and epochs)."""
        return f"{self.prefix}:u:*"

    def events_key(self) -> str:
        """The lifecycle event stream."""
        return f"{self.prefix}:events"

    def due_key(self, bucket: int) -> str:
        """One bucket of the expiry schedule (each bucket in its own hash slot)."""
        return f"{self.prefix}:due:{{{bucket:02d}}}"

    def due_info_key(self, bucket: int) -> str:
        """Per-bucket hash: storage key → ``"<deadline>|<user>"`` for the expired event."""
        return f"{self.prefix}:due:{{{bucket:02d}}}:i"

    def session_pattern(self) -> str:
        """A ``SCAN MATCH`` pattern for this prefix's session keys (fixed, glob-safe).

        It also matches each session's companions (its lock): :meth:`is_session_key` tells
        the session hashes apart.
        """
        return f"{self.prefix}:s:*"

    def is_session_key(self, key: bytes) -> bool:
        """Whether ``key`` (as ``SCAN`` returns it) names a session hash of this prefix."""
        return key.startswith(self.session_prefix.encode()) and key.endswith(b"}")

    def is_user_index_key(self, key: bytes) -> bool:
        """Whether ``key`` names a user's index (not its epoch or admission companion)."""
        return key.startswith(self.epoch_prefix.encode()) and key.endswith(b"}")

    # ------------------------------------------------------------------ arguments
    @staticmethod
    def load_args(op: Load) -> list[bytes | str | int]:
        """``ARGV`` for :data:`LOAD_SCRIPT` (but the epoch key prefix the store appends)."""
        return [op.digest, op.now, op.max_idle, op.touch_after, op.linger]

    @staticmethod
    def create_args(op: Create) -> list[bytes | str | int]:
        """``ARGV`` for :data:`CREATE_SCRIPT`."""
        meta = pack_meta(
            created=op.now,
            accessed=op.now,
            idle=op.idle,
            deadline=op.deadline,
            digest=op.digest,
            nonce=op.nonce,
            version=1,
            auth_time=op.auth_time,
        )
        args: list[bytes | str | int] = [
            op.nonce,
            op.now,
            op.idle,
            op.deadline,
            op.linger,
            META_FIELD,
            meta,
            SEAL_FIELD,
            op.seal,
        ]
        if op.user is not None:
            args += [USER_FIELD, op.user.encode()]
        if op.binding is not None:
            args += binding_fields(op.binding)
        for name, value in op.attributes.items():
            args += [_field(name), value]
        return args

    @staticmethod
    def update_args(op: Update) -> list[bytes | str | int]:
        """``ARGV`` for :data:`UPDATE_SCRIPT`."""
        args: list[bytes | str | int] = [
            op.nonce,
            op.now,
            op.max_idle,
            op.expect_version,
            op.digest,
            op.seal,
            b"" if op.deadline is None else op.deadline,
            b"" if op.auth_time is None else op.auth_time,
            op.lock_token or b"",
            op.linger,
            len(op.delete),
        ]
        args += [_field(name) for name in op.delete]
        if op.user is not None:
            args += [USER_FIELD, op.user.encode()]
        if op.binding is not None:
            args += binding_fields(op.binding)
        for name, value in op.attributes.items():
            args += [_field(name), value]
        return args

    @staticmethod
    def destroy_args(op: Destroy) -> list[bytes | str | int]:
        """``ARGV`` for :data:`DESTROY_SCRIPT`."""
        return [op.digest]


# ---------------------------------------------------------------------- replies
_MISSING = LoadResult(LoadStatus.MISSING)
_LOAD_STATUS = {
    0: LoadStatus.MISSING,
    2: LoadStatus.INVALID,
    3: LoadStatus.EXPIRED_IDLE,
    4: LoadStatus.EXPIRED_ABSOLUTE,
}
_COMMIT_STATUS = {
    b"OK": CommitStatus.OK,
    b"GONE": CommitStatus.GONE,
    b"STALE": CommitStatus.STALE,
    b"EXISTS": CommitStatus.EXISTS,
    b"LOCK_LOST": CommitStatus.LOCK_LOST,
}


def parse_hash(flat: Sequence[bytes], *, touched: bool = False) -> StoredSession | None:
    """Turn an ``HGETALL`` reply into a :class:`StoredSession` (``None`` if not a session)."""
    attributes: dict[str, bytes] = {}
    special: dict[bytes, bytes] = {}
    it = iter(flat)
    for name, value in zip(it, it, strict=True):
        if name[:1] != b"\xff":
            attributes[name.decode("utf-8", "surrogatepass")] = value
        else:
            special[name] = value
    meta = meta_from_fields(special)
    if meta is None:
        return None
    return StoredSession(attributes, meta, touched)


def meta_from_fields(special: Mapping[bytes, bytes | None]) -> RecordMeta | None:
    """Metadata from a record's reserved (0xFF-prefixed) fields; ``None`` if not a session."""
    meta_raw = special.get(META_FIELD)
    if meta_raw is None:
        return None
    user_raw = special.get(USER_FIELD)
    user = None if user_raw is None else user_raw.decode("utf-8", "replace")
    seal = special.get(SEAL_FIELD)
    tag = special.get(USER_KEY_FIELD)
    if tag is None:
        return unpack_meta(meta_raw, user, seal)
    stamp = special.get(STAMP_FIELD)
    return unpack_meta(
        meta_raw,
        user,
        seal,
        user_key=tag.decode("ascii", "replace"),
        stamp=int(stamp) if stamp is not None and stamp.isdigit() else None,
        device=special.get(DEVICE_FIELD),
    )


def _int_or_none(value: Any) -> int | None:
    if value is None or value is False:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_load_reply(reply: Any) -> LoadResult:
    """Interpret the reply of :data:`LOAD_SCRIPT`."""
    code = int(reply[0])
    if code == 5:
        return LoadResult(LoadStatus.ENDED, reason=bytes(reply[1]).decode("ascii", "replace"))
    if code == 6:
        return LoadResult(LoadStatus.CORRUPT, reason=bytes(reply[1]).decode("ascii", "replace"))
    if code != 1:
        return LoadResult(_LOAD_STATUS.get(code, LoadStatus.MISSING))
    stored = parse_hash(reply[2], touched=bool(reply[1]))
    if stored is None:
        return _MISSING
    if len(reply) > 3:
        stored = stored._replace(user_epoch=_int_or_none(reply[3]))
    return LoadResult(LoadStatus.FOUND, stored)


def parse_commit_reply(reply: Any) -> CommitResult:
    """Interpret the reply of :data:`CREATE_SCRIPT` or :data:`UPDATE_SCRIPT`."""
    status = _COMMIT_STATUS[bytes(reply[0])]
    if status is CommitStatus.STALE:
        current = parse_hash(reply[1]) if len(reply) > 1 else None
        if current is None:  # expired and freed meanwhile, or no longer a session
            return CommitResult(CommitStatus.GONE)
        return CommitResult(status, current=current)
    return CommitResult(status)
