"""The Session mapping: dict semantics, change tracking, compare-and-set inputs, lifecycle."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable

import orjson
import pytest

from sessionary.codecs import get_codec
from sessionary.exceptions import (
    DecodeError,
    ReauthenticationRequiredError,
    SessionClosedError,
    StoreUnavailableError,
)
from sessionary.sansio.session import Session

CODEC = get_codec("json")


def loaded(**values: object) -> Session:
    raw = {k: CODEC.encode(v) for k, v in values.items()}
    return Session(CODEC, raw, now=1_000, is_new=False, user_id=None)


def test_dict_semantics() -> None:
    s = loaded(a=1, b=[1])
    assert len(s) == 2
    assert list(s) == ["a", "b"]
    assert s["a"] == 1
    assert s.get("zz", 5) == 5
    assert "a" in s
    assert object() not in s
    with pytest.raises(KeyError):
        s["missing"]
    assert s.setdefault("c", 3) == 3
    assert s.pop("c") == 3
    assert s.pop("c", None) is None
    s.update(d=4, e=5)
    assert dict(s.items()) == {"a": 1, "b": [1], "d": 4, "e": 5}
    key, value = s.popitem()
    assert (key, value) == ("e", 5)  # the newest first, as dict.popitem does
    del s["b"]
    s.clear()
    assert len(s) == 0
    assert s == {}
    assert repr(s) == "<Session loaded keys=[]>"


def test_a_value_that_does_not_decode_refuses_the_whole_record() -> None:
    # Never a session with a field silently missing: the cycle treats the record as corrupt.
    with pytest.raises(DecodeError):
        Session(CODEC, {"ok": CODEC.encode(1), "bad": b"\x7fgarbage"}, is_new=False)


def test_no_change_means_an_empty_delta() -> None:
    s = loaded(a=1, b="x", when=dt.date(2024, 1, 1))
    assert s["a"] == 1
    assert s.get("b") == "x"
    assert not s.delta()
    assert not s.modified
    assert s.accessed


def test_assigning_the_same_value_is_not_a_change() -> None:
    s = loaded(a=[1, 2])
    s["a"] = [1, 2]
    assert not s.delta()


def test_nested_mutation_is_detected() -> None:
    s = loaded(cart=[1], prefs={"theme": "dark"})
    s["cart"].append(2)
    s["prefs"]["theme"] = "light"
    delta = s.delta()
    assert delta.attributes == {
        "cart": CODEC.encode([1, 2]),
        "prefs": CODEC.encode({"theme": "light"}),
    }
    assert delta.expected == {"cart": CODEC.encode([1]), "prefs": CODEC.encode({"theme": "dark"})}


def test_mutation_after_assignment_is_saved() -> None:
    s = Session(CODEC)
    s["cart"] = []
    s["cart"].append(1)
    assert s.delta().attributes == {"cart": CODEC.encode([1])}


def test_expected_covers_only_keys_read_then_changed() -> None:
    s = loaded(read_write=1, blind=1, absent_checked=None, deleted=1, untouched=1)
    s["read_write"] = s["read_write"] + 1
    s["blind"] = 2
    if "new" not in s:
        s["new"] = 1
    s.get("other")
    s["other"] = 1
    del s["deleted"]
    delta = s.delta()
    assert set(delta.attributes) == {"read_write", "blind", "new", "other"}
    assert delta.delete == ("deleted",)
    assert delta.expected == {"read_write": CODEC.encode(1), "new": None, "other": None}


def test_clear_deletes_blindly() -> None:
    s = loaded(a=1, b=2)
    s.clear()
    delta = s.delta()
    assert set(delta.delete) == {"a", "b"}
    assert delta.expected == {}


def test_pop_and_setdefault_count_as_reads() -> None:
    s = loaded(a=1)
    s.pop("a")
    s.setdefault("b", [])
    assert s.delta().expected == {"a": CODEC.encode(1), "b": None}


def test_size_counts_names_and_values() -> None:
    s = loaded(ab=1)
    s["cd"] = "x"
    assert s.delta().size == len("ab") + len(CODEC.encode(1)) + len("cd") + len(CODEC.encode("x"))


def test_unserializable_values_and_keys_fail_at_assignment() -> None:
    s = Session(CODEC)
    with pytest.raises(TypeError, match="object"):
        s["x"] = object()
    with pytest.raises(TypeError, match="keys must be str"):
        s[1] = "x"  # type: ignore[index]
    assert len(s) == 0


def test_closed_sessions_refuse_changes_but_allow_reads() -> None:
    s = loaded(a=1)
    s.close()
    assert s["a"] == 1
    changes: list[Callable[[], object]] = [
        lambda: s.__setitem__("a", 2),
        lambda: s.__delitem__("a"),
        s.clear,
        s.rotate,
        s.logout,
        lambda: s.login("u"),
    ]
    for change in changes:
        with pytest.raises(SessionClosedError):
            change()


def test_an_unavailable_session_raises_its_error_on_any_access() -> None:
    error = StoreUnavailableError("down")
    s = Session(CODEC, error=error)
    assert s.unavailable
    assert repr(s) == "<Session unavailable>"
    for access in (
        lambda: s["a"],
        lambda: s.get("a"),
        lambda: "a" in s,
        lambda: len(s),
        lambda: list(s),
        s.mark_accessed,
        s.require_available,
        lambda: s.user_id,
        lambda: s.__setitem__("a", 1),
    ):
        with pytest.raises(StoreUnavailableError):
            access()


def test_login_records_user_and_time_and_requests_rotation() -> None:
    s = Session(CODEC, now=1_700_000_000_000)
    s.login(42)
    assert s.user_id == "42"
    assert s.auth_time == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.timezone.utc)
    life = s.lifecycle
    assert (life.rotate, life.auth_changed, life.user_id) == (True, True, "42")
    explicit = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    s.login("42", auth_time=explicit)
    assert s.auth_time == explicit


def test_login_as_someone_else_clears_the_data() -> None:
    s = Session(CODEC, {"cart": CODEC.encode([1])}, is_new=False, user_id="alice")
    s.login("alice")
    assert "cart" in s
    s.login("mallory")
    assert len(s) == 0


@pytest.mark.parametrize("user", ["", "x" * 257, "bad\nname"])
def test_invalid_user_ids(user: str) -> None:
    with pytest.raises(ValueError, match="user_id"):
        Session(CODEC).login(user)


def test_logout_resets_to_a_new_anonymous_session() -> None:
    s = loaded(a=1)
    s.login("u")
    s.logout()
    assert s.is_new
    assert len(s) == 0
    assert s.user_id is None
    assert s.auth_time is None
    life = s.lifecycle
    assert (life.destroy_loaded, life.rotate, life.auth_changed) == (True, False, False)
    assert s.modified
    s["flash"] = "bye"
    assert s.delta().attributes == {"flash": CODEC.encode("bye")}


def test_logout_of_a_new_session_destroys_nothing() -> None:
    s = Session(CODEC)
    s.logout()
    assert not s.lifecycle.destroy_loaded
    assert not s.modified


def test_rotate_marks_the_session_modified() -> None:
    s = loaded(a=1)
    s.rotate()
    assert s.modified
    assert s.lifecycle.rotate


def test_require_recent_auth() -> None:
    now = 1_750_000_000_000
    anonymous = Session(CODEC, now=now)
    with pytest.raises(ReauthenticationRequiredError, match="never authenticated"):
        anonymous.require_recent_auth(300)

    fresh = Session(CODEC, now=now, is_new=False, user_id="ada", auth_time=now - 60_000)
    fresh.require_recent_auth(300)
    fresh.require_recent_auth(dt.timedelta(minutes=2))

    stale = Session(CODEC, now=now, is_new=False, user_id="ada", auth_time=now - 900_000)
    with pytest.raises(ReauthenticationRequiredError) as info:
        stale.require_recent_auth(300)
    assert info.value.age_s == 900
    assert info.value.max_age_s == 300
    stale.login("ada")  # re-authentication records a fresh auth time
    stale.require_recent_auth(300)

    for bad in (0, -1, True, "300"):
        with pytest.raises(ValueError, match="positive"):
            fresh.require_recent_auth(bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- a faithful dict


def test_the_session_serialises_like_a_dict() -> None:
    s = loaded(user="ada", cart=[1, 2], prefs={"theme": "dark"})
    expected = {"user": "ada", "cart": [1, 2], "prefs": {"theme": "dark"}}
    assert isinstance(s, dict)
    assert json.loads(json.dumps(s)) == expected
    assert json.loads(json.dumps(s, sort_keys=True)) == expected
    assert orjson.loads(orjson.dumps(s)) == expected
    assert json.loads(json.dumps({"nested": s})) == {"nested": expected}
    assert s.accessed


def test_serialising_an_unavailable_session_raises_its_error() -> None:
    s = Session(CODEC, error=StoreUnavailableError("down"))
    with pytest.raises(StoreUnavailableError):
        json.dumps(s)
    assert s.refused


def test_dict_operators_and_copies() -> None:
    s = loaded(a=1, b=[1])
    merged = s | {"c": 3}
    assert type(merged) is dict
    assert merged == {"a": 1, "b": [1], "c": 3}
    assert {"z": 0} | s == {"z": 0, "a": 1, "b": [1]}
    assert not s.delta()  # reading is not writing
    s |= {"c": 3}
    s |= [("d", 4)]
    assert s.delta().attributes == {"c": CODEC.encode(3), "d": CODEC.encode(4)}
    assert s == {"a": 1, "b": [1], "c": 3, "d": 4}
    assert s != {"a": 1}
    copied = s.copy()
    assert type(copied) is dict
    assert copied == s
    assert copy.copy(s) == s
    assert type(copy.deepcopy(s)) is dict
    assert dict(s) == {**s} == copied
    assert list(reversed(s)) == ["d", "c", "b", "a"]


def test_a_mutation_through_a_copy_or_a_view_is_saved() -> None:
    s = loaded(cart=[1])
    s.copy()["cart"].append(2)  # a shallow copy shares the list, as with a dict
    assert s.delta().attributes == {"cart": CODEC.encode([1, 2])}
    t = loaded(cart=[1])
    for value in t.values():
        value.append(3)
    assert t.delta().attributes == {"cart": CODEC.encode([1, 3])}


def test_writes_through_dict_methods_are_checked_by_the_codec() -> None:
    s = Session(CODEC)
    with pytest.raises(TypeError):
        s |= {"x": object()}
    with pytest.raises(TypeError):
        s.update(x=object())
    with pytest.raises(TypeError):
        s.setdefault("x", object())
    assert s == {}


def test_popitem_is_lifo_and_tracked() -> None:
    s = loaded(a=1, b=2)
    assert s.popitem() == ("b", 2)
    delta = s.delta()
    assert delta.delete == ("b",)
    assert delta.expected == {"b": CODEC.encode(2)}
    s.popitem()
    with pytest.raises(KeyError):
        s.popitem()


def test_discard_changes_keeps_only_logout_and_explicit_rotation() -> None:
    s = loaded(a=1)
    s["a"] = 2
    s["b"] = [1]
    s.login("mallory")
    s.discard_changes()
    assert s == {"a": 1}
    assert s.user_id is None
    assert not s.modified
    rotated = loaded(a=1)
    rotated["a"] = 2
    rotated.rotate()
    rotated.discard_changes()
    assert rotated == {"a": 1}
    assert rotated.lifecycle.rotate
    assert not rotated.delta()
    out = loaded(a=1)
    out.logout()
    out["flash"] = "bye"
    out.discard_changes()
    assert out.lifecycle.destroy_loaded
    assert not out.delta()


def test_logout_after_the_headers_asks_for_a_late_destroy() -> None:
    s = loaded(a=1)
    s.close()
    with pytest.raises(SessionClosedError, match="cookie could not be cleared"):
        s.logout()
    assert s.late_destroy
    fresh = Session(CODEC)
    fresh.close()
    with pytest.raises(SessionClosedError):
        fresh.logout()
    assert not fresh.late_destroy
