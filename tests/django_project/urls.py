"""The standard conformance application as Django views (plus auth views for tests)."""

from __future__ import annotations

from typing import cast

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from sessionary.integrations.django import SessionStore
from sessionary.sansio.session import Session
from tests.conformance.drivers.wsgi import standard_view


def _session(request: HttpRequest) -> Session:
    return cast(SessionStore, request.session).sessionary


@csrf_exempt
def standard(request: HttpRequest, name: str) -> HttpResponse:
    """Every route of the standard application."""
    result = standard_view(f"/{name}", request.GET.dict(), lambda: _session(request))
    if result is None:
        raise Http404
    return JsonResponse(result)


@csrf_exempt
def django_api(request: HttpRequest, action: str) -> HttpResponse:
    """Django's own session API through ``request.session`` (SessionBase methods)."""
    session = request.session
    if action == "set":
        for key, value in request.GET.items():
            session[key] = value
    elif action == "cycle":
        session.cycle_key()
    elif action == "flush":
        session.flush()
    elif action == "expiry":
        session.set_expiry(int(request.GET["seconds"]))
    return JsonResponse(
        {
            "data": {k: session[k] for k in session.keys()},  # noqa: SIM118 - SessionBase API
            "key_set": session.session_key is not None,
            "expire_at_browser_close": session.get_expire_at_browser_close(),
        }
    )


@csrf_exempt
def auth_view(request: HttpRequest, action: str) -> HttpResponse:
    """``django.contrib.auth`` login/logout and the signed-in user."""
    from django.contrib import auth  # noqa: PLC0415 - needs the app registry
    from django.contrib.auth.models import User  # noqa: PLC0415

    if action == "login":
        user = User.objects.get(username=request.GET["user"])
        auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    elif action == "logout":
        auth.logout(request)
    user = request.user if hasattr(request, "user") else None
    name = user.get_username() if user is not None and user.is_authenticated else None
    return JsonResponse({"user": name})


urlpatterns = [
    path("auth/<str:action>", auth_view),
    path("django/<str:action>", django_api),
    path("<str:name>", standard),
]
