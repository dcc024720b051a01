"""Root URLs: pages per role, the admin, the API (`/api/v1/`) with its schema and docs, health."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from partners.api.urls import routes as partner_routes
from planning.api.urls import routes as planning_routes
from tenants.api.urls import routes as tenant_routes

from . import views
from .api_views import ApiDocsView, ObtainTokenView

router = DefaultRouter()
for prefix, viewset, basename in [*planning_routes, *partner_routes, *tenant_routes]:
    router.register(prefix, viewset, basename=basename)

admin.site.site_header = _("INNOPOLE Campus Planner")
admin.site.site_title = "INNOPOLE"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", views.SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("admin/", admin.site.urls),
    path("api/v1/auth/token/", ObtainTokenView.as_view(), name="api-token"),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("planning.urls")),
    path("portal/", include("partners.urls")),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
