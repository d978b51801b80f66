"""Configure Django once per test process (Django settings cannot be configured twice)."""

from __future__ import annotations

import secrets

import django
from django.conf import settings


def ensure_django() -> None:
    """Configure settings and set Django up, once."""
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=["testserver", "localhost"],
        ROOT_URLCONF="tests.django_project.urls",
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        MIDDLEWARE=[
            "sessionary.integrations.django.SessionMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
        ],
        SESSION_ENGINE="sessionary.integrations.django",
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        USE_TZ=True,
        LOGGING_CONFIG=None,
    )
    django.setup()
