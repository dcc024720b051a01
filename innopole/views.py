"""Project-level views: where `/` sends each role, and the health check."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .celery import app as celery_app
from .roles import HOME_BY_ROLE, has_role


def home(request):
    """Each role to its place; a signed-in user with no role gets the plan's read-only pages."""
    for role, url_name in HOME_BY_ROLE:
        if has_role(request.user, role):
            return redirect(url_name)
    return redirect("planning:dashboard")


def _database_state() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any failure to answer is "down", whatever the driver raises
        return {"status": "error", "detail": error.__class__.__name__}
    return {"status": "ok", "vendor": connection.vendor}


def _broker_state() -> dict:
    if not settings.CELERY_BROKER_URL:
        return {"status": "not_configured", "detail": "Tasks run in-process (no broker URL set)."}
    try:
        with celery_app.connection_for_write(url=settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as error:  # kombu raises several families of errors for an unreachable broker
        return {"status": "error", "detail": error.__class__.__name__}
    return {"status": "ok"}


@login_not_required
@never_cache
@require_GET
def healthz(request):
    """200 when the database answers, else 503; the broker's state is reported but does not fail the check."""
    database = _database_state()
    body = {
        "status": "ok" if database["status"] == "ok" else "error",
        "database": database,
        "broker": _broker_state(),
        "last_readiness_sweep": None,
    }
    return JsonResponse(body, status=200 if database["status"] == "ok" else 503)
