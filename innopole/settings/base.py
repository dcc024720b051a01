"""Settings shared by every environment. Everything that differs between machines is read from the environment."""

import datetime
import ipaddress
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-only-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "django_celery_beat",
    "core",
    "innopole",
    "planning",
    "partners",
    "tenants",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Before anything that reads request.POST (CsrfViewMiddleware, views): an oversized body is refused unread.
    "innopole.middleware.RequestBodyLimitMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "innopole.middleware.LoginRequiredMiddleware",
    "innopole.middleware.ContentSecurityPolicyMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last: turns a sign-in that django-axes refused into the 429 answer of innopole.views.locked_out.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "innopole.urls"
WSGI_APPLICATION = "innopole.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "innopole.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
# A kept connection that the server dropped (restart, failover, idle timeout) is replaced at the next request
# instead of failing it.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default of `make run` must hold several users writing at once. A deferred transaction that
    # reads and then writes fails at once with "database is locked" when another writer holds the lock (the busy
    # timeout does not cover that upgrade); IMMEDIATE takes the write lock at BEGIN, so writers queue for up to
    # `timeout` seconds instead. WAL lets readers go on while one writer writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": env.int("SQLITE_BUSY_TIMEOUT_SECONDS", default=20),
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # The live-EOI index carries non-key columns for PostgreSQL's index-only scans (partners.models); SQLite keeps
    # the index without them, which is all the demo needs.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The roll-ups' correlated subqueries look expensive to the planner, which then spends more time JIT-compiling
    # them (~60 ms each) than running them. Off by default; DATABASE_JIT=on brings it back.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = f"-c jit={env('DATABASE_JIT', default='off')}"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Validates nothing: Django tells it of every password change, and it deletes the user's API tokens.
    {"NAME": "core.accounts.RevokeTokensOnPasswordChange"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Sign-in: who may try, from where, how often (django-axes), and API tokens ------------------------------------
# Every sign-in path (the site's, the admin's, POST /api/v1/auth/token/) goes through authenticate(); the one
# backend refuses a locked-out username before any password is checked (django-axes' check, then Django's
# ModelBackend: core.accounts.LockoutModelBackend), and axes' signal handlers count the failures. The database
# handler keeps the counts: every gunicorn process and container sees the same ones (the cache handler would count
# per process with the default local-memory cache), and AccessAttempt, AccessLog and AccessFailureLog are the audit
# of sign-ins, failures and lockouts, readable by Staff in the admin.
AUTHENTICATION_BACKENDS = ["core.accounts.LockoutModelBackend"]
# Proxies in front of the app whose X-Forwarded-For is believed: addresses or networks ("10.0.0.5,172.16.0.0/12").
# Empty (the default): the client is the peer address (REMOTE_ADDR) and X-Forwarded-For is ignored.
TRUSTED_PROXIES = [proxy.strip() for proxy in env.list("TRUSTED_PROXIES", default=[]) if proxy.strip()]
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or network (names are not resolved)."
        ) from None
# After this many failed sign-ins for one username from one client address, that username is refused from that
# address until the window has passed since the last failure. Other people behind the same address, and the same
# person from elsewhere, are not held up.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=15 * 60)
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = datetime.timedelta(seconds=LOGIN_FAILURE_WINDOW_SECONDS)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "core.accounts.lockout_username"  # NFKC + case-folded: one count for every spelling
AXES_CLIENT_IP_CALLABLE = "core.accounts.client_address"  # TRUSTED_PROXIES-aware, as the API throttle
AXES_LOCKOUT_CALLABLE = "innopole.views.locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_VERBOSE = False
# API tokens: refused (401) this many hours after they were issued; deleted when the password changes.
API_TOKEN_TTL_HOURS = env.int("API_TOKEN_TTL_HOURS", default=30 * 24)
# Password-reset e-mails: at most this many per window for one address, and as many for one client.
PASSWORD_RESET_LIMIT = env.int("PASSWORD_RESET_LIMIT", default=3)
PASSWORD_RESET_WINDOW_SECONDS = env.int("PASSWORD_RESET_WINDOW_SECONDS", default=60 * 60)

