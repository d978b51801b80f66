"""A minimal Django project on sessionary: sign in, count, sign out (see ``manage.py``)."""
