"""Root URLs: pages per role, the admin, the API (`/api/v1/`) with its schema and docs, health."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from dashboard import views as dashboard_views
from dashboard.api import DashboardView
from partners.api.urls import routes as partner_routes
from planning.api.urls import routes as planning_routes
from tenants.api.urls import routes as tenant_routes

from . import views
from .api_views import ApiDocsView, ObtainTokenView

# No `.json` suffix routes: one URL per resource; `?format=` or the Accept header choose the renderer.
router = DefaultRouter()
router.include_format_suffixes = False
for prefix, viewset, basename in [*planning_routes, *partner_routes, *tenant_routes]:
    router.register(prefix, viewset, basename=basename)

admin.site.site_header = _("INNOPOLE Campus Planner")
admin.site.site_title = "INNOPOLE"


@login_not_required
def favicon(request):
    """Browsers (and the admin's pages, which do not link an icon) ask for /favicon.ico: send them to ours."""
    response = HttpResponseRedirect(static("favicon.svg"))
    response["Cache-Control"] = "public, max-age=86400"
    return response


urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", favicon, name="favicon"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", views.SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Every role changes its own password, or resets it by e-mail (Django's views, our templates).
    path("accounts/password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password_change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("accounts/password_reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password_reset/done/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("accounts/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("admin/", admin.site.urls),
    path("api/v1/auth/token/", ObtainTokenView.as_view(), name="api-token"),
    path("api/v1/dashboard/", DashboardView.as_view(), name="api-dashboard"),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("planning.urls")),
    path("portal/", include("partners.urls")),
    path("dashboard/", include((dashboard_views.urlpatterns, "dashboard"))),
]

# Uploaded files are never served from MEDIA_URL, not even with DEBUG on: the download view
# (partners:attachment-download) is the only way to a file, because it checks who may have it.
