"""sessionary's Django engine against Django's own: the ``SessionBase`` contract, side by side.

Each behaviour is checked on ``django.contrib.sessions.backends.cache`` (Django's cache
engine on the local-memory cache) and on sessionary's engine with the same steps: the flags
(``accessed``/``modified``), ``load()``, ``save()`` after a logout elsewhere, and what
Django's middleware (or sessionary's) stores after a view that sets ``modified = False``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http.cookies import SimpleCookie
from typing import Any

import pytest

from sessionary import ConfigurationError
from sessionary.integrations.django import SessionStore, config_from_settings
from sessionary.stores import MemoryStore
from sessionary.testing import session_config
from tests.conformance.drivers.django import MIDDLEWARE, configure_django

configure_django()

from django.contrib.sessions.backends.base import SessionBase, UpdateError  # noqa: E402
from django.contrib.sessions.backends.cache import SessionStore as CacheStore  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402

DJANGO_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
Engine = Callable[..., SessionBase]


@pytest.fixture
def sessionary_engine() -> Iterator[None]:
    with override_settings(SESSIONARY={"CONFIG": session_config(), "STORE": MemoryStore()}):
        yield


@pytest.fixture(params=["django-cache", "sessionary"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The session class under test: Django's cache engine or sessionary's."""
    if request.param == "django-cache":
        yield CacheStore
        return
    request.getfixturevalue("sessionary_engine")
    yield SessionStore


# ------------------------------------------------------------------------ the flags
STEPS: dict[str, Callable[[SessionBase], object]] = {
    "get": lambda s: s.get("a"),
    "contains": lambda s: "a" in s,
    "has_key": lambda s: s.has_key("a"),
    "keys": lambda s: list(s.keys()),
    "items": lambda s: list(s.items()),
    "values": lambda s: list(s.values()),
    "set": lambda s: s.__setitem__("a", 1),
    "set_list": lambda s: s.__setitem__("b", [1]),
    "delete": lambda s: s.__delitem__("a"),
    "pop": lambda s: s.pop("a", None),
    "pop_missing": lambda s: s.pop("missing", None),
    "setdefault_present": lambda s: s.setdefault("a", 5),
    "setdefault_absent": lambda s: s.setdefault("c", 5),
    "update": lambda s: s.update({"d": 1}),
    "clear": lambda s: s.clear(),
    "not_modified": lambda s: setattr(s, "modified", False),
    "not_accessed": lambda s: setattr(s, "accessed", False),
    "save": lambda s: s.save(),
    "cycle_key": lambda s: s.cycle_key(),
    "flush": lambda s: s.flush(),
    "is_empty": lambda s: s.is_empty(),
    "load": lambda s: s.load(),
}
SEQUENCES = [
    ["get"],
    ["contains"],
    ["has_key"],
    ["keys"],
    ["items"],
    ["values"],
    ["is_empty"],
    ["pop_missing"],
    ["setdefault_absent"],
    ["update"],
    ["clear"],
    ["cycle_key"],
    ["set", "setdefault_present"],
    ["set", "delete"],
    ["set", "pop"],
    ["set", "not_modified"],
    ["set", "not_modified", "get"],
    ["set", "not_modified", "keys"],
    ["set_list", "not_modified", "values"],
    ["set", "not_modified", "pop_missing"],
    ["set", "not_modified", "pop"],
    ["set", "not_modified", "setdefault_present"],
    ["set", "not_modified", "save", "load"],
    ["set", "not_accessed"],
    ["set", "not_accessed", "has_key"],
    ["set", "save"],
    ["set", "save", "get"],
    ["set", "save", "is_empty"],
    ["set", "save", "load"],
    ["set", "save", "set_list", "load"],
    ["set", "save", "set_list", "not_modified", "save"],
    ["set", "cycle_key"],
    ["set", "save", "flush"],
]


def run(engine: Engine, steps: list[str]) -> list[tuple[str, object, bool, bool]]:
    """Each step's result (lifecycle steps: none) with ``accessed`` and ``modified`` after it."""
    session = engine()
    trace = []
    for step in steps:
        result = STEPS[step](session)
        if step in ("save", "cycle_key", "flush"):
            result = None
        trace.append((step, result, session.accessed, session.modified))
    return trace


@pytest.mark.parametrize("steps", SEQUENCES, ids=["-".join(s) for s in SEQUENCES])
def test_accessed_and_modified_follow_djangos_engines(
    steps: list[str], sessionary_engine: None
) -> None:
    assert run(SessionStore, steps) == run(CacheStore, steps)


# ------------------------------------------------------------------------ load() and save()
def test_load_returns_what_is_stored_not_unsaved_changes(engine: Engine) -> None:
    session = engine()
    session["a"] = 1
    session.save()
    session["b"] = 2
    assert session.load() == {"a": 1}
    assert session["b"] == 2  # the unsaved change is still there


def test_load_of_a_deleted_session_forgets_its_key(engine: Engine) -> None:
    session = engine()
    session["a"] = 1
    session.save()
    engine(session.session_key).delete()
    assert session.load() == {}
    assert session.session_key is None


