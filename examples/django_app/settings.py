"""Settings of the example Django project: sessionary as the session engine."""

from __future__ import annotations

from examples._common import secret, store_url

SECRET_KEY = secret()
DEBUG = True
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
ROOT_URLCONF = "examples.django_app.urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.sessions"]
DATABASES: dict[str, dict[str, str]] = {}
MIDDLEWARE = ["sessionary.integrations.django.SessionMiddleware"]
SESSION_ENGINE = "sessionary.integrations.django"
SESSIONARY = {"STORE_URL": store_url()}
USE_TZ = True
