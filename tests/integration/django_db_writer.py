"""Write Django ``db`` sessions with Django's own ``SessionStore`` into the database at a URL.

Run in a subprocess (Django's settings are process-global and the test process already has
its own): ``python -m tests.integration.django_db_writer URL COUNT``, the old secret in
``$OLD_DJANGO_SECRET``. It creates the session table (Django's model), saves ``COUNT``
sessions signed in as users ``0..COUNT-1`` with a 600 s expiry, and one already expired; it
prints ``{"keys": [...], "expired": key}`` as JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from urllib.parse import unquote, urlsplit


def database(url: str) -> dict[str, object]:
    """Django's ``DATABASES["default"]`` for a ``postgresql://`` or ``sqlite:///`` URL."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": unquote(parts.path)[1:]}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


def main(url: str, count: int) -> None:
    """Configure Django on ``url`` and write the sessions (see the module doc)."""
    import django  # noqa: PLC0415
    from django.conf import settings  # noqa: PLC0415

    settings.configure(
        SECRET_KEY=os.environ["OLD_DJANGO_SECRET"],
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.sessions"],
        DATABASES={"default": database(url)},
        SESSION_ENGINE="django.contrib.sessions.backends.db",
        USE_TZ=True,
    )
    django.setup()
    from django.contrib.sessions.backends.db import SessionStore  # noqa: PLC0415
    from django.contrib.sessions.models import Session  # noqa: PLC0415
    from django.db import connection  # noqa: PLC0415
    from django.utils import timezone  # noqa: PLC0415

    if Session._meta.db_table not in connection.introspection.table_names():
        with connection.schema_editor() as editor:
            editor.create_model(Session)
    keys = []
    for n in range(count + 1):
        session = SessionStore()
        session.update({"_auth_user_id": str(n), "cart": [n, "€"]})
        session.set_expiry(600)
        session.save()
        keys.append(session.session_key)
    expired = keys.pop()
    past = timezone.now() - dt.timedelta(hours=1)
    Session.objects.filter(session_key=expired).update(expire_date=past)
    print(json.dumps({"keys": keys, "expired": expired}))  # the test reads it


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