def test_a_reused_store_whose_session_was_deleted_elsewhere_refuses_to_save(
    engine: Engine,
) -> None:
    """Saved, logged out by another process, changed again: ``UpdateError``, as Django's."""
    session = engine()
    session["a"] = 1
    session.save()
    key = session.session_key
    assert key is not None
    engine(key).flush()  # a logout elsewhere
    session["b"] = 2
    with pytest.raises(UpdateError):
        session.save()
    assert not engine().exists(key)  # and no session came back under that key


def test_a_bare_save_of_a_session_deleted_elsewhere_raises_too(engine: Engine) -> None:
    session = engine()
    session["a"] = 1
    session.save()
    engine(session.session_key).delete()
    with pytest.raises(UpdateError):
        session.save()


def test_a_deleted_session_is_not_resurrected_under_a_new_key(sessionary_engine: None) -> None:
    """sessionary used to store the new change under a fresh key (a session nobody ended)."""
    session = SessionStore()
    session["a"] = 1
    session.save()
    SessionStore(session.session_key).flush()
    session["b"] = 2
    with pytest.raises(UpdateError):
        session.save()
    assert session.session_key is None
    assert session.is_empty()


def test_an_empty_session_is_true_as_every_sessionbase(engine: Engine) -> None:
    """Django's test client checks ``if self.session:`` to reuse a session."""
    assert bool(engine()) is True


# ------------------------------------------------------------------------ through a request
def cancelled(request: HttpRequest) -> HttpResponse:
    """Writes, then tells the middleware not to save (Django's ``modified = False``)."""
    request.session["a"] = "1"
    request.session.modified = False
    return JsonResponse({})


def cancelled_then_written(request: HttpRequest) -> HttpResponse:
    request.session["a"] = "1"
    request.session.modified = False
    request.session["b"] = "2"  # a change after the cancel: everything is saved
    return JsonResponse({})


def read_not_accessed(request: HttpRequest) -> HttpResponse:
    data = {"a": request.session.get("a")}
    request.session.accessed = False  # the response does not depend on the session
    return JsonResponse(data)


def write(request: HttpRequest) -> HttpResponse:
    request.session["a"] = "0"
    return JsonResponse({})


urlpatterns = [
    path("write", write),
    path("cancelled", cancelled),
    path("cancelled-then-written", cancelled_then_written),
    path("read-not-accessed", read_not_accessed),
]


@pytest.fixture(params=["django", "sessionary"])
def site(request: pytest.FixtureRequest) -> Iterator[tuple[str, Engine]]:
    """The views behind Django's middleware and cache engine, or sessionary's (cookie, engine)."""
    if request.param == "django":
        with override_settings(
            ROOT_URLCONF=__name__,
            MIDDLEWARE=DJANGO_MIDDLEWARE,
            SESSION_ENGINE="django.contrib.sessions.backends.cache",
            SESSION_COOKIE_NAME="sessionid",
        ):
            yield "sessionid", CacheStore
        return
    with override_settings(
        ROOT_URLCONF=__name__,
        MIDDLEWARE=MIDDLEWARE,
        SESSIONARY={"CONFIG": session_config(), "STORE": MemoryStore()},
    ):
        yield "__Host-session", SessionStore


def visit(cookie: str, url: str, token: str | None = None) -> Any:
    client = Client()
    client.cookies = SimpleCookie({cookie: token} if token else {})
    return client.post(url, secure=True)


def test_modified_false_cancels_the_pending_write(site: tuple[str, Engine]) -> None:
    cookie, engine = site
    assert cookie not in visit(cookie, "/cancelled").cookies  # a new session: nothing stored
    token = visit(cookie, "/write").cookies[cookie].value
    visit(cookie, "/cancelled", token)
    assert engine(token).load() == {"a": "0"}
    visit(cookie, "/cancelled-then-written", token)
    assert engine(token).load() == {"a": "1", "b": "2"}


def test_accessed_false_leaves_vary_cookie_out(site: tuple[str, Engine]) -> None:
    cookie, _ = site
    token = visit(cookie, "/write").cookies[cookie].value
    response = visit(cookie, "/read-not-accessed", token)
    assert response.json() == {"a": "0"}
    assert "Cookie" not in response.get("Vary", "")


# ------------------------------------------------------------------------ settings
@pytest.mark.parametrize(
    "overrides",
    [{"SESSION_COOKIE_DOMAIN": "example.com"}, {"SESSION_COOKIE_PATH": "/app"}],
)
def test_a_scoped_cookie_with_the_default_name_says_which_setting_to_change(
    overrides: dict[str, str],
) -> None:
    with override_settings(**overrides), pytest.raises(ConfigurationError) as refused:
        config_from_settings()
    message = str(refused.value)
    assert "__Host-" in message
    assert "SESSION_COOKIE_NAME" in message
    with override_settings(SESSION_COOKIE_NAME="__Secure-session", **overrides):
        cookie = config_from_settings().cookie
    assert (cookie.domain, cookie.path) != (None, "/")
