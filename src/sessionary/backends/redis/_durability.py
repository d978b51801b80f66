"""Durable writes: wait for replicas to acknowledge a write (Redis ``WAIT``). Pure, no I/O.

Redis replicates asynchronously: a write acknowledged by the primary can be lost when the
primary fails before its replicas received it, and the replica promoted in its place then
still holds the old data. For a logout or a revocation that means a session the user ended
comes back. :class:`ReplicaWait` makes the store send ``WAIT <replicas> <timeout>`` right
after the write, on the same connection and in the same round trip (a pipeline), so the
call only succeeds once enough replicas hold the write.
"""

from __future__ import annotations

from dataclasses import dataclass

from sessionary.exceptions import ConfigurationError, StoreDurabilityError

__all__ = ["ReplicaWait", "check_acknowledged"]


@dataclass(frozen=True, slots=True)
class ReplicaWait:
    """How many replicas must acknowledge a durable write, and how long to wait for them.

    ``destroy`` (logout) always waits when a policy is set; ``commits=True`` makes session
    creations and updates wait too. When fewer than ``replicas`` acknowledge within
    ``timeout_ms``, the store raises :class:`~sessionary.exceptions.StoreDurabilityError`
    (a :class:`~sessionary.exceptions.StoreUnavailableError`, so adapters answer 503): the
    write was applied on the primary but may not survive a failover.
    """

    replicas: int = 1
    timeout_ms: int = 500
    commits: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.replicas, bool) or not isinstance(self.replicas, int):
            msg = "ReplicaWait.replicas must be an int"
            raise ConfigurationError(msg)
        if self.replicas < 1:
            msg = "ReplicaWait.replicas must be at least 1"
            raise ConfigurationError(msg)
        if isinstance(self.timeout_ms, bool) or not isinstance(self.timeout_ms, int):
            msg = "ReplicaWait.timeout_ms must be an int"
            raise ConfigurationError(msg)
        if self.timeout_ms < 1:  # WAIT 0 would block forever
            msg = "ReplicaWait.timeout_ms must be a positive number of milliseconds"
            raise ConfigurationError(msg)

    def check_socket_timeout(self, socket_timeout_s: float | None) -> None:
        """Refuse a ``WAIT`` that would outlast the socket timeout (it would always time out)."""
        if socket_timeout_s is not None and self.timeout_ms / 1000 >= socket_timeout_s:
            msg = (
                f"ReplicaWait.timeout_ms ({self.timeout_ms} ms) must be shorter than the socket "
                f"timeout ({socket_timeout_s * 1000:.0f} ms)"
            )
            raise ConfigurationError(msg)


def check_acknowledged(policy: ReplicaWait, acknowledged: int, operation: str) -> None:
    """Raise :class:`~sessionary.exceptions.StoreDurabilityError` if too few replicas answered."""
    if acknowledged < policy.replicas:
        raise StoreDurabilityError(operation, required=policy.replicas, acknowledged=acknowledged)
