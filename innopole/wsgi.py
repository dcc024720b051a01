"""WSGI entry point (gunicorn innopole.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "innopole.settings.production")

application = get_wsgi_application()
