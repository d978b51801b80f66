"""Storage modes: where a session lives, given to the core instead of a fake store.

* :data:`SERVER` — in a server-side store (memory, Redis, …): the cycle loads and commits
  records (:mod:`sessionary.sansio.server_flow`).
* :class:`SealedMode` — sealed in the cookie itself (:mod:`sessionary.sansio.sealed_flow`),
  with an optional *revocation store* for logout, rotation and "log out everywhere".

The public ``sessionary.stores.CookieStore`` is a :class:`SealedMode`: pass it where a store
goes. A mode also names the store the shell performs its operations on (:meth:`io_store`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sessionary.exceptions import ConfigurationError
from sessionary.sansio.sealed import Sealer
from sessionary.sansio.sealed_flow import SealedFlow
from sessionary.sansio.server_flow import ServerFlow

if TYPE_CHECKING:
    from sessionary.sansio.context import CoreContext
    from sessionary.sansio.request import RequestState

__all__ = ["SERVER", "SealedMode", "ServerMode", "StorageMode"]

_logger = logging.getLogger("sessionary")


class ServerMode:
    """Sessions in a server-side store: the default mode."""

    __slots__ = ()

    checks_revocation = False
    """Whether a revocation store answers operations (never for server-side sessions)."""

    def __repr__(self) -> str:
        return "ServerMode()"

    def bind(self, core: CoreContext) -> ServerMode:
        """The mode as the core uses it (nothing to derive)."""
        del core
        return self

    def flow(self, state: RequestState) -> ServerFlow:
        """The flow one request follows in this mode."""
        return ServerFlow(state)

    @staticmethod
    def io_store(store: Any) -> Any:
        """The store the shell performs this mode's operations on: the store itself."""
        return store


SERVER = ServerMode()


class SealedMode:
    """Sessions sealed in the cookie (AES-256-GCM), optionally checked by a revocation store.

    Constructed by the application (as ``sessionary.stores.CookieStore``); the core binds it
    to its key ring (:meth:`bind`).
    """

    __slots__ = ("_sealer", "revocation")

    def __init__(self, *, revocation: Any = None) -> None:
        self.revocation = revocation
        """The store keeping per-user epochs and cookie floors (checked by the manager)."""
        self._sealer: Sealer | None = None
        if revocation is None:
            _logger.warning(
                "sessionary: CookieStore keeps sessions in the client; without a revocation "
                "store neither logout nor rotate() revokes a copied cookie, and an older "
                "cookie can be replayed until its idle or absolute timeout"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(revocation={self.revocation!r})"

    @property
    def checks_revocation(self) -> bool:
        """Whether a revocation store answers this mode's operations."""
        return self.revocation is not None

    @property
    def sealer(self) -> Sealer:
        """The cookie sealer (available once the mode is bound to a core)."""
        sealer = self._sealer
        if sealer is None:
            msg = "the sealed mode is not bound to a core"
            raise ConfigurationError(msg)
        return sealer

    def bind(self, core: CoreContext) -> SealedMode:
        """This mode with its sealer, under the ``cookie-seal`` subkeys of ``core``'s ring."""
        if core.config.transport != "cookie":
            msg = "the cookie store needs transport='cookie'"
            raise ConfigurationError(msg)
        bound = object.__new__(type(self))
        bound.revocation = self.revocation
        bound._sealer = Sealer(core.keyring.subkeys("cookie-seal"))
        return bound

    def flow(self, state: RequestState) -> SealedFlow:
        """The flow one request follows in this mode."""
        return SealedFlow(state, self.sealer, revocation=self.checks_revocation)

    def io_store(self, store: Any) -> Any:
        """The store the shell performs this mode's operations on: the revocation store."""
        del store
        return self.revocation

    async def aclose(self) -> None:
        """Nothing to release (the revocation store is the application's)."""

    def close(self) -> None:
        """Nothing to release (the revocation store is the application's)."""


StorageMode = ServerMode | SealedMode
"""Where sessions live."""
