"""What every request's cycle shares: configuration, keys, codec, clock and storage mode.

A :class:`SessionCore` is built once per application (the managers build it) and starts one
:class:`~sessionary.sansio.cycle.SessionCycle` per request with :meth:`SessionCore.begin`.
"""

from __future__ import annotations

from collections.abc import Iterable

from sessionary.codecs import get_codec
from sessionary.config import ConflictPolicy, SessionConfig, StoreDownPolicy
from sessionary.sansio.at_rest import AtRest
from sessionary.sansio.clock import AuthorityClock
from sessionary.sansio.cycle import SessionCycle
from sessionary.sansio.keys import KeyRing
from sessionary.sansio.modes import SERVER, SealedMode, ServerMode
from sessionary.sansio.response import ResponseUpdate

__all__ = ["SessionCore"]


class SessionCore:
    """Everything a cycle needs that is fixed per application: config, keys, codec, mode.

    ``mode``: where sessions live — :data:`~sessionary.sansio.modes.SERVER` (a server-side
    store, the default) or a :class:`~sessionary.sansio.modes.SealedMode` (the sealed cookie;
    ``sessionary.stores.CookieStore`` is one).
    """

    __slots__ = (
        "_time_floor",
        "at_rest",
        "authority",
        "authorization",
        "binding",
        "codec",
        "config",
        "events_in_store",
        "header_mode",
        "keyring",
        "linger",
        "mode",
        "presession_keys",
        "record_keys",
        "request_header",
        "signed_in_vary",
        "strict",
        "vary",
    )

    def __init__(
        self,
        config: SessionConfig,
        *,
        mode: ServerMode | SealedMode = SERVER,
        events_in_store: bool = False,
    ) -> None:
        self.config = config
        self.events_in_store = events_in_store
        """Changes carry their lifecycle events for the store to write in their transaction
        (the store is the event sink and declares ``Capability.EVENTS_IN_TRANSACTION``)."""
        self._time_floor = 0
        self.authority: AuthorityClock | None = (
            AuthorityClock() if config.time_authority == "store" else None
        )
        """The store's clock, once the shell samples it (``time_authority="store"``)."""
        self.binding = config.client_binding
        """``client_binding``: compare authenticated requests with the login's client."""
        self.keyring = KeyRing(config.secrets)
        self.record_keys = self.keyring.subkeys("record")
        """Per generation: the key of the records' MAC (:mod:`sessionary.sansio.record_auth`)."""
        self.presession_keys = self.keyring.subkeys("presession")
        """Tags of pre-session IDs (:mod:`sessionary.sansio.presession`), newest first."""
        self.linger = config.expiry_notice_ms
        """How long an expired record is kept for the returning client's ``end_reason``."""
        self.codec = get_codec(config.codec)
        self.strict = config.conflict_policy is ConflictPolicy.RAISE
        self.header_mode = config.transport == "header"
        self.authorization = self.header_mode and config.token_header.lower() == "authorization"
        self.request_header: str | None = config.token_header.lower() if self.header_mode else None
        """Lower-case name of the request header adapters must pass as ``token_headers``."""
        vary_name = config.token_header if self.header_mode else "Cookie"
        self.vary = ResponseUpdate(vary_cookie=True, vary_name=vary_name)
        cache_control = config.signed_in_cache_control
        self.signed_in_vary = (
            self.vary
            if cache_control is None
            else ResponseUpdate(vary_cookie=True, vary_name=vary_name, cache_control=cache_control)
        )
        """What a response that used a signed-in session carries (``Cache-Control`` too)."""
        self.mode: ServerMode | SealedMode = mode.bind(self)
        """Where sessions live (bound to this core's keys)."""
        server = isinstance(self.mode, ServerMode)
        self.at_rest = AtRest(self.keyring) if config.encrypt_at_rest and server else None
        """Encryption at rest of attribute values (server-side stores, opt-in)."""

    def now_ms(self) -> int:
        """The current time in milliseconds, from one authority where there is one (R38).

        With ``time_authority="store"`` and a store that has a clock, the store's time as the
        shell last sampled it, advanced by a monotonic clock (:mod:`sessionary.sansio.clock`):
        a node's wall clock, however wrong, moves no deadline. Otherwise the configured clock,
        never going back: a wall clock stepped backwards (an NTP correction, a resumed VM)
        stays at the latest value returned until it catches up.
        """
        authority = self.authority
        if authority is not None and authority.ready:
            return authority.now_ms()
        now = int(self.config.clock() * 1000)
        floor = self._time_floor
        if now < floor:
            return floor
        # Unlocked (no threading in the sans-IO core): two threads racing here can at worst
        # leave the floor a few microseconds behind the newest value either of them read.
        self._time_floor = now
        return now

    def begin(
        self,
        cookie_headers: Iterable[str],
        *,
        client: str | None = None,
        token_headers: Iterable[str] = (),
        user_agent: str | None = None,
        tenant: str = "",
        store_down: StoreDownPolicy | None = None,
    ) -> SessionCycle:
        """Start the cycle for one request.

        ``cookie_headers`` are the request's ``Cookie`` header values; ``token_headers`` the
        values of :attr:`request_header` (header transport). The transport not configured is
        ignored. ``client`` (the peer address) and ``user_agent`` are recorded, the address
        as a keyed hash only, in the device list when the request logs in. ``tenant``
        (resolved by the server, :mod:`sessionary.sansio.tenants`) is bound into every
        storage key and the sealed cookie's AAD. ``store_down`` overrides
        ``config.store_down`` for this request (a route), in every storage mode.
        """
        return SessionCycle(
            self,
            self.mode,
            cookie_headers,
            client=client,
            token_headers=token_headers,
            user_agent=user_agent,
            tenant=tenant,
            store_down=self.config.store_down if store_down is None else store_down,
        )
