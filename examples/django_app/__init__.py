"""A minimal Django project on sessionary (see ``manage.py`` for how to run it)."""
