"""Settings for pytest: PostgreSQL from DATABASE_URL (scripts/with_postgres.py provides one when unset)."""

from .base import *  # noqa: F403
from .base import REST_FRAMEWORK, env

if not env("DATABASE_URL", default=""):
    raise RuntimeError("Tests run on PostgreSQL: set DATABASE_URL, or run them through `make test`.")

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "1000/min"}}

# Static files straight from the app folders, as in development (no collectstatic before tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
