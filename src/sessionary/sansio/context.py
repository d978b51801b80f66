"""What a request's flow reads of its application: the core's fixed parts, as a protocol.

:class:`~sessionary.sansio.core.SessionCore` provides it. The cycle, the storage modes and
their flows depend on this small interface rather than on the core itself, so the core
(which starts cycles) sits above everything it drives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sessionary.codecs.base import Codec
    from sessionary.config import ClientBinding, SessionConfig
    from sessionary.sansio.at_rest import AtRest
    from sessionary.sansio.keys import KeyRing
    from sessionary.sansio.update import ResponseUpdate

__all__ = ["CoreContext"]


class CoreContext(Protocol):
    """An application's fixed session settings, keys and codec (see ``SessionCore``)."""

    @property
    def config(self) -> SessionConfig:
        """The validated configuration."""

    @property
    def keyring(self) -> KeyRing:
        """Purpose subkeys of every secret of the ring."""

    @property
    def codec(self) -> Codec:
        """The codec new values are written with."""

    @property
    def at_rest(self) -> AtRest | None:
        """Encryption at rest of values (server-side stores, opt-in)."""

    @property
    def record_keys(self) -> tuple[bytes, ...]:
        """Per generation: the key of the records' MAC."""

    @property
    def presession_keys(self) -> tuple[bytes, ...]:
        """Tags of pre-session IDs, newest first."""

    @property
    def linger(self) -> int:
        """How long (ms) an expired record is kept to tell a returning client why."""

    @property
    def events_in_store(self) -> bool:
        """Changes carry their lifecycle events for the store to write with them."""

    @property
    def strict(self) -> bool:
        """Conflicts on fields read and written are refused (policy ``raise``)."""

    @property
    def header_mode(self) -> bool:
        """The ID travels in a header rather than the cookie."""

    @property
    def authorization(self) -> bool:
        """The header transport uses ``Authorization: Session <id>``."""

    @property
    def binding(self) -> ClientBinding:
        """Client binding policy (``client_binding``)."""

    @property
    def vary(self) -> ResponseUpdate:
        """The update of a response that depends on the session but changes nothing."""

    @property
    def signed_in_vary(self) -> ResponseUpdate:
        """:attr:`vary` with the ``signed_in_cache_control`` default (a signed-in session)."""

    def now_ms(self) -> int:
        """The current time in milliseconds (the one clock, R38)."""
        ...
