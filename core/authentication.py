"""API authentication: DRF tokens that expire (settings.API_TOKEN_TTL_HOURS).

Kept apart from the API views: DRF imports the authentication classes named in its settings while it defines
APIView itself, so this module must not import any view.
"""

import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed


def token_expired(token) -> bool:
    return token.created <= timezone.now() - datetime.timedelta(hours=settings.API_TOKEN_TTL_HOURS)


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token …`, refused with 401 once the token is older than API_TOKEN_TTL_HOURS.

    An expired token is deleted on first use; the client asks for a new one with its username and password.
    """

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if token_expired(token):
            token.delete()
            raise AuthenticationFailed(
                _("This token has expired. Ask for a new one with POST /api/v1/auth/token/."), code="token_expired"
            )
        return user, token
