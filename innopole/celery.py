"""The Celery app. Configuration comes from Django settings (CELERY_*); tasks are discovered in each app."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "innopole.settings.local")

app = Celery("innopole")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
