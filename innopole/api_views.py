"""Project-level API views: the token endpoint (issue and revoke) and the API docs page."""

import copy

from django.conf import settings
from django.contrib.auth import authenticate, user_logged_in
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from core.accounts import client_address, username_clean
from core.authentication import token_expired
from core.parsers import JSONOnlyParser

from .views import locked_out


class ClientAddressScopedRateThrottle(ScopedRateThrottle):
    """DRF's scoped throttle, keyed on the client address resolved through `TRUSTED_PROXIES` (never on a header the
    client could write itself, security H1)."""

    def get_ident(self, request):
        return client_address(request)


class SignInSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()


_TOO_MANY = inline_serializer("TooManyRequests", fields={"detail": serializers.CharField()})
_TOKEN_400 = inline_serializer(
    "SignInError",
    fields={
        "username": serializers.ListField(child=serializers.CharField(), required=False),
        "password": serializers.ListField(child=serializers.CharField(), required=False),
        "non_field_errors": serializers.ListField(child=serializers.CharField(), required=False),
    },
)


class ObtainTokenView(APIView):
    """`POST {"username", "password"}` → `{"token"}`; send it as `Authorization: Token …`. `DELETE` revokes it.

    Sign-in goes through `authenticate()` with the request, so django-axes counts it with the site's and the admin's
    sign-ins: a username locked from this address is refused with 429 here too. The endpoint is also throttled per
    client address (`AUTH_THROTTLE_RATE`). A token expires after `API_TOKEN_TTL_HOURS` and goes with a password
    change.
    """

    throttle_classes = [ClientAddressScopedRateThrottle]
    throttle_scope = "auth"
    parser_classes = [JSONOnlyParser]  # JSON bodies only, documented as such
    renderer_classes = [JSONRenderer]

    def get_permissions(self):
        if self.request.method == "DELETE":
            return [IsAuthenticated()]
        return [AllowAny()]

    @extend_schema(
        request=SignInSerializer,
        responses={
            200: TokenResponseSerializer,
            400: OpenApiResponse(
                _TOKEN_400,
                description="A field is missing or too long, or the username and password do not match an account.",
                examples=[
                    OpenApiExample(
                        "Wrong password",
                        value={"non_field_errors": ["Unable to log in with provided credentials."]},
                        response_only=True,
                    )
                ],
            ),
            429: OpenApiResponse(
                _TOO_MANY,
                description=(
                    "Too many requests from this address, or too many failed sign-ins for this username from this "
                    "address; the `Retry-After` header says after how many seconds to try again."
                ),
            ),
        },
        auth=[],
    )
    def post(self, request, *args, **kwargs):
        serializer = SignInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        http_request = request._request  # django-axes reads and flags Django's request, not DRF's wrapper
        user = authenticate(
            http_request,
            username=username_clean(serializer.validated_data["username"]),
            password=serializer.validated_data["password"],
        )
        if getattr(http_request, "axes_locked_out", False):
            return locked_out(http_request)
        if user is None:
            raise serializers.ValidationError(
                {"non_field_errors": [_("Unable to log in with provided credentials.")]}, code="authorization"
            )
        token, _created = Token.objects.get_or_create(user=user)
        if token_expired(token):
            token.delete()
            token = Token.objects.create(user=user)
        # Audited like a sign-in on a page (axes' AccessLog, last_login), without opening a session for it.
        audit_request = copy.copy(http_request)
        audit_request.__dict__.pop("session", None)
        user_logged_in.send(sender=user.__class__, request=audit_request, user=user)
        return Response({"token": token.key})

    @extend_schema(request=None, responses={204: OpenApiResponse(description="The caller's token is deleted.")})
    def delete(self, request, *args, **kwargs):
        """Revoke the caller's token (every client that uses it must sign in again)."""
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


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
