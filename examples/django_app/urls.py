"""Sign in, count, sign out: Django views using ``request.session``."""

from __future__ import annotations

from typing import cast

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sessionary.integrations.django import SessionStore


def _session(request: HttpRequest) -> SessionStore:
    return cast(SessionStore, request.session)


@csrf_exempt
@require_POST
def login(request: HttpRequest) -> HttpResponse:
    """Sign in as ``?user=`` (a real app uses ``django.contrib.auth``)."""
    _session(request).sessionary.login(request.GET["user"])
    return JsonResponse({"user": _session(request).sessionary.user_id})


@csrf_exempt
@require_POST
def count(request: HttpRequest) -> HttpResponse:
    """Add one to the signed-in user's counter."""
    session = _session(request)
    if session.sessionary.user_id is None:
        return JsonResponse({"error": "sign in first"}, status=401)
    session["count"] = session.get("count", 0) + 1
    return JsonResponse({"count": session["count"]})


def me(request: HttpRequest) -> HttpResponse:
    """Who is signed in, and their count."""
    session = _session(request)
    return JsonResponse({"user": session.sessionary.user_id, "count": session.get("count", 0)})


@csrf_exempt
@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """End the session (``request.session.flush()``, as ``auth.logout`` does)."""
    request.session.flush()
    return JsonResponse({"ok": True})


urlpatterns = [
    path("login", login),
    path("count", count),
    path("me", me),
    path("logout", logout),
]
