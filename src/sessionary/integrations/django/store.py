"""``SessionStore``: Django's ``SessionBase`` implemented over sessionary's session cycle.

A store holds at most one open *cycle* (``manager.open`` → the handler's changes →
``manager.commit``). Reading or writing opens it on first use (one store round trip when
there is a key); :meth:`SessionStore.save` commits it, and the next use opens a new one
under the resulting key. The commits' header changes are merged for the middleware.

Two modes:

* **managed** — built by sessionary's ``SessionMiddleware`` around the request's cycle:
  ``cycle_key()`` and ``flush()`` are recorded and carried out by the middleware's commit,
  together with the data (``auth.login`` costs one write, not three);
* **stand-alone** — ``SessionStore(key)`` (Django's own middleware, the test client, a
  shell): they take effect at once, like Django's engines.

In both, reading :attr:`SessionStore.session_key` or calling ``exists()`` after a pending
rotation or logout commits it first, so the key reported is the key in the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.contrib.sessions.backends.base import CreateError, SessionBase, UpdateError

from sessionary.exceptions import ConfigurationError
from sessionary.integrations.django.conf import Runtime, get_runtime
from sessionary.integrations.django.expiry import EXPIRY_KEY, deadline_of, shape_cookie
from sessionary.sansio.cycle import ResponseUpdate, SessionCycle
from sessionary.sansio.gate import Open, RequestInfo
from sessionary.sansio.ids import parse_token
from sessionary.sansio.session import Session
from sessionary.sansio.settle import COMMIT_ERRORS, Answer, Settlement
from sessionary.sansio.transport import AUTHORIZATION_SCHEME

__all__ = ["SessionStore"]

_AUTH_USER = "_auth_user_id"  # django.contrib.auth.SESSION_KEY


def _merge(old: ResponseUpdate | None, new: ResponseUpdate) -> ResponseUpdate:
    """Two commits' header changes as one (the later ID decision wins)."""
    if old is None:
        return new
    return ResponseUpdate(
        set_cookie=new.set_cookie if new.set_cookie is not None else old.set_cookie,
        vary_cookie=old.vary_cookie or new.vary_cookie,
        no_store=old.no_store or new.no_store,
        cache_control=new.cache_control or old.cache_control,
        vary_name=new.vary_name,
        token_header=new.token_header if new.token_header is not None else old.token_header,
    )


def _lifecycle_pending(session: Session) -> bool:
    if session.unavailable:
        return False
    lifecycle = session.lifecycle
    return lifecycle.destroy_loaded or (lifecycle.rotate and not session.is_new)


