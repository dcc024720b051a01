"""Project-level views: sign-in and its lockout answer, password reset, where `/` sends each role, the health check."""

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.accounts import client_address, username_key
from core.roles import HOME_BY_ROLE, has_role

from .celery import app as celery_app


def lockout_message(request=None) -> str:
    """What a locked-out person reads: how long to wait (the cool-off runs from the last failure)."""
    minutes = max(1, round(get_cool_off(request).total_seconds() / 60))
    return ngettext(
        "Too many failed sign-in attempts. Wait %(minutes)s minute and try again.",
        "Too many failed sign-in attempts. Wait %(minutes)s minutes and try again.",
        minutes,
    ) % {"minutes": minutes}


def locked_out(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the answer, 429, to a sign-in refused because its username is locked from this address.

    django-axes counts every call of `authenticate()` (the site's sign-in, the admin's, the API token endpoint) and
    flags the request; its middleware then replaces the view's answer with this one. The API gets JSON; a page gets
    the sign-in form again with the message and the username kept.
    """
    message = lockout_message(request)
    retry_after = str(int(get_cool_off(request).total_seconds()))
    if request.path_info.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=429)
    else:
        username = (credentials or {}).get("username") or request.POST.get("username", "")
        next_url = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, require_https=request.is_secure()):
            next_url = ""
        context = {
            "form": AuthenticationForm(request, initial={"username": username}),
            "throttled": message,
            "next": next_url,
            "title": _("Sign in"),
        }
        response = TemplateResponse(request, "registration/login.html", context, status=429).render()
    response["Retry-After"] = retry_after
    return response


class SignInView(LoginView):
    """Django's sign-in. Failures are counted, and a locked username refused, by django-axes (see `locked_out`)."""

    redirect_authenticated_user = True


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset request, with a cap on the e-mails one address or one client can set off.

    The answer is the same "check your inbox" page whether a mail went out, the address is unknown or the cap was
    reached: the page tells nobody which addresses have accounts, and nobody can use it to flood an inbox.
    """

    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"

    def form_valid(self, form):
        keys = [
            f"password-reset:address:{client_address(self.request)}",
            f"password-reset:email:{form.cleaned_data['email'].strip().casefold()}",
        ]
        window = settings.PASSWORD_RESET_WINDOW_SECONDS
        sent = []
        for key in keys:
            cache.add(key, 0, window)
            try:
                sent.append(cache.incr(key))
            except ValueError:  # expired between add and incr
                cache.set(key, 1, window)
                sent.append(1)
        if max(sent) > settings.PASSWORD_RESET_LIMIT:
            return redirect(self.get_success_url())
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's reset confirmation; a reset also lifts the account's sign-in lockout (the person proved who they
    are through their e-mail). API tokens go with the old password (accounts.RevokeTokensOnPasswordChange)."""

    def form_valid(self, form):
        response = super().form_valid(form)
        AxesProxyHandler.reset_attempts(username=username_key(form.user.get_username()))
        return response


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
