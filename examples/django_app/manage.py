"""Run the example Django project.

From the repository root::

    python examples/django_app/manage.py runserver 8003

``SESSIONARY_STORE`` picks the store (``memory`` or ``redis://…``), ``SESSION_SECRET`` the
secret.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
