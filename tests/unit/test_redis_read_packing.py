"""What the Redis read path computes without I/O: its packed commands and the header parse.

Both replace general code for speed (``pack_read`` redis-py's ``pack_commands``,
``unpack_meta`` slicing with ``int.from_bytes``), so both are checked against it here.
"""

from __future__ import annotations

import string
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from redis.connection import Connection

from sessionary.backends.redis._layout import LEGACY_FORMAT, pack_meta, unpack_meta
from sessionary.backends.redis._reads import pack_read

_KEYS = st.text(string.ascii_letters + string.digits + ":{}_-.", min_size=1, max_size=80)
_SIX_BYTES = st.integers(min_value=0, max_value=2**48 - 1)
_FOUR_BYTES = st.integers(min_value=0, max_value=2**32 - 1)


@given(key=_KEYS, epoch_key=st.none() | _KEYS)
def test_the_read_is_packed_as_redis_py_packs_it(key: str, epoch_key: str | None) -> None:
    commands: list[tuple[str, ...]] = [("HGETALL", key)]
    if epoch_key is not None:
        commands.append(("GET", epoch_key))
    connection: Any = Connection  # redis-py's connection classes are untyped
    packed = pack_read(key, epoch_key)
    assert packed.data == b"".join(connection().pack_commands(commands))
    assert len(packed) == len(commands)


@given(
    created=_SIX_BYTES,
    accessed=_SIX_BYTES,
    idle=_FOUR_BYTES,
    deadline=_SIX_BYTES,
    digest=st.binary(min_size=16, max_size=16),
    nonce=st.binary(min_size=8, max_size=8),
    version=_FOUR_BYTES,
    auth_time=st.none() | st.integers(min_value=1, max_value=2**48 - 1),
    seal=st.binary(min_size=16, max_size=16),
)
def test_a_header_reads_back_as_written(
    created: int,
    accessed: int,
    idle: int,
    deadline: int,
    digest: bytes,
    nonce: bytes,
    version: int,
    auth_time: int | None,
    seal: bytes,
) -> None:
    header = pack_meta(
        created=created,
        accessed=accessed,
        idle=idle,
        deadline=deadline,
        digest=digest,
        nonce=nonce,
        version=version,
        auth_time=auth_time,
    )
    meta = unpack_meta(header, "u", seal, user_key="tag", stamp=7, device=b"d")
    assert meta is not None
    assert (meta.created, meta.accessed, meta.idle, meta.deadline) == (
        created,
        accessed,
        idle,
        deadline,
    )
    assert (meta.digest, meta.version, meta.auth_time, meta.seal) == (
        digest,
        version,
        auth_time,
        seal,
    )
    assert (meta.user, meta.user_key, meta.stamp, meta.device) == ("u", "tag", 7, b"d")
    legacy = unpack_meta(bytes((LEGACY_FORMAT,)) + header[1:] + seal, None)
    assert legacy is not None
    assert (legacy.created, legacy.deadline, legacy.seal) == (created, deadline, seal)