# Internationalisation: English (British spelling in the UI) and Traditional Chinese.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hant", _("Traditional Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Our format modules (innopole/formats/<locale>/formats.py) override Django's: British dates in English, a comma
# as thousands separator in Traditional Chinese too.
FORMAT_MODULE_PATH = ["innopole.formats"]
# Group thousands wherever Django shows a number (admin columns and read-only fields, `{{ value }}` in templates):
# "30,000.00", not "30000.00". A number that is not a quantity (an id or version in a hand-built URL or hidden
# input) is written with `|unlocalize`; `{% url %}` and form widgets never group.
USE_THOUSAND_SEPARATOR = True
TIME_ZONE = "Asia/Hong_Kong"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Every date a person enters lies in this range (core.models.TimeStampedModel.clean_fields).
DATE_EARLIEST = datetime.date.fromisoformat(env("DATE_EARLIEST", default="1990-01-01"))
DATE_LATEST = datetime.date.fromisoformat(env("DATE_LATEST", default="2100-12-31"))

# Attachments (partners.uploads): per file, per EOI, and what an Office file (a ZIP archive) may expand to.
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
ATTACHMENTS_PER_EOI = env.int("ATTACHMENTS_PER_EOI", default=20)
ATTACHMENTS_TOTAL_BYTES_PER_EOI = env.int("ATTACHMENTS_TOTAL_BYTES_PER_EOI", default=50 * 1024 * 1024)
OFFICE_MAX_EXPANDED_BYTES = env.int("OFFICE_MAX_EXPANDED_BYTES", default=100 * 1024 * 1024)
OFFICE_MAX_COMPRESSION_RATIO = env.int("OFFICE_MAX_COMPRESSION_RATIO", default=200)
OFFICE_MAX_MEMBERS = env.int("OFFICE_MAX_MEMBERS", default=2000)

# Request bodies (innopole.middleware.RequestBodyLimitMiddleware): a body over its route's limit is answered 413
# before it is read. Pages' forms are small; sign-in and token requests tiny; the API and the admin carry parcel
# geometry; the upload route one attachment plus the form around it.
REQUEST_BODY_LIMIT_BYTES = env.int("REQUEST_BODY_LIMIT_BYTES", default=256 * 1024)
REQUEST_BODY_LIMIT_SIGN_IN_BYTES = env.int("REQUEST_BODY_LIMIT_SIGN_IN_BYTES", default=8 * 1024)
REQUEST_BODY_LIMIT_DATA_BYTES = env.int("REQUEST_BODY_LIMIT_DATA_BYTES", default=2_621_440)
REQUEST_BODY_LIMIT_UPLOAD_BYTES = ATTACHMENT_MAX_BYTES + 256 * 1024
# Parcel import (POST /api/v1/parcels/import/ and the /plan/import/ page): the largest GeoJSON file (the API's whole
# body) and the most features one file may have; the route's body limit leaves room for the form around the file.
PARCEL_IMPORT_MAX_BYTES = env.int("PARCEL_IMPORT_MAX_BYTES", default=8 * 1024 * 1024)
PARCEL_IMPORT_MAX_FEATURES = env.int("PARCEL_IMPORT_MAX_FEATURES", default=2000)
REQUEST_BODY_LIMIT_IMPORT_BYTES = PARCEL_IMPORT_MAX_BYTES + 256 * 1024
# Django's own ceiling on a body read into memory (DRF reads JSON bodies whole): the middleware above bounds each
# route first, so this only has to let the largest JSON body through, the import's.
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_BODY_LIMIT_IMPORT_BYTES
REQUEST_BODY_LIMITS_BY_ROUTE = {
    # URL name → bytes, or the name of the setting that holds them
    "login": "REQUEST_BODY_LIMIT_SIGN_IN_BYTES",
    "admin:login": "REQUEST_BODY_LIMIT_SIGN_IN_BYTES",
    "api-token": "REQUEST_BODY_LIMIT_SIGN_IN_BYTES",
    "logout": "REQUEST_BODY_LIMIT_SIGN_IN_BYTES",
    "password_change": "REQUEST_BODY_LIMIT_SIGN_IN_BYTES",
    "password_reset": "REQUEST_BODY_LIMIT_SIGN_IN_BYTES",
    "password_reset_confirm": "REQUEST_BODY_LIMIT_SIGN_IN_BYTES",
    "set_language": "REQUEST_BODY_LIMIT_SIGN_IN_BYTES",
    "partners:invitation-accept": "REQUEST_BODY_LIMIT_SIGN_IN_BYTES",
    "partners:attachment-add": "REQUEST_BODY_LIMIT_UPLOAD_BYTES",
    "parcel-import": "REQUEST_BODY_LIMIT_IMPORT_BYTES",
    "planning:parcel-import": "REQUEST_BODY_LIMIT_IMPORT_BYTES",
}
REQUEST_BODY_LIMITS_BY_PATH = {"/api/": REQUEST_BODY_LIMIT_DATA_BYTES, "/admin/": REQUEST_BODY_LIMIT_DATA_BYTES}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the cookie-less meta tag; the cookie stays JS-free anyway
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Content Security Policy: every asset is served from our own origin.
CONTENT_SECURITY_POLICY = env(
    "CONTENT_SECURITY_POLICY",
    default=(
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.permissions.PlanReadOrPlannerWrite"],
    # JSON bodies only (415 for anything else), nesting capped: see innopole/parsers.py.
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONOnlyParser"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"auth": env("AUTH_THROTTLE_RATE", default="10/min")},
    # DRF's own client identification trusts X-Forwarded-For when this is unset; 0 makes it the peer address. The
    # token endpoint's throttle resolves the client through TRUSTED_PROXIES (core.accounts.client_address).
    "NUM_PROXIES": 0,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "COERCE_DECIMAL_TO_STRING": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "INNOPOLE Campus Planner API",
    "DESCRIPTION": "Phases, parcels, facilities, milestones and utility capacity of HKSTP's INNOPOLE campus.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "CriterionStateEnum": ["pass", "at_risk", "fail"],
        "ReadinessStateEnum": "planning.models.ReadinessSnapshot.State",
        "ScheduleItemKindEnum": "planning.models.ScheduleItem.Kind",
        # GeoJSON's `type` members: one enum per object kind, instead of names drf-spectacular would hash.
        "GeoJSONFeatureTypeEnum": ["Feature"],
        "GeoJSONFeatureCollectionTypeEnum": ["FeatureCollection"],
    },
}

