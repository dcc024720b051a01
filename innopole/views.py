"""Project-level views: sign-in with throttling, where `/` sends each role, and the health check."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .celery import app as celery_app
from .roles import HOME_BY_ROLE, has_role


class SignInView(LoginView):
    """Django's sign-in, refusing further tries for a while after too many failures for a username or an address.

    Counts live in the cache (Redis in production, so all web processes share them).
    """

    redirect_authenticated_user = True

    def _keys(self) -> list[tuple[str, int]]:
        username = (self.request.POST.get("username") or "").strip().lower()[:150]
        address = self.request.META.get("REMOTE_ADDR", "")
        return [
            (f"signin-failures:user:{username}", settings.LOGIN_FAILURE_LIMIT),
            (f"signin-failures:address:{address}", settings.LOGIN_FAILURE_LIMIT * 4),
        ]

    def _blocked(self) -> bool:
        return any((cache.get(key) or 0) >= limit for key, limit in self._keys())

    def post(self, request, *args, **kwargs):
        if self._blocked():
            # Refused before the password is even checked; the username stays in the form.
            form = self.get_form_class()(request, initial={"username": request.POST.get("username", "")})
            minutes = settings.LOGIN_FAILURE_WINDOW_SECONDS // 60
            message = ngettext(
                "Too many failed sign-in attempts. Wait %(minutes)s minute and try again.",
                "Too many failed sign-in attempts. Wait %(minutes)s minutes and try again.",
                minutes,
            ) % {"minutes": minutes}
            return self.render_to_response(self.get_context_data(form=form, throttled=message), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        for key, _limit in self._keys():
            cache.add(key, 0, settings.LOGIN_FAILURE_WINDOW_SECONDS)
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, settings.LOGIN_FAILURE_WINDOW_SECONDS)
        return super().form_invalid(form)

    def form_valid(self, form):
        cache.delete(self._keys()[0][0])
        return super().form_valid(form)


def home(request):
    """Each role to its place; a signed-in user with no role yet is told whom to ask."""
    for role, url_name in HOME_BY_ROLE:
        if has_role(request.user, role):
            return redirect(url_name)
    return render(request, "no_role.html", {"title": _("No access yet")})


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


def _last_sweep() -> dict | None:
    """When the periodic readiness recomputes last finished (planning.tasks), or None before the first."""
    from planning.models import ReadinessSweep

    sweeps = {s.kind: s for s in ReadinessSweep.objects.all()}
    if not sweeps:
        return None
    latest = max(sweeps.values(), key=lambda sweep: sweep.finished_at)
    return {
        "finished_at": latest.finished_at.isoformat(),
        "kind": latest.kind,
        "stale_phases": _stale_phases(),
    }


def _stale_phases() -> int:
    from planning.models import Phase

    return Phase.objects.filter(readiness_stale=True).count()


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
        "last_readiness_sweep": _last_sweep() if database["status"] == "ok" else None,
    }
    return JsonResponse(body, status=200 if database["status"] == "ok" else 503)
