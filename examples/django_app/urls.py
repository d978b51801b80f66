"""Views of the Django example: JSON, like ``examples/fastapi_app.py``.

The session cookie is ``SameSite=Lax``, so browsers do not send it with cross-site POSTs; an
application serving HTML forms adds Django's ``CsrfViewMiddleware`` as usual.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from sessionary.integrations.django import get_session


@require_POST
def login(request: HttpRequest) -> HttpResponse:
    """Sign in as ``?user=`` (a real application checks a password first)."""
    user = request.GET.get("user")
    if not user:
        return JsonResponse({"error": "?user= is missing"}, status=400)
    session = get_session(request)
    session.login(user)  # rotates the session ID and records the user
    return JsonResponse({"user": session.user_id})


@require_POST
def count(request: HttpRequest) -> HttpResponse:
    """Add one to the signed-in user's counter."""
    session = get_session(request)
    if session.user_id is None:
        return JsonResponse({"error": "sign in first"}, status=401)
    session["count"] = session.get("count", 0) + 1
    return JsonResponse({"count": session["count"]})


@require_GET
def me(request: HttpRequest) -> HttpResponse:
    """Who is signed in (``null``: nobody), and their counter."""
    session = get_session(request)
    return JsonResponse({"user": session.user_id, "count": session.get("count", 0)})


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Sign out: the session is destroyed and the cookie cleared."""
    request.session.flush()
    return JsonResponse({"ok": True})


urlpatterns = [
    path("login", login),
    path("count", count),
    path("me", me),
    path("logout", logout),
]
