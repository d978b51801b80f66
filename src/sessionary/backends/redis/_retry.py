"""Which store operations may be retried after a failure, and the pause between attempts.

A failure after a command was sent leaves its effect unknown (a timeout, a connection reset):
it may have been applied. Only operations whose replay cannot change the outcome are
retried:

* ``load``: reads, and a touch sets the access time to the request's own ``now`` (a replay
  writes the same value);
* ``touch``: the read path's touch when it is due, the same write as the load's;
* ``create``: carries a random nonce; a replay of an applied create finds its own nonce and
  answers OK, and nobody else knows the freshly minted key;
* ``destroy``: deletes only the record with the given digest; a replay finds nothing.

An ``update`` is a conditional write checked against the state the request loaded: replayed
after another request wrote the same session, it could be judged against that newer state
(a rotation reported as refused although applied, a change re-applied over a newer one).
So a failed update is never retried; the request fails closed (503) instead. The pause
between attempts is :func:`sessionary.backends.redis._async.io.async_pause`.
"""

from __future__ import annotations

__all__ = ["RETRYABLE"]

RETRYABLE = frozenset({"load", "touch", "create", "destroy"})
"""Names of the scripts that are safe to run again after an unknown outcome."""
