"""Project-level API views: the token endpoint and the API docs page."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.throttling import ScopedRateThrottle


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()


class ObtainTokenView(ObtainAuthToken):
    """`POST {"username", "password"}` → `{"token"}`; send it as `Authorization: Token …`. Throttled per client."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]

    @extend_schema(request=AuthTokenSerializer, responses={200: TokenResponseSerializer}, auth=[])
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI from the vendored sidecar assets. Its widgets set inline styles, so this page alone allows them."""

    # OPTIONS would try to render the HTML template with no page (a 500 upstream); the page only answers GET.
    http_method_names = ["get", "head"]

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY.replace(
            "style-src 'self'", "style-src 'self' 'unsafe-inline'"
        )
        return response