# Celery: Redis in every real deployment; with no broker configured, tasks run in-process (make run).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=env("REDIS_URL", default=""))
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# visibility_timeout: a task taken by a worker that dies before acknowledging it (acks_late) goes back to the queue
# once it has been unacknowledged this many seconds (checked when a worker starts, then about every 100 s).
# Keep it above the longest task, or a task still running is delivered a second time. Kombu's default (one hour)
# is kept; the readiness sweep catches a phase whose recompute was lost sooner than that. The worker test sets seconds.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Beat copies these into django-celery-beat's tables at start; staff can change them in the admin afterwards.
CELERY_BEAT_SCHEDULE = {
    "readiness-sweep-stale": {
        "task": "planning.tasks.sweep_stale_readiness",
        "schedule": env.float("READINESS_SWEEP_SECONDS", default=60.0),
    },
    "readiness-recompute-all-nightly": {
        "task": "planning.tasks.recompute_all_readiness",
        "schedule": crontab(hour=2, minute=30),
    },
}
CELERY_TIMEZONE = TIME_ZONE

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="INNOPOLE Campus Planner <no-reply@innopole.invalid>")
# Invitation e-mails (new or resent) an organisation's admins may send per hour; staff are not limited.
PARTNER_INVITATIONS_PER_HOUR = env.int("PARTNER_INVITATIONS_PER_HOUR", default=10)

# The map works with no basemap; a tile URL (with its attribution) switches one on.
BASEMAP_TILE_URL = env("BASEMAP_TILE_URL", default="")
BASEMAP_ATTRIBUTION = env("BASEMAP_ATTRIBUTION", default="")

# History is for reading: a revert would bypass the services' rules (and their change detection).
SIMPLE_HISTORY_REVERT_DISABLED = True

DEMO_DATA_PATH = BASE_DIR / "data" / "innopole-demo.json"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
