"""Run the Django example: sign in, bump a counter, sign out.

From the repository root (after ``pip install -e ".[django]"``)::

    python examples/django_app/manage.py runserver

and try it from another shell (curl keeps the ``Secure`` cookie for ``localhost``)::

    curl -c jar -b jar -X POST 'http://localhost:8000/login?user=ada'
    curl -c jar -b jar -X POST http://localhost:8000/count
    curl -c jar -b jar http://localhost:8000/me
    curl -c jar -b jar -X POST http://localhost:8000/logout

``SESSIONARY_STORE`` selects the store (``memory`` by default, or a ``redis://`` URL, with
``SESSIONARY_PREFIX`` as the key prefix) and ``SESSION_SECRET`` the signing secret (a random
one is generated, with a notice, if unset; sessions then end when the process restarts).
Browsers accept the ``__Host-session; Secure`` cookie from ``http://localhost``.
Under ASGI: ``uvicorn examples.django_app.asgi:application`` (the middleware runs async).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    """Django's command line, for this project."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")
    from django.core.management import execute_from_command_line  # noqa: PLC0415

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