class SessionStore(SessionBase):
    """Django's session API on sessionary (``SESSION_ENGINE = "sessionary.integrations.django"``).

    Differences from Django's engines, all deliberate: an empty session is never stored (no
    record, no key, no cookie until it holds data or a user: docs/security.md R7), so ``save()``
    and ``create()`` of an empty session leave :attr:`session_key` ``None``; keys are
    sessionary's 43-character IDs; ``create()`` starts an empty session; values are what
    sessionary's codec accepts (JSON types, dates, decimals, UUIDs, sets...).

    On top of ``SessionBase``: :attr:`sessionary` (the :class:`sessionary.Session`),
    :attr:`user_id`, :meth:`login`, :meth:`logout` and :meth:`rotate`. ``auth.login()``
    also records the user as sessionary's ``user_id`` (seen by the other adapters).
    """

    def __init__(
        self,
        session_key: str | None = None,
        *,
        runtime: Runtime | None = None,
        cycle: SessionCycle | None = None,
        tenant: str = "",
        admitted: tuple[RequestInfo, Open] | None = None,
    ) -> None:
        self._runtime = runtime if runtime is not None else get_runtime()
        if self._runtime.tenants is not None and cycle is None and not tenant:
            msg = (
                "with SESSIONARY['TENANTS'], sessions come from sessionary's SessionMiddleware "
                "(it resolves each request's tenant); pass tenant= to build one yourself"
            )
            raise ConfigurationError(msg)
        self._tenant = tenant
        self._managed = cycle is not None
        self._cycle: SessionCycle | None = None
        self._key: str | None = None
        self._accessed = False
        self._modified = False
        self._cancelled = False  # ``modified = False`` since the last change: do not save
        self._live = False  # the key named a record this object loaded or saved
        self._vanished = False  # ... and that record was gone when the key was used again
        self._checked = False  # custom expiry checked for the open cycle
        self._expiry: Any = None  # the custom expiry (``_session_expiry``) as last seen
        self._failed = False  # the handler touched a session the store could not load
        self._update: ResponseUpdate | None = None
        self._finished = False  # the middleware committed the request (see finish())
        self._final: SessionCycle | None = None  # the request's cycle, closed, after finish()
        self._admitted = admitted  # a lazy request the gate admitted: loaded on first use
        super().__init__(session_key)
        self._cancelled = False  # SessionBase.__init__ sets ``modified = False``: no request
        if cycle is not None:
            self._bind(cycle)

    # ------------------------------------------------------------------ flags and key
    @property
    def accessed(self) -> bool:
        """Whether the session was read or written (drives ``Vary: Cookie``), as in Django.

        Setting it to ``False`` (Django's idiom for a response that does not depend on the
        session) leaves ``Vary: Cookie`` out, unless the response sets or clears the cookie.
        """
        return self._accessed

    @accessed.setter
    def accessed(self, value: bool) -> None:
        self._accessed = value

    @property
    def modified(self) -> bool:
        """Whether saving would write (nested mutation included: values are compared).

        Setting it to ``False`` cancels the pending write, as with Django's middleware,
        until the next change: the middleware then commits only a logout or a rotation.
        ``save()`` still writes, as Django's does.
        """
        if self._cancelled:
            return False
        cycle = self._cycle
        return self._modified or (cycle is not None and cycle.session.modified)

    @modified.setter
    def modified(self, value: bool) -> None:
        self._modified = value
        self._cancelled = not value

    @property
    def tenant(self) -> str:
        """The request's tenant (``""`` without ``SESSIONARY['TENANTS']``).

        Pass it to ``revoke_user``, ``list_user_sessions``... of ``get_runtime().manager``.
        """
        return self._tenant

    @property
    def session_key(self) -> str | None:
        """The session's ID in the store (``None`` until it holds data)."""
        if self._admitted is not None:  # lazily loaded: the ID is known once it is read
            self._get_session()
        self._settle()
        return self._key

    @property
    def _session_key(self) -> str | None:
        return self._key

    @_session_key.setter
    def _session_key(self, value: str | None) -> None:
        self._key = value if self._validate_session_key(value) else None

    def _validate_session_key(self, key: object) -> bool:
        """Only well-formed sessionary IDs (43 characters of base64url) are keys."""
        return isinstance(key, str) and parse_token(key) is not None

    # ------------------------------------------------------------------ the cycle
    def _headers(self, key: str | None) -> tuple[list[str], list[str]]:
        """Request headers presenting ``key``, for the manager (cookie or token header)."""
        if key is None:
            return [], []
        config = self._runtime.config
        if config.transport == "header":
            authorization = config.token_header.lower() == "authorization"
            return [], [f"{AUTHORIZATION_SCHEME} {key}" if authorization else key]
        return [f"{config.cookie.name}={key}"], []

    def _open(self, key: str | None) -> SessionCycle:
        cookies, tokens = self._headers(key)
        return self._runtime.manager.open(cookies, token_headers=tokens, tenant=self._tenant)

    async def _aopen(self, key: str | None) -> SessionCycle:
        if key is None:
            return self._open(None)  # no ID: no I/O
        manager = self._runtime.async_manager
        if manager is None:
            return await sync_to_async(self._open)(key)
        cookies, tokens = self._headers(key)
        return await manager.open(cookies, token_headers=tokens, tenant=self._tenant)

    def _first_open(self) -> SessionCycle:
        """The first cycle: the admitted request's own (lazy mounts), else the key's."""
        admitted, self._admitted = self._admitted, None
        if admitted is None:
            return self._open(self._key)
        cycle = self._runtime.manager.open_admitted(*admitted)
        self._key = cycle.loaded_id
        return cycle

    async def _afirst_open(self) -> SessionCycle:
        """Async :meth:`_first_open`."""
        admitted, self._admitted = self._admitted, None
        if admitted is None:
            return await self._aopen(self._key)
        manager = self._runtime.async_manager
        if manager is None:
            cycle = await sync_to_async(self._runtime.manager.open_admitted)(*admitted)
        else:
            cycle = await manager.open_admitted(*admitted)
        self._key = cycle.loaded_id
        return cycle

    def lazy_cycle(self) -> SessionCycle:
        """The request's cycle, loaded now if it was not yet (the CSRF helper's source)."""
        self._get_session()
        cycle = self._cycle or self._final
        assert cycle is not None
        return cycle

    def _bind(self, cycle: SessionCycle) -> None:
        self._cycle = cycle
        self._checked = False
        session = cycle.session
        if session.unavailable:
            return
        if not session.is_new:
            self._live = True
        elif self._key is not None:
            # Unknown, expired or malformed: nothing to name. A record this object loaded or
            # saved is gone (a logout elsewhere): the next save() raises UpdateError.
            self._vanished = self._live
            self._key = None

    def _ready(self, session: Session) -> Session:
        self._accessed = True
        if session.unavailable:
            self._failed = True
            session.require_available()  # raises StoreUnavailableError
        if not self._checked:
            self._checked = True
            self._expiry = session.get(EXPIRY_KEY)
            deadline = deadline_of(self._expiry)
            if deadline is not None and self._runtime.config.clock() >= deadline:
                session.logout()  # the custom expiry date has passed: end it
                self._key = self._expiry = None
        return session

    def _get_session(self, no_load: bool = False) -> Session:
        if self._finished:
            if self._final is None:
                self._final = self._first_open()
                self._runtime.manager.commit(self._final)  # nothing changed: closes it
            return self._closed(self._final.session)
        if self._cycle is None:
            self._bind(self._first_open())
        assert self._cycle is not None
        return self._ready(self._cycle.session)

    async def _aget_session(self, no_load: bool = False) -> Session:
        if self._finished:
            if self._final is None:
                self._final = await self._afirst_open()
                await self._commit_with(self._final, failed=False)  # nothing changed
            return self._closed(self._final.session)
        if self._cycle is None:
            self._bind(await self._afirst_open())
        assert self._cycle is not None
        return self._ready(self._cycle.session)

    def _closed(self, session: Session) -> Session:
        """The request's session after the middleware committed it: reads work, changes raise."""
        self._accessed = True
        session.require_available()
        return session

    _session = property(_get_session)

    def _before_commit(self) -> tuple[SessionCycle, bool] | None:
        cycle, self._cycle = self._cycle, None
        if cycle is None:
            return None
        session = cycle.session
        if session.unavailable:
            return cycle, False
        if self._checked:  # used in this cycle: note the custom expiry for the cookie
            self._expiry = session.get(EXPIRY_KEY)
        return cycle, not session.is_new

    def _after_commit(self, cycle: SessionCycle, backed: bool, update: ResponseUpdate) -> bool:
        """Track the key a commit left; ``True`` when the record was gone (UpdateError)."""
        self._update = _merge(self._update, update)
        issued = cycle.issued_id
        if issued is not None:
            self._key = issued
        elif cycle.ended or cycle.session.is_new:
            self._key = None
        self._live = self._key is not None
        return backed and cycle.ended

    def _commit(self, *, failed: bool = False) -> bool:
        pending = self._before_commit()
        if pending is None:
            return False
        cycle, backed = pending
        update = self._runtime.manager.commit(cycle, failed=failed)
        return self._after_commit(cycle, backed, update)

    async def _acommit(self, *, failed: bool = False) -> bool:
        pending = self._before_commit()
        if pending is None:
            return False
        cycle, backed = pending
        return self._after_commit(cycle, backed, await self._commit_with(cycle, failed=failed))

    async def _commit_with(self, cycle: SessionCycle, *, failed: bool) -> ResponseUpdate:
        manager = self._runtime.async_manager
        if manager is None:
            commit = self._runtime.manager.commit
            return await sync_to_async(commit)(cycle, failed=failed)
        return await manager.commit(cycle, failed=failed)

    def _settle(self) -> None:
        """Commit a pending rotation or logout, so the store and :attr:`session_key` agree."""
        if self._cycle is not None and _lifecycle_pending(self._cycle.session):
            self._commit()

    def _final_failed(self, failed: bool) -> bool:
        """Whether the middleware's commit keeps only a logout or a rotation.

        The request failed (a 5xx), ``modified = False`` was set after the last change, or
        the record this object saved was deleted meanwhile (its changes would otherwise
        start a new session silently).
        """
        return failed or self._cancelled or self._vanished

    def finish(self, *, failed: bool = False) -> ResponseUpdate:
        """The middleware's commit: what is left, then the whole request's header changes.

        ``failed``: the request failed (a 5xx): only a logout or a rotation is committed.
        Commits made earlier in the request (an explicit ``save()``) keep their cookie.
        Afterwards the session stays readable and a change raises
        :class:`~sessionary.exceptions.SessionClosedError` (a streamed response); a late
        ``flush()`` still ends the session, in :meth:`after_response`.
        """
        final = self._cycle
        self._finished = True
        self._commit(failed=self._final_failed(failed))
        self._final = final
        return self._response_update()

    async def afinish(self, *, failed: bool = False) -> ResponseUpdate:
        """Async :meth:`finish`."""
        final = self._cycle
        self._finished = True
        await self._acommit(failed=self._final_failed(failed))
        self._final = final
        return self._response_update()

    def settle(self, *, status: int | None = None, error: BaseException | None = None) -> Answer:
        """The middleware's commit under the gate's rules: the :class:`Answer` for the response.

        ``status``: the response's; ``None`` when the view raised ``error`` instead.
        """
        plan = self._plan(status, error)
        try:
            update = self.finish(failed=plan.failed)
        except COMMIT_ERRORS as exc:
            return plan.after_error(exc)
        return plan.after(update)

    async def asettle(
        self, *, status: int | None = None, error: BaseException | None = None
    ) -> Answer:
        """Async :meth:`settle`."""
        plan = self._plan(status, error)
        try:
            update = await self.afinish(failed=plan.failed)
        except COMMIT_ERRORS as exc:
            return plan.after_error(exc)
        return plan.after(update)

    def _plan(self, status: int | None, error: BaseException | None) -> Settlement:
        return self._runtime.gate.settlement(status=status, error=error, refused=self._failed)

    def _late_cycle(self) -> SessionCycle | None:
        final = self._final
        if final is None or not final.session.late_destroy:
            return None
        return final

    def after_response(self) -> None:
        """Once the response is over: end the session a late ``flush()`` asked to end."""
        cycle = self._late_cycle()
        if cycle is None:
            return
        runtime = self._runtime
        if runtime.store is not None:
            runtime.manager.after_response(cycle)
        elif runtime.async_manager is not None:
            async_to_sync(runtime.async_manager.after_response)(cycle)

    async def aafter_response(self) -> None:
        """Async :meth:`after_response`."""
        cycle = self._late_cycle()
        if cycle is None:
            return
        manager = self._runtime.async_manager
        if manager is None:
            await sync_to_async(self._runtime.manager.after_response)(cycle)
        else:
            await manager.after_response(cycle)

    def _response_update(self) -> ResponseUpdate:
        update = self._update or ResponseUpdate()
        if not update.set_cookie or self._expiry is None or not self._key:
            return update
        config = self._runtime.config
        cap = min(config.absolute_timeout_ms // 1000, config.max_cookie_age_s)
        cookie = shape_cookie(update.set_cookie, self._expiry, now=config.clock(), cap=cap)
        return _merge(update, ResponseUpdate(set_cookie=cookie))

    # ------------------------------------------------------------------ mapping
    def __setitem__(self, key: str, value: Any) -> None:
        session = self._get_session()
        if key == _AUTH_USER and isinstance(value, str) and value:
            session.login(value)  # auth.login(): record the user as sessionary does
        session[key] = value
        self.modified = True

    async def aset(self, key: str, value: Any) -> None:
        """Async ``session[key] = value``."""
        await self._aget_session()
        self[key] = value

    def clear(self) -> None:
        """Remove every value (the session itself goes on; see :meth:`flush`)."""
        self._get_session().clear()
        self.modified = True

    def is_empty(self) -> bool:
        """``True`` when there is no key and no data."""
        if self._key is not None:
            return False
        cycle = self._cycle
        if cycle is None:
            return True
        session = cycle.session
        return not session.unavailable and len(session) == 0

    # ------------------------------------------------------------------ lifecycle
    def cycle_key(self) -> None:
        """A new ID for the same data (``auth.login`` calls this): the old ID stops working."""
        self._get_session().rotate()
        self.modified = True
        if not self._managed:
            self._commit()

    async def acycle_key(self) -> None:
        """Async :meth:`cycle_key`."""
        (await self._aget_session()).rotate()
        self.modified = True
        if not self._managed:
            await self._acommit()

    def flush(self) -> None:
        """End the session (``auth.logout`` calls this): record destroyed, cookie cleared.

        The object goes on as a new, empty session without a key.
        """
        self._get_session().logout()
        self._key = self._expiry = None
        self.modified = True
        if not self._managed:
            self._commit()

    async def aflush(self) -> None:
        """Async :meth:`flush`."""
        (await self._aget_session()).logout()
        self._key = self._expiry = None
        self.modified = True
        if not self._managed:
            await self._acommit()

    def refuse(self, error: BaseException) -> None:
        """Report that the request is answered 503 for want of the store (``fail_closed``).

        Sync code (``process_exception`` runs in a thread in async mode too).
        """
        cycle = self._cycle
        if cycle is None:
            return
        runtime = self._runtime
        if runtime.store is not None:
            runtime.manager.refuse(cycle, error)
        elif runtime.async_manager is not None:
            async_to_sync(runtime.async_manager.refuse)(cycle, error)

    def exists(self, session_key: str | None) -> bool:
        """Whether ``session_key`` names a live session (one store round trip)."""
        self._settle()
        if not self._validate_session_key(session_key):
            return False
        probe = self._open(session_key).session
        probe.require_available()
        return not probe.is_new

    async def aexists(self, session_key: str | None) -> bool:
        """Async :meth:`exists`."""
        if self._cycle is not None and _lifecycle_pending(self._cycle.session):
            await self._acommit()
        if not self._validate_session_key(session_key):
            return False
        probe = (await self._aopen(session_key)).session
        probe.require_available()
        return not probe.is_new

    def create(self) -> None:
        """Start a new, empty session in place of this one (which is left as it is).

        Its record and key come into being with the first :meth:`save` that stores data.
        """
        self._bind(self._open(None))
        self._key = self._expiry = None
        self.modified = True

    async def acreate(self) -> None:
        """Async :meth:`create` (no I/O)."""
        self.create()

    def save(self, must_create: bool = False) -> None:
        """Commit the changes now (at most one write; an empty new session writes nothing).

        Raises ``UpdateError`` when the record was deleted meanwhile (a logout elsewhere),
        ``CreateError`` for ``must_create`` on a session that already has a record.
        """
        if must_create and self._key is not None:
            raise CreateError
        if self._key is None:
            self.modified = True  # Django's save() of a keyless session create()s it
        elif self._cycle is None and not self._finished:
            self._get_session()  # as Django's save() does: notices a deleted record
        self._check_vanished()
        if self._commit():
            raise UpdateError

    async def asave(self, must_create: bool = False) -> None:
        """Async :meth:`save`."""
        if must_create and self._key is not None:
            raise CreateError
        if self._key is None:
            self.modified = True
        elif self._cycle is None and not self._finished:
            await self._aget_session()
        self._check_vanished()
        if await self._acommit():
            raise UpdateError

    def _check_vanished(self) -> None:
        """``UpdateError`` when the record this object saved or loaded was deleted meanwhile.

        The changes are dropped rather than stored under a new key (Django's backends refuse
        to resurrect a session another process ended).
        """
        if not self._vanished:
            return
        self._vanished = self._live = False
        cycle, self._cycle = self._cycle, None
        if cycle is not None:
            cycle.session.close()
        raise UpdateError

    def delete(self, session_key: str | None = None) -> None:
        """Destroy ``session_key`` (default: this session, which becomes new and empty)."""
        if session_key is None or session_key == self._key:
            if self._key is None and self._cycle is None:
                return
            self._get_session().logout()
            self._key = self._expiry = None
            self._commit()
            return
        if self._validate_session_key(session_key):
            other = self._open(session_key)
            if self._destroy(other):
                self._runtime.manager.commit(other)

    async def adelete(self, session_key: str | None = None) -> None:
        """Async :meth:`delete`."""
        if session_key is None or session_key == self._key:
            if self._key is None and self._cycle is None:
                return
            (await self._aget_session()).logout()
            self._key = self._expiry = None
            await self._acommit()
            return
        if self._validate_session_key(session_key):
            other = await self._aopen(session_key)
            if not self._destroy(other):
                return
            manager = self._runtime.async_manager
            if manager is None:
                await sync_to_async(self._runtime.manager.commit)(other)
            else:
                await manager.commit(other)

    @staticmethod
    def _destroy(cycle: SessionCycle) -> bool:
        """Log ``cycle``'s session out; ``False`` when there is no record to destroy."""
        session = cycle.session
        session.require_available()
        if session.is_new:
            return False
        session.logout()
        return True

    @staticmethod
    def _copy(session: Session) -> dict[str, Any]:
        data = {}
        for key in list(session):
            try:
                data[key] = session[key]
            except KeyError:
                continue  # a value that no longer decodes reads as absent
        return data

    def load(self) -> dict[str, Any]:
        """What the store holds for :attr:`session_key`, as a new ``dict`` (not unsaved changes).

        One store round trip; ``{}`` without a key or a record (the key is then forgotten,
        as Django's backends do: the next ``save()`` starts a new session).
        """
        if self._key is None:
            return {}
        return self._stored(self._open(self._key))

    async def aload(self) -> dict[str, Any]:
        """Async :meth:`load`."""
        if self._key is None:
            return {}
        return self._stored(await self._aopen(self._key))

    def _stored(self, probe: SessionCycle) -> dict[str, Any]:
        session = probe.session
        session.require_available()
        if session.is_new:  # as Django's backends: the key names nothing any more
            self._key = None
            self._live = False
            return {}
        return self._copy(session)

    # ------------------------------------------------------------------ dict operations
    # Beyond SessionBase: the dict operations the other adapters' sessions have (a Session
    # is a dict), so code moved between frameworks keeps working.
    def __iter__(self) -> Iterator[str]:
        return iter(list(self._get_session()))

    def __len__(self) -> int:
        return len(self._get_session())

    def __bool__(self) -> bool:
        """Always true, as every ``SessionBase``: Django tests ``if client.session:``."""
        return True

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SessionStore):
            other = other._get_session()
        return self._get_session() == other

    __hash__ = None  # type: ignore[assignment] # a mutable mapping, like dict

    def __or__(self, other: Any) -> dict[str, Any]:  # type: ignore[override]
        return self._get_session() | other  # type: ignore[no-any-return]

    def __ior__(self, other: Any) -> SessionStore:  # type: ignore[override]
        self.update(other)
        return self

    def popitem(self) -> tuple[str, Any]:
        """Remove and return the most recently set (name, value) pair, as ``dict`` does."""
        pair = self._get_session().popitem()
        self.modified = True
        return pair

    def copy(self) -> dict[str, Any]:
        """A shallow copy of the data as a plain ``dict``."""
        return self._get_session().copy()

    @classmethod
    def clear_expired(cls) -> None:
        """Drop expired sessions the store still holds.

        Redis expires its keys itself (TTLs), so with Redis there is nothing to do; the memory
        store is swept. ``manage.py clearsessions`` calls this.
        """
        runtime = get_runtime()
        purge = getattr(runtime.store, "purge_expired", None)
        if purge is not None:
            purge(int(runtime.config.clock() * 1000))

    @classmethod
    async def aclear_expired(cls) -> None:
        """Async :meth:`clear_expired` (no I/O)."""
        cls.clear_expired()

    # ------------------------------------------------------------------ expiry
    def get_session_cookie_age(self) -> int:
        """Seconds a session lives without a custom expiry: sessionary's idle timeout."""
        return self._runtime.config.idle_timeout_ms // 1000

    def get_expire_at_browser_close(self) -> bool:
        """Whether the cookie ends with the browser session (custom expiry ``0``, or config)."""
        expiry = self.get(EXPIRY_KEY)
        if expiry is None:
            return not self._runtime.config.cookie.persistent
        return bool(expiry == 0)

    async def aget_expire_at_browser_close(self) -> bool:
        """Async :meth:`get_expire_at_browser_close`."""
        await self._aget_session()
        return self.get_expire_at_browser_close()

    @property
    def store_failed(self) -> bool:
        """Whether the handler touched this session while the store was unavailable."""
        return self._failed

    # ------------------------------------------------------------------ sessionary's API
    @property
    def sessionary(self) -> Session:
        """The underlying :class:`sessionary.Session`."""
        return self._get_session()

    @property
    def user_id(self) -> str | None:
        """The signed-in user (sessionary's ``login``), or ``None``."""
        return self._get_session().user_id

    def login(self, user_id: str | int) -> None:
        """Sign ``user_id`` in: rotates the ID (keeps the data), records the user."""
        self._get_session().login(user_id)
        self.modified = True
        if not self._managed:
            self._commit()

    def logout(self) -> None:
        """Same as :meth:`flush`."""
        self.flush()

    def rotate(self) -> None:
        """Same as :meth:`cycle_key`."""
        self.cycle_key()
