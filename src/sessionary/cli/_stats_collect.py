"""What ``sessionary stats`` measures on a running deployment (Redis, every primary).

Sessions are counted with ``SCAN`` over every primary (never ``KEYS``); the per-user view
comes from the user indexes (``<prefix>:u:{<tag>}``, sorted sets of storage keys scored by
absolute deadline) when the deployment has them, otherwise from the user field of each
session hash read during the scan. Server figures come from ``INFO`` and are summed over the
primaries; memory per session is the mean ``MEMORY USAGE`` of a sample of sessions.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sessionary.cli._redis_admin import RedisDeployment
from sessionary.stores._redis_common import USER_FIELD

__all__ = ["Stats", "collect_stats", "eviction_risk"]

_BATCH = 500
_PINGS = 10
_INDEX_SUFFIX = b"}"


def eviction_risk(policy: str) -> str | None:
    """Why ``maxmemory-policy`` can evict sessions, or ``None`` when it cannot."""
    if policy == "noeviction":
        return None
    if policy.startswith("allkeys-"):
        return f"{policy} evicts any key under memory pressure, sessions included"
    if policy.startswith("volatile-"):
        return (
            f"{policy} evicts keys that have a TTL under memory pressure, and every session "
            "key has one"
        )
    return f"unknown policy {policy!r}: it may evict sessions"


@dataclass(slots=True)
class Stats:
    """One snapshot of a deployment."""

    url: str
    kind: str
    prefix: str
    primaries: int
    redis_version: str
    live_sessions: int
    authenticated_sessions: int | None
    users: int | None
    top_users: list[tuple[str, int]]
    user_source: str
    """``index`` (per-user sorted sets) or ``scan`` (the user field of every session)."""
    used_memory: int
    maxmemory: int
    maxmemory_policies: list[str]
    memory_per_session: float | None
    memory_sample: int
    keyspace_hits: int
    keyspace_misses: int
    ops_per_sec: int
    evicted_keys: int
    expired_keys: int
    connected_clients: int
    ping_ms: dict[str, float]
    warnings: list[str] = field(default_factory=list)

    @property
    def hit_rate(self) -> float | None:
        """``keyspace_hits / (hits + misses)`` since the servers started."""
        total = self.keyspace_hits + self.keyspace_misses
        return self.keyspace_hits / total if total else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["top_users"] = [{"user": user, "sessions": n} for user, n in self.top_users]
        data["keyspace_hit_rate"] = self.hit_rate
        return data


def _is_session_key(key: bytes) -> bool:
    return key.endswith(_INDEX_SUFFIX)  # not a companion such as ``…}:lk``


def _session_keys(deployment: RedisDeployment, prefix: str) -> list[bytes]:
    return [key for _, key in deployment.scan(f"{prefix}:s:*") if _is_session_key(key)]


def _users_from_sessions(deployment: RedisDeployment, keys: Sequence[bytes]) -> Counter[str]:
    users: Counter[str] = Counter()
    for start in range(0, len(keys), _BATCH):
        pipe = deployment.router.pipeline(transaction=False)
        for key in keys[start : start + _BATCH]:
            pipe.hget(key, USER_FIELD)
        users.update(v.decode("utf-8", "replace") for v in pipe.execute() if v is not None)
    return users


def _users_from_indexes(
    deployment: RedisDeployment, prefix: str, indexes: Sequence[bytes], top: int
) -> tuple[Counter[str], int]:
    """Live sessions per user from the indexes; names resolved for the ``top`` largest only."""
    now_ms = int(time.time() * 1000)
    counts: list[tuple[int, bytes]] = []
    for start in range(0, len(indexes), _BATCH):
        batch = indexes[start : start + _BATCH]
        pipe = deployment.router.pipeline(transaction=False)
        for key in batch:
            pipe.zcount(key, now_ms, "+inf")
        counts += [(int(n), key) for n, key in zip(pipe.execute(), batch, strict=True) if n]
    counts.sort(reverse=True)
    named: Counter[str] = Counter()
    for count, key in counts[:top]:
        members: Any = deployment.router.zrangebyscore(key, now_ms, "+inf", start=0, num=1)
        user: Any = None
        if members:
            session = f"{prefix}:s:{{".encode() + bytes(members[0]) + b"}"
            user = deployment.router.hget(session, USER_FIELD)
        label = user.decode("utf-8", "replace") if user else f"(index {key.decode()})"
        named[label] += count
    return named, len(counts)


def _memory_sample(deployment: RedisDeployment, keys: Sequence[bytes], size: int) -> list[int]:
    if not keys or size <= 0:
        return []
    step = max(1, len(keys) // size)
    sample = list(keys[::step])[:size]
    pipe = deployment.router.pipeline(transaction=False)
    for key in sample:
        pipe.memory_usage(key, samples=0)
    return [int(n) for n in pipe.execute() if n is not None]


def _ping_ms(deployment: RedisDeployment) -> dict[str, float]:
    rounds: list[float] = []
    for client in deployment.primaries:
        for _ in range(_PINGS):
            started = time.perf_counter()
            client.ping()
            rounds.append((time.perf_counter() - started) * 1000)
    rounds.sort()
    return {
        "min": rounds[0],
        "avg": sum(rounds) / len(rounds),
        "p50": rounds[len(rounds) // 2],
        "max": rounds[-1],
    }


def _total(infos: Iterable[dict[str, Any]], name: str) -> int:
    return sum(int(info.get(name, 0)) for info in infos)


def collect_stats(
    deployment: RedisDeployment, prefix: str, *, top: int = 10, sample: int = 200
) -> Stats:
    """Measure the deployment behind ``deployment`` for sessions under ``prefix``."""
    infos = deployment.info("all")
    keys = _session_keys(deployment, prefix)
    indexes = [key for _, key in deployment.scan(f"{prefix}:u:*") if key.endswith(_INDEX_SUFFIX)]
    authenticated: int | None
    if indexes:
        users, user_count = _users_from_indexes(deployment, prefix, indexes, top)
        authenticated = None  # the indexes count users' sessions, not the scan's
        source = "index"
    else:
        users = _users_from_sessions(deployment, keys)
        user_count = len(users)
        authenticated = sum(users.values())
        source = "scan"
    usages = _memory_sample(deployment, keys, sample)
    policies = sorted({str(info.get("maxmemory_policy", "unknown")) for info in infos})
    stats = Stats(
        url=deployment.url,
        kind=deployment.kind,
        prefix=prefix,
        primaries=len(deployment.primaries),
        redis_version=str(infos[0].get("redis_version", "?")),
        live_sessions=len(keys),
        authenticated_sessions=authenticated,
        users=user_count,
        top_users=users.most_common(top),
        user_source=source,
        used_memory=_total(infos, "used_memory"),
        maxmemory=_total(infos, "maxmemory"),
        maxmemory_policies=policies,
        memory_per_session=sum(usages) / len(usages) if usages else None,
        memory_sample=len(usages),
        keyspace_hits=_total(infos, "keyspace_hits"),
        keyspace_misses=_total(infos, "keyspace_misses"),
        ops_per_sec=_total(infos, "instantaneous_ops_per_sec"),
        evicted_keys=_total(infos, "evicted_keys"),
        expired_keys=_total(infos, "expired_keys"),
        connected_clients=_total(infos, "connected_clients"),
        ping_ms=_ping_ms(deployment),
    )
    for policy in policies:
        risk = eviction_risk(policy)
        if risk is not None:
            stats.warnings.append(
                f"maxmemory-policy {risk}: users would be logged out at random; "
                "set maxmemory-policy noeviction (writes then fail visibly instead)"
            )
    if stats.evicted_keys:
        stats.warnings.append(f"{stats.evicted_keys} keys were evicted since the server started")
    return stats
