"""Redis hardening checks: no ``KEYS`` (R43), fixed glob-safe patterns (R43, R44), bounded
timeouts and retries (R78)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import sessionary
from sessionary.backends.redis._layout import RedisLayout
from sessionary.exceptions import ConfigurationError
from sessionary.stores import AsyncRedisStore, RedisStore

PACKAGE = Path(sessionary.__file__).parent


def test_the_keys_command_is_never_used() -> None:
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        # Lua's KEYS[1] (the script's key argument) is fine; the KEYS command is not.
        assert not re.search(r"""["']KEYS["']|\.keys\(\s*["']""", text), path
        assert "redis.call('KEYS'" not in text
        assert 'redis.call("KEYS"' not in text


@pytest.mark.parametrize("prefix", ["a*", "a?", "a[b]", "a{b}", "a:b", "", "x" * 65, "a b"])
def test_prefixes_cannot_carry_glob_or_hash_tag_characters(prefix: str) -> None:
    with pytest.raises(ConfigurationError, match="key prefix"):
        RedisLayout(prefix)


def test_scan_patterns_are_fixed_by_the_library() -> None:
    layout = RedisLayout("app-1.sessions")
    assert layout.session_pattern() == "app-1.sessions:s:*"
    assert layout.session_key("abc_-DEF") == "app-1.sessions:s:{abc_-DEF}"


@pytest.mark.anyio
async def test_default_timeouts_and_retries_are_bounded() -> None:
    store = RedisStore.from_url("redis://127.0.0.1:1/0")
    client: Any = store.client
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] <= 1
    assert kwargs["socket_connect_timeout"] <= 1
    assert kwargs["retry"]._retries <= 1
    store.close()
    async_store = AsyncRedisStore.from_url("redis://127.0.0.1:1/0")
    async_client: Any = async_store.client
    kwargs = async_client.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] <= 1
    assert kwargs["retry"]._retries <= 1
    await async_store.aclose()
