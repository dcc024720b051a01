"""Production: everything secret or site-specific comes from the environment; HTTPS only."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

# Keys that stand in this repository (the local default, examples, the old compose fallback) are public: a
# deployment signing sessions and password-reset links with one of them can be forged by anyone who reads the repo.
PLACEHOLDER_SECRET_KEY_MARKERS = ("insecure", "change-me", "changeme", "compose-local-only", "placeholder")

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
if any(marker in SECRET_KEY.lower() for marker in PLACEHOLDER_SECRET_KEY_MARKERS):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is a placeholder from the repository. Generate a real one with "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'` and set it in the environment."
    )
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

STORAGES = {
    "default": {"BACKEND": env("DJANGO_DEFAULT_STORAGE", default="django.core.files.storage.FileSystemStorage")},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
