"""Settings of the Django example (see ``manage.py`` for how to run it)."""

from __future__ import annotations

import os

from examples._common import secret, store_url

SECRET_KEY = secret()  # sessionary signs session IDs with it (SECRET_KEY_FALLBACKS rotate)
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]
ROOT_URLCONF = "examples.django_app.urls"
INSTALLED_APPS = ["django.contrib.sessions"]  # for ``manage.py clearsessions``; no database
MIDDLEWARE = ["sessionary.integrations.django.SessionMiddleware"]
SESSION_ENGINE = "sessionary.integrations.django"
SESSIONARY = {
    "STORE_URL": store_url(),
    "PREFIX": os.environ.get("SESSIONARY_PREFIX", "sessionary"),
}
USE_TZ = True
