"""What ``sessionary stats`` measures on a running deployment (Redis, every primary).

Session hashes are found with ``SCAN`` over every primary (never ``KEYS``) and classified
with one pipelined ``HMGET`` each: *live*, *ended* (a tombstone left by ``revoke_session`` or
an eviction, kept until its TTL so the client learns why) or *revoked* (stamped before its
user's epoch, ``revoke_user``). Sessions per user come from the user field of the live
ones, which is exact; the per-user indexes (``<prefix>:u:{<tag>}``) are counted but not
trusted for this, because they keep idle-expired entries until their absolute deadline.
Server figures come from ``INFO``, summed over the primaries (among them the connections
that local caches keep for their invalidations); memory per session is the
mean ``MEMORY USAGE`` of a sample of live sessions.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from redis.exceptions import ResponseError

from sessionary.audit._lag import AuditLag, group_lag
from sessionary.backends.redis import SESSION_META_FIELDS, RedisLayout, parse_session_record
from sessionary.cli._redis_admin import RedisDeployment
from sessionary.sansio.users import is_revoked

__all__ = ["Stats", "collect_stats", "eviction_risk"]

_BATCH = 500
_PINGS = 10


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
    authenticated_sessions: int
    ended_sessions: int
    """Tombstones of ended sessions (``revoke_session``, eviction) awaiting their TTL."""
    revoked_sessions: int
    """Sessions stamped before their user's epoch (``revoke_user``) awaiting their TTL."""
    users: int
    top_users: list[tuple[str, int]]
    user_indexes: int
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
    tracking_clients: int
    """Connections with client-side caching on (``INFO``'s ``tracking_clients``): each
    instance running the local cache (docs/cache.md) holds one per primary. Its hits and
    misses live in that process (Prometheus, ``store.stats``), not in Redis."""
    tracking_prefixes: int
    """Prefixes tracked in broadcast mode (``tracking_total_prefixes``)."""
    ping_ms: dict[str, float]
    audit: list[AuditLag] = field(default_factory=list)
    """The consumer groups reading the event stream (``sessionary audit run``): their lag."""
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
        data["audit"] = [
            {"group": lag.group, "pending": lag.pending, "lag": lag.lag, "behind": lag.behind}
            for lag in self.audit
        ]
        return data


def _audit_groups(deployment: RedisDeployment, layout: RedisLayout) -> list[AuditLag]:
    """Every consumer group of the event stream with its lag (none: no stream yet)."""
    try:
        groups = deployment.router.xinfo_groups(layout.events_key())
    except ResponseError:
        return []
    names = sorted(_name(group) for group in groups)
    return [group_lag(groups, name) for name in names]


def _name(info: Any) -> str:
    value = info.get("name", info.get(b"name", b""))
    return value.decode() if isinstance(value, bytes) else str(value)


def _session_keys(deployment: RedisDeployment, layout: RedisLayout) -> list[bytes]:
    return [
        key for _, key in deployment.scan(layout.session_pattern()) if layout.is_session_key(key)
    ]


@dataclass(slots=True)
class _Census:
    live: list[bytes] = field(default_factory=list)
    users: Counter[str] = field(default_factory=Counter)
    ended: int = 0
    revoked: int = 0


def _census(deployment: RedisDeployment, layout: RedisLayout, keys: Sequence[bytes]) -> _Census:
    """Classify every session hash: live (with its user), ended or revoked."""
    census = _Census()
    epochs: dict[str, int | None] = {}
    for start in range(0, len(keys), _BATCH):
        batch = keys[start : start + _BATCH]
        pipe = deployment.router.pipeline(transaction=False)
        for key in batch:
            pipe.hmget(key, SESSION_META_FIELDS)
        records = [parse_session_record(row) for row in pipe.execute()]
        tags = sorted(
            {
                record.meta.user_key
                for record in records
                if record is not None and record.meta.user_key is not None
            }
            - epochs.keys()
        )
        if tags:
            pipe = deployment.router.pipeline(transaction=False)
            for tag in tags:
                pipe.get(layout.user_epoch_key(tag))
            for tag, epoch in zip(tags, pipe.execute(), strict=True):
                epochs[tag] = int(epoch) if epoch is not None else None
        for key, record in zip(batch, records, strict=True):
            if record is None:
                continue  # expired since the scan, or not a session
            meta = record.meta
            if record.ended:
                census.ended += 1
            elif meta.user_key is not None and is_revoked(meta.stamp, epochs[meta.user_key]):
                census.revoked += 1
            else:
                census.live.append(key)
                if meta.user is not None:
                    census.users[meta.user] += 1
    return census


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
    layout = RedisLayout(prefix)
    census = _census(deployment, layout, _session_keys(deployment, layout))
    indexes = sum(
        1 for _, key in deployment.scan(layout.user_pattern()) if layout.is_user_index_key(key)
    )
    usages = _memory_sample(deployment, census.live, sample)
    policies = sorted({str(info.get("maxmemory_policy", "unknown")) for info in infos})
    stats = Stats(
        url=deployment.url,
        kind=deployment.kind,
        prefix=prefix,
        primaries=len(deployment.primaries),
        redis_version=str(infos[0].get("redis_version", "?")),
        live_sessions=len(census.live),
        authenticated_sessions=sum(census.users.values()),
        ended_sessions=census.ended,
        revoked_sessions=census.revoked,
        users=len(census.users),
        top_users=census.users.most_common(top),
        user_indexes=indexes,
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
        tracking_clients=_total(infos, "tracking_clients"),
        tracking_prefixes=_total(infos, "tracking_total_prefixes"),
        ping_ms=_ping_ms(deployment),
        audit=_audit_groups(deployment, layout),
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
