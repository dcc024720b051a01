# The image of the web, worker and beat services (see docker-compose.yml).
#   docker compose build        # or: docker build -t innopole-campus-planner .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=innopole.settings.production

# gettext compiles the Traditional Chinese catalogue; every Python dependency installs from wheels.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first (pyproject.toml lists them; the project itself is run from /app, not installed as a package),
# so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN pip install .

COPY . .

# Static files are collected into the image and served by WhiteNoise; message catalogues are compiled when any
# exist. The secret and host below exist only for these build steps: the real ones come from the environment.
RUN export DJANGO_SECRET_KEY=build-only-not-a-secret DJANGO_ALLOWED_HOSTS=localhost \
    && if find locale -name '*.po' | grep -q .; then python manage.py compilemessages; fi \
    && python manage.py collectstatic --noinput

# An unprivileged user runs the app; uploads (MEDIA_ROOT) go to /app/media, a volume in docker-compose.yml.
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home innopole \
    && mkdir -p /app/media \
    && chown innopole:innopole /app/media
USER innopole

EXPOSE 8000
CMD ["gunicorn", "innopole.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
