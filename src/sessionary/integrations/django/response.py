"""Django responses: the session's headers where Django's tools look, and a stream's end."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, cast

from django.http import HttpResponseBase, StreamingHttpResponse

from sessionary.sansio.headers import header_changes
from sessionary.sansio.update import ResponseUpdate

if TYPE_CHECKING:
    from sessionary.integrations.django.store import SessionStore

__all__ = ["apply", "end_with_the_stream"]


def _into_cookie_jar(response: HttpResponseBase, set_cookie: str) -> bool:
    """Put a ``Set-Cookie`` value into ``response.cookies`` (where Django's tools look)."""
    parsed: SimpleCookie = SimpleCookie()
    parsed.load(set_cookie)  # our own rendering: a valid token name and value
    if len(parsed) != 1:  # an attribute SimpleCookie does not know (Partitioned)
        return False
    response.cookies.update(parsed)
    return True


def apply(update: ResponseUpdate, response: HttpResponseBase) -> None:
    """Merge ``update`` into the response (``Set-Cookie`` into ``response.cookies``)."""
    changes = header_changes(update, response.headers.get("Vary"))
    for name, value in changes.replace.items():
        response.headers[name] = value
    for name, value in changes.default.items():
        if name not in response.headers:  # the view's own policy (``cache_control``) wins
            response.headers[name] = value
    for name, value in changes.append:
        if name.lower() != "set-cookie" or not _into_cookie_jar(response, value):
            response.headers[name] = value


def end_with_the_stream(response: StreamingHttpResponse, store: SessionStore) -> None:
    """Once the streamed body is sent (or dropped): end a session ``flush()``-ed meanwhile.

    The cookie went out with the headers; a ``flush()`` while streaming raises
    :class:`~sessionary.exceptions.SessionClosedError` and the stored session ends here.
    (A ``FileResponse`` is left alone: it may be handed to ``wsgi.file_wrapper``.)
    """
    content = response.streaming_content
    if response.is_async:
        chunks = cast(AsyncIterator[bytes], content)

        async def then_end() -> AsyncIterator[bytes]:
            try:
                async for chunk in chunks:
                    yield chunk
            finally:
                await store.aafter_response()

        response.streaming_content = then_end()
        return
    parts = cast(Iterator[bytes], content)

    def then_end_sync() -> Iterator[bytes]:
        try:
            yield from parts
        finally:
            store.after_response()

    response.streaming_content = then_end_sync()
